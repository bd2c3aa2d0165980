from __future__ import annotations

from emsp_helpers import T0, FakePricer, auth
from fastapi.testclient import TestClient

from emsp.api import create_app
from emsp.core import EmspCore, EmspSettings


def test_app_passes_requests_through_and_serves_metrics() -> None:
    core = EmspCore(EmspSettings(base_url="http://testserver/ocpi"), pricer=FakePricer())
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = TestClient(create_app(core, lambda: T0))
    resp = client.get("/ocpi/versions", headers={**auth("tokA"), "X-Request-ID": "abc"})
    assert resp.status_code == 200
    assert resp.json()["data"][0]["url"] == "http://testserver/ocpi/2.2.1"
    assert resp.headers["x-request-id"] == "abc"
    assert client.get("/ocpi/2.2.1/tokens").status_code == 401
    assert "emsp_ocpi_requests_total" in client.get("/metrics").text
