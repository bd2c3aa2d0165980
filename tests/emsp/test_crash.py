"""Crash test: SIGKILL a served eMSP while a CPO pushes sessions and CDRs; every CDR is billed once.

The service runs as a subprocess (tests/emsp/crash_service.py) on a SQLite file or a fresh
PostgreSQL schema. It is killed at seeded random moments (in flight or right after an answer, when
the outbox may still hold the events) and once right after a CDR's commit, before its answer. The
CPO resends whatever was not acknowledged; after the last restart every CDR has exactly one line.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from emsp_helpers import auth, cdr, location, session, tariff

from emsp.wire import dumps

SERVICE = Path(__file__).with_name("crash_service.py")
SESSIONS = 20
RANDOM_KILLS = 4


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[str] | None = None
    base: str = ""
    token: str = ""
    starts: int = 0
    kills: int = 0
    env: dict[str, str] = field(default_factory=dict)

    def start(self, **extra_env: str) -> None:
        env = {**os.environ, "PYTHONHASHSEED": "0", **self.env, **extra_env}
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVICE), self.url], stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.proc.stdout is not None
        lines = {}
        while len(lines) < 2:
            line = self.proc.stdout.readline()
            assert line, f"service exited with {self.proc.wait()}"
            key, _, value = line.strip().partition(" ")
            lines[key] = value
        self.token, self.base = lines["TOKEN"], f"http://127.0.0.1:{lines['PORT']}/ocpi/2.2.1"
        self.starts += 1

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
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return False
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


def _crash_run(url: str, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    requests = _requests()
    cdr_posts = [i for i, r in enumerate(requests) if r[1] == "cdrs"]
    commit_kill = rng.choice(cdr_posts[: len(cdr_posts) // 2])
    kills = set(rng.sample([i for i in range(2, len(requests)) if i != commit_kill], RANDOM_KILLS))
    service = Service(url, env={"EMSP_TEST_KILL_AFTER_CDR_COMMIT": requests[commit_kill][2]["id"]})
    service.start()
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
@pytest.mark.xdist_group("live")
def test_sigkill_during_pushes_on_sqlite_bills_every_cdr_once(tmp_path: Path) -> None:
    counts = _crash_run(f"sqlite:///{tmp_path / 'emsp.db'}", seed=1)
    print(f"crash test (SQLite): {counts}")
    assert counts["kills"] == RANDOM_KILLS + 1  # and the commit hook's


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_sigkill_during_pushes_on_postgresql_bills_every_cdr_once(pg_schema: str) -> None:
    counts = _crash_run(pg_schema, seed=2)
    print(f"crash test (PostgreSQL): {counts}")
    assert counts["kills"] == RANDOM_KILLS + 1
