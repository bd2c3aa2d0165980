from __future__ import annotations

from emsp_helpers import T0, FakePricer, auth, cpo_credentials, fake_cpo
from fastapi.testclient import TestClient

from emsp.api import create_app
from emsp.core import EmspCore, EmspSettings
from emsp.wire import dumps


def test_app_passes_requests_through_and_serves_metrics() -> None:
    core = EmspCore(EmspSettings(base_url="http://testserver/ocpi"), pricer=FakePricer())
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = TestClient(create_app(core, lambda: T0))
    resp = client.get("/ocpi/versions", headers={**auth("tokA"), "X-Request-ID": "abc"})
    assert resp.status_code == 200
    assert "http://testserver/ocpi/2.2.1" in [v["url"] for v in resp.json()["data"]]
    assert resp.headers["x-request-id"] == "abc"
    assert client.get("/ocpi/2.2.1/tokens").status_code == 401
    assert "emsp_ocpi_requests_total" in client.get("/metrics").text


def test_a_deferred_credentials_answer_times_out_with_3001_when_the_cpo_never_answers() -> None:
    core = EmspCore(EmspSettings(base_url="http://testserver/ocpi"), pricer=FakePricer())
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = TestClient(create_app(core, lambda: T0, deferred_timeout_s=0.05))
    resp = client.post("/ocpi/2.2.1/credentials", json=cpo_credentials("tokB"), headers=auth("tokA"))
    assert resp.json()["status_code"] == 3001 and "no answer" in resp.json()["status_message"]
    assert client.get("/ocpi/versions", headers=auth("tokA")).status_code == 200  # token A still valid


def test_a_deferred_credentials_answer_comes_when_the_runtime_delivers_the_fetches() -> None:
    import asyncio

    import httpx

    from emsp.wire import HttpRequest

    core = EmspCore(EmspSettings(base_url="http://testserver/ocpi"), pricer=FakePricer())
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    app = create_app(core, lambda: T0)

    async def pump() -> None:  # what a runtime does: send the eMSP's calls, feed the answers
        while True:
            for outbound in core.pending_requests():
                core.on_response(outbound.request_id, fake_cpo(outbound.request), T0)
            await asyncio.sleep(0.005)

    async def scenario() -> httpx.Response:
        task = asyncio.create_task(pump())
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app), base_url="http://testserver"
            ) as c:
                return await c.post(
                    "/ocpi/2.2.1/credentials", content=dumps(cpo_credentials("tokB")), headers=auth("tokA")
                )
        finally:
            task.cancel()

    resp = asyncio.run(scenario())
    assert resp.json()["status_code"] == 1000
    token_c = resp.json()["data"]["token"]
    assert core.handle(HttpRequest("GET", "http://testserver/ocpi/versions", auth(token_c)), T0).status == 200
