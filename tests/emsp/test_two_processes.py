"""Two served eMSP processes on one PostgreSQL database serve the same partner correctly.

Both drain the shared outbox (rows claimed with FOR UPDATE SKIP LOCKED): every CDR is invoiced once
and every handler effect applied once (the in-memory CDR counters of both processes add up to the
number of CDRs). A partner unregistered through one process is refused by the other at once,
although the other had its token cached (LISTEN/NOTIFY). Skipped without PostgreSQL.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from emsp_helpers import auth, cdr, location, session, tariff
from test_crash import Service, _send, _wait_until_billed, versions_url  # noqa: F401 (a fixture)

SESSIONS = 12


def _cdrs_counted(service: Service) -> int:
    admin = {"Authorization": "Bearer crash-admin"}  # /metrics wants a token: it names partners
    text = httpx.get(service.base.replace("/ocpi/2.2.1", "/metrics"), headers=admin, timeout=5).text
    found = re.search(r'emsp_cdrs_received_total\{partner="cpo1"\} (\d+)', text)
    return int(found.group(1)) if found else 0


@pytest.mark.slow
# One worker runs the tests that start eMSP server processes, one after another; they need no
# real-time clock, so they run beside the live runtime's group rather than after it.
@pytest.mark.xdist_group("servers")
def test_two_processes_share_partners_outbox_and_credentials(
    pg_schema: str,
    tmp_path: Path,
    versions_url: str,  # noqa: F811 (the fixture imported above)
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = Service(pg_schema, tmp_path / "a", versions_url), Service(pg_schema, tmp_path / "b", versions_url)
    a.start()  # cpo1 registers through it
    b.token = a.token  # the same partner, registered once in the shared database
    b.start()
    try:
        assert a.token == b.token
        pushes = [("PUT", "locations/DE/CPA/LOC1", location()), ("PUT", "tariffs/DE/CPA/TAR1", tariff())]
        for i in range(SESSIONS):
            sid, cid = f"S{i:03d}", f"C{i:03d}"
            pushes.append(("PUT", f"sessions/DE/CPA/{sid}", session(sid)))
            done = {"status": "COMPLETED", "kwh": 10.5, "last_updated": "2025-03-01T10:00:00Z"}
            pushes.append(("PATCH", f"sessions/DE/CPA/{sid}", done))
            pushes.append(("POST", "cdrs", cdr(cid, session_id=sid)))
        for n, request in enumerate(pushes):  # alternate: each process sees half of every session
            assert _send(a if n % 2 else b, *request)
        cdrs, lines, unfinished = _wait_until_billed(pg_schema, expected=SESSIONS)
        assert cdrs == SESSIONS and unfinished == 0
        assert lines == {f"C{i:03d}": 1 for i in range(SESSIONS)}
        assert _cdrs_counted(a) + _cdrs_counted(b) == SESSIONS  # each CDR's handlers ran once in all

        assert httpx.get(f"{b.base}/credentials", headers=auth(b.token), timeout=5).status_code == 200
        gone = httpx.delete(f"{a.base}/credentials", headers=auth(a.token), timeout=5)
        assert gone.status_code == 200, gone.text
        deadline = time.monotonic() + 5
        while True:  # the notification reaches B a moment after A's commit
            status = httpx.get(f"{b.base}/credentials", headers=auth(b.token), timeout=5).status_code
            if status == 401 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert status == 401
    finally:
        a.kill()
        b.kill()
