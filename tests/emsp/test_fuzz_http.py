"""Fuzz the eMSP over real HTTP (uvicorn on port 0, httpx), on SQLite and PostgreSQL: no 5xx, the
envelope on every answer (HEAD excepted: it has no body), framework 404/405 included, and a huge
upload refused with 413 without being read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
import uvicorn
from databases import BACKENDS, database_url
from emsp_helpers import BASE, T0, Client, FakePricer, auth, register
from fuzz_requests import MAX_BODY, FuzzRequest, assert_still_serves, fuzz_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsp.api import core_thread, create_app
from emsp.core import EmspCore, EmspSettings
from emsp.wire import loads

BATCH = 10
EXAMPLES = 55  # x BATCH = 550 requests per database


class _Served:
    def __init__(self, core: EmspCore, cpo: Client) -> None:
        self.core, self.cpo = core, cpo
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = core_thread(core)
        app = create_app(core, lambda: datetime.now(T0.tzinfo), core_thread=self.thread)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.runner = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.runner.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.runner.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.runner.join(10)
        self.thread.close()
        self.sock.close()


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest) -> Iterator[_Served]:
    with database_url(request.param) as url:
        core = EmspCore(EmspSettings(database_url=url, max_body_bytes=MAX_BODY), pricer=FakePricer())
        core.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=T0)
        cpo = register(core)  # the handshake in-process, then everything over HTTP
        server = _Served(core, cpo)
        yield server
        server.close()
        core.db.engine.dispose()


def _over_http(served: _Served, fuzz: FuzzRequest) -> FuzzRequest:
    return FuzzRequest(fuzz.method, fuzz.url.replace(BASE, f"{served.url}/ocpi", 1), fuzz.headers, fuzz.body)


def _check(resp: httpx.Response, what: str) -> None:
    assert resp.status_code < 500, f"{what} -> {resp.status_code}: {resp.text[:300]}"
    if resp.request.method == "HEAD":
        return
    envelope = loads(resp.content)
    assert isinstance(envelope.get("status_code"), int) and isinstance(envelope.get("timestamp"), str), what


@pytest.mark.slow
# One worker runs the tests that start eMSP server processes, one after another; they need no
# real-time clock, so they run beside the live runtime's group rather than after it.
@pytest.mark.xdist_group("servers")
def test_an_http_request_storm_gets_no_5xx_and_always_the_envelope(served: _Served) -> None:
    sent: list[int] = []
    with httpx.Client(timeout=30) as http:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
            ],
        )  # fmt: skip
        @given(st.lists(fuzz_request(http=True), min_size=BATCH, max_size=BATCH))
        def storm(batch: list[FuzzRequest]) -> None:
            for fuzz in batch:
                req = _over_http(served, fuzz.with_token(served.cpo.token))
                content = None if req.body is None else req.body.encode("utf-8", "surrogatepass")
                resp = http.request(req.method, req.url, headers=req.headers, content=content)
                _check(resp, f"{req.method} {req.url}")
            sent.append(len(batch))

        storm()
        assert sum(sent) >= EXAMPLES * BATCH

        # Framework-level answers carry the envelope too: unknown paths, verbs, HEAD/OPTIONS.
        for method, path, status in [
            ("GET", "/nowhere", 404),
            ("OPTIONS", "/ocpi/versions", 405),
            ("BREW", "/ocpi/2.2.1/sessions/DE/CPA/S1", 405),
            ("POST", "/metrics", 404),
        ]:
            resp = http.request(method, served.url + path, headers=auth(served.cpo.token))
            assert resp.status_code == status and "detail" not in resp.json(), (method, path, resp.text)
            assert resp.json()["status_code"] == 2000
    assert_still_serves(served.cpo)


def test_a_huge_upload_is_refused_while_streaming(served: _Served) -> None:
    """300 MB announced and streamed: refused with 413 (envelope) before it is read, not buffered."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        block = b"x" * (1024 * 1024)
        for _ in range(300):
            sent += len(block)
            yield block

    url = f"{served.url}/ocpi/2.2.1/locations/DE/CPA/LOC1"
    headers = {**auth(served.cpo.token), "Content-Type": "application/json"}
    try:
        resp: httpx.Response | None = httpx.put(url, content=chunks(), headers=headers, timeout=30)
    except httpx.HTTPError:  # the server may close the connection once it has answered
        resp = None
    assert sent < 300 * 1024 * 1024  # the server stopped reading long before the end
    if resp is not None:
        assert resp.status_code == 413 and resp.json()["status_code"] == 2000
    declared = httpx.put(url, content=b"x" * (MAX_BODY + 1), headers=headers, timeout=30)
    assert declared.status_code == 413 and "larger than" in declared.json()["status_message"]
