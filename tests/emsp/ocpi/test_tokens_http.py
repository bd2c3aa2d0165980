"""Real-time authorization over real HTTP (uvicorn on loopback), served through the core thread."""

from __future__ import annotations

import asyncio
import base64
import socket

import httpx
import pytest
from emsp_helpers import T0, register

from bench.runtime.live_http import HttpServer
from emsp.api import core_thread, create_app
from emsp.core import EmspCore, EmspSettings


@pytest.mark.xdist_group("live")
def test_authorize_over_http() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/ocpi"
    core = EmspCore(EmspSettings(base_url=base))
    client = register(core)
    for i in range(20):
        core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
    core.issue_token("ONLY-LOC1", contract_id="C-L", now=T0, allowed_locations=[("DE", "CPA", "LOC1")])
    headers = {"Authorization": "Token " + base64.b64encode(client.token.encode()).decode()}
    thread = core_thread(core)

    async def scenario() -> list[httpx.Response]:
        server = HttpServer(create_app(core, lambda: T0, core_thread=thread), sock)
        await server.start()
        try:
            async with httpx.AsyncClient(base_url=f"{base}/2.2.1/tokens", headers=headers) as http:
                calls = [http.post(f"/RFID{i}/authorize", json={"location_id": "LOC1"}) for i in range(20)]
                calls += [
                    http.post("/ONLY-LOC1/authorize"),
                    http.post("/ONLY-LOC1/authorize?type=RFID", json={"location_id": "LOC1"}),
                    http.post("/NOPE/authorize"),
                ]
                return list(await asyncio.gather(*calls))
        finally:
            await server.stop()
            thread.close()

    *allowed, no_refs, with_refs, unknown = asyncio.run(scenario())
    assert {(r.status_code, r.json()["data"]["allowed"]) for r in allowed} == {(200, "ALLOWED")}
    references = {r.json()["data"]["authorization_reference"] for r in allowed}
    assert len(references) == 20
    assert (no_refs.status_code, no_refs.json()["status_code"]) == (200, 2002)
    assert with_refs.json()["data"]["location"] == {"location_id": "LOC1"}
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2004)
    assert "data" not in unknown.json()
    records = core.records().authorizations  # every answer sent was committed first
    assert len(records) == 23
    assert {r.authorization_reference for r in records if r.token_uid.startswith("RFID")} == references
