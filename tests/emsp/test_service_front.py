"""What `serve emsp` puts in front of its app: the OCPI fast path (same answers as the FastAPI app)
and TCP_NODELAY on its listener (no answer waits for Nagle and the client's delayed ACK)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from emsp_helpers import T0, FakePricer, auth, register
from fastapi.testclient import TestClient

from emsp.api import OcpiFirst, create_app, ocpi_first
from emsp.core import EmspCore, EmspSettings
from emsp.service.app import create_service_app
from emsp.service.run import no_delay

BASE = "http://testserver/ocpi"


def _answer(
    client: TestClient, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> tuple[int, str, str]:
    resp = client.request(method, path, headers={"X-Request-ID": "same", **(headers or {})}, **kwargs)
    return resp.status_code, resp.headers.get("content-type", ""), resp.text


def test_the_ocpi_fast_path_answers_exactly_as_the_app() -> None:
    answers = []
    for front in (False, True):
        core = EmspCore(EmspSettings(base_url=BASE), pricer=FakePricer())
        cpo = register(core)
        core.issue_token("RFID1", contract_id="C1", now=T0)
        app = create_service_app(core, "admin-secret", lambda: T0)
        served = ocpi_first(app, BASE) if front else app
        assert isinstance(served, OcpiFirst) == front
        with TestClient(served, headers=auth(cpo.token)) as client:
            answers.append(
                [
                    _answer(client, "POST", "/ocpi/2.2.1/tokens/RFID1/authorize", json={"location_id": "L"}),
                    _answer(client, "POST", "/ocpi/2.2.1/tokens/NOPE/authorize"),
                    _answer(client, "GET", "/ocpi/versions"),
                    _answer(client, "GET", "/ocpi"),
                    _answer(client, "DELETE", "/ocpi/2.2.1/nothing-here"),
                    _answer(client, "GET", "/elsewhere"),  # the app's catch-all: the OCPI envelope
                    _answer(
                        client, "GET", "/api/v1/health", headers={"Authorization": "Bearer admin-secret"}
                    ),
                ]
            )
            metrics = client.get("/metrics", headers={"Authorization": "Bearer admin-secret"})
            assert "emsp_ocpi_requests_total" in metrics.text
    plain, fast = answers
    assert fast == plain
    assert [a[0] for a in fast] == [200, 404, 200, 404, 404, 404, 200]


def test_no_fast_path_when_a_route_of_the_app_shares_the_ocpi_prefix() -> None:
    core = EmspCore(EmspSettings(base_url="http://testserver/api/v1/ocpi"), pricer=FakePricer())
    app = create_service_app(core, "admin-secret", lambda: T0)  # the contract API is at /api/v1
    assert ocpi_first(app, core.settings.base_url) is app
    root = EmspCore(EmspSettings(base_url="http://testserver"), pricer=FakePricer())
    plain = create_app(root, lambda: T0)
    assert ocpi_first(plain, root.settings.base_url) is plain  # OCPI at the root: nothing to skip


def test_connections_accepted_on_the_service_listener_have_tcp_nodelay() -> None:
    async def scenario() -> int:
        listener = no_delay(socket.socket(socket.AF_INET, socket.SOCK_STREAM))  # proto 0, as the CLI's
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.set_result(
                writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            )
            writer.close()

        server = await asyncio.start_server(on_connect, sock=listener)
        _reader, writer = await asyncio.open_connection("127.0.0.1", listener.getsockname()[1])
        server_side = await asyncio.wait_for(accepted, 5)
        writer.close()
        server.close()
        await server.wait_closed()
        return server_side

    assert asyncio.run(scenario()) != 0
