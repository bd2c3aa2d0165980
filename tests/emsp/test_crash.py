"""Crash test: SIGKILL the real `emsp-bench serve emsp` while a CPO pushes sessions and CDRs;
every CDR is billed once.

The service is the installed command, on a SQLite file or a fresh PostgreSQL schema, with the
partner registered over OCPI (credentials with token A; the eMSP fetches this test's versions
first). It is killed at seeded random moments (in flight or right after an answer, when the outbox
may still hold the events) and once right after a CDR's commit, before its answer (the hook in
crash_hook/sitecustomize.py, on the served process's PYTHONPATH only). The CPO resends whatever
was not acknowledged; after the last restart every CDR has exactly one invoice line.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from emsp_helpers import auth, cdr, cpo_credentials, location, session, tariff

from emsp.wire import dumps

HOOK = Path(__file__).with_name("crash_hook")
SESSIONS = 20
RANDOM_KILLS = 4
CONFIG = """
emsp: {country_code: NL, party_id: EMS, business_name: Crash eMSP, public_url: http://127.0.0.1:9}
admin_token: crash-admin
partners:
  - id: cpo1
    token_a: crash-token-a
    parties: [{country_code: DE, party_id: CPA, role: CPO}]
"""


def _command() -> list[str]:
    """The installed `emsp-bench` of this interpreter (the real binary), else its module."""
    script = Path(sys.executable).with_name("emsp-bench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bench.cli"]


class _Versions(BaseHTTPRequestHandler):
    """The CPO's versions and 2.2.1 details, which the eMSP fetches before it answers credentials."""

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}/ocpi"
        data: Any = (
            [{"version": "2.2.1", "url": f"{base}/2.2.1"}]
            if self.path.endswith("/versions")
            else {"version": "2.2.1", "endpoints": [{"identifier": "credentials", "role": "RECEIVER",
                                                     "url": f"{base}/2.2.1/credentials"}]}
        )  # fmt: skip
        body = json.dumps({"data": data, "status_code": 1000, "timestamp": "2025-03-01T09:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def versions_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Versions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ocpi/versions"
    server.shutdown()


@dataclass
class Service:
    url: str
    workdir: Path
    versions_url: str
    proc: subprocess.Popen[str] | None = None
    base: str = ""
    token: str = ""
    starts: int = 0
    kills: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        config = self.workdir / "emsp.yaml"
        config.write_text(CONFIG)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EMSP_", "CRASH_TEST_"))}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HOOK), env.get("PYTHONPATH")]))
        log = (self.workdir / f"serve-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [*_command(), "serve", "emsp", "--config", str(config), "--port", "0",
             "--database-url", self.url],
            stdout=subprocess.PIPE, stderr=log, text=True, env={**env, **self.env}, cwd=self.workdir,
        )  # fmt: skip
        log.close()
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # OCPI versions: ...
        listening = self.proc.stdout.readline()
        assert listening.startswith("listening on "), f"service exited with {self.proc.wait()}"
        root = listening.split()[2]
        self.base = f"{root}/ocpi/2.2.1"
        self.starts += 1
        if not self.token:  # the first start: the CPO registers (token C is in the database after)
            resp = httpx.post(
                f"{self.base}/credentials", headers=auth("crash-token-a"), timeout=30,
                json={**cpo_credentials("crash-token-b", ("DE", "CPA")), "url": self.versions_url},
            )  # fmt: skip
            assert resp.json()["status_code"] == 1000, resp.text
            self.token = resp.json()["data"]["token"]

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.kills += 1
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def died(self) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return False
        assert self.proc.returncode == -signal.SIGKILL
        self.kills += 1  # it killed itself (the commit hook)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return True


def _requests() -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = [
        ("PUT", "locations/DE/CPA/LOC1", location()),
        ("PUT", "tariffs/DE/CPA/TAR1", tariff()),
    ]
    for i in range(SESSIONS):
        sid, cid = f"S{i:03d}", f"C{i:03d}"
        minute = f"2025-03-01T{10 + i // 60:02d}:{i % 60:02d}"
        out.append(("PUT", f"sessions/DE/CPA/{sid}", session(sid, last_updated=f"{minute}:00Z")))
        out.append(("PATCH", f"sessions/DE/CPA/{sid}", {"kwh": 10.5, "last_updated": f"{minute}:10Z"}))
        done = {"status": "COMPLETED", "last_updated": f"{minute}:20Z"}
        out.append(("PATCH", f"sessions/DE/CPA/{sid}", done))
        out.append(("POST", "cdrs", cdr(cid, session_id=sid)))
    return out


def _send(service: Service, method: str, path: str, body: Any) -> bool:
    """True when the eMSP acknowledged the request (an OCPI 1000 answer)."""
    headers = {**auth(service.token), "Content-Type": "application/json"}
    try:
        url = f"{service.base}/{path}"
        resp = httpx.request(method, url, headers=headers, content=dumps(body), timeout=5)
    except httpx.HTTPError:
        return False
    assert resp.status_code in (200, 201), resp.text
    assert resp.json()["status_code"] == 1000, resp.text
    return True


def _in_flight_kill(service: Service, request: tuple[str, str, Any], delay: float) -> bool:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(_send(service, *request)))
    thread.start()
    time.sleep(delay)
    service.kill()
    thread.join()
    return bool(result and result[0])


def _wait_until_billed(
    url: str, timeout: float = 30.0, expected: int = SESSIONS
) -> tuple[int, dict[str, int], int]:
    engine = sqlalchemy.create_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as db:
                per_cdr = "select cdr_id, count(*) from invoice_lines group by cdr_id"
                lines = dict(db.execute(sqlalchemy.text(per_cdr)).all())
                cdrs = db.execute(sqlalchemy.text("select count(*) from cdrs")).scalar_one()
                unfinished = db.execute(
                    sqlalchemy.text("select count(*) from outbox where state <> 'done'")
                ).scalar_one()
            if (len(lines) == expected and unfinished == 0) or time.monotonic() > deadline:
                return cdrs, lines, unfinished
            time.sleep(0.1)
    finally:
        engine.dispose()


def _crash_run(url: str, seed: int, workdir: Path, versions_url: str) -> dict[str, int]:
    rng = random.Random(seed)
    requests = _requests()
    cdr_posts = [i for i, r in enumerate(requests) if r[1] == "cdrs"]
    commit_kill = rng.choice(cdr_posts[: len(cdr_posts) // 2])
    kills = set(rng.sample([i for i in range(2, len(requests)) if i != commit_kill], RANDOM_KILLS))
    hook = {"CRASH_TEST_KILL_AFTER_CDR_COMMIT": requests[commit_kill][2]["id"]}
    service = Service(url, workdir, versions_url, env=hook)
    service.start()  # and the CPO registers
    sent = 0
    try:
        i = 0
        while i < len(requests):
            sent += 1
            if i == commit_kill:  # dies right after the CDR's commit: no answer, no handler ran
                assert not _send(service, *requests[i]) and service.died()
                commit_kill = -1
                service.env = {}
                service.start()
                continue  # resend it
            if i in kills:
                kills.discard(i)
                acknowledged = _in_flight_kill(service, requests[i], rng.uniform(0, 0.03))
                service.start()
                i += acknowledged
                continue
            assert _send(service, *requests[i]), f"request {i} failed on a running service"
            i += 1
        cdrs, lines, unfinished = _wait_until_billed(url)
    finally:
        final_kills = service.kills
        service.kill()
    assert cdrs == SESSIONS and unfinished == 0
    assert lines == {f"C{i:03d}": 1 for i in range(SESSIONS)}  # every CDR invoiced exactly once
    return {"kills": final_kills, "starts": service.starts, "requests": sent, "cdrs": cdrs}


@pytest.mark.slow
# One worker runs the tests that start eMSP server processes, one after another; they need no
# real-time clock, so they run beside the live runtime's group rather than after it.
@pytest.mark.xdist_group("servers")
def test_sigkill_during_pushes_on_sqlite_bills_every_cdr_once(tmp_path: Path, versions_url: str) -> None:
    counts = _crash_run(f"sqlite:///{tmp_path / 'emsp.db'}", 1, tmp_path, versions_url)
    print(f"crash test (SQLite): {counts}")
    assert counts["kills"] == RANDOM_KILLS + 1  # and the commit hook's


@pytest.mark.slow
@pytest.mark.xdist_group("servers")
def test_sigkill_during_pushes_on_postgresql_bills_every_cdr_once(
    pg_schema: str, tmp_path: Path, versions_url: str
) -> None:
    counts = _crash_run(pg_schema, 2, tmp_path, versions_url)
    print(f"crash test (PostgreSQL): {counts}")
    assert counts["kills"] == RANDOM_KILLS + 1
