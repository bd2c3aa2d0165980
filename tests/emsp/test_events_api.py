"""The event stream of the contract layer, on a bare FastAPI app (the contract app includes it)."""

from __future__ import annotations

from emsp_helpers import Client, V, cdr, location, session, tariff
from fastapi import FastAPI
from fastapi.testclient import TestClient

from emsp.contract.events import EventPage, make_router
from emsp.core import EmspCore


def _api(core: EmspCore) -> TestClient:
    app = FastAPI()
    app.include_router(make_router(core), prefix="/api/v1")
    return TestClient(app)


def test_read_the_stream_by_cursor(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status="COMPLETED"))
    cpo.call("POST", f"{V}/cdrs", cdr())
    api = _api(core)
    seen: list[str] = []
    cursor = 0
    while True:
        resp = api.get("/api/v1/events", params={"after": cursor, "limit": 2})
        assert resp.status_code == 200
        page = EventPage.model_validate(resp.json())
        if not page.events:
            assert page.next_cursor == cursor  # nothing new: the cursor stays
            break
        assert len(page.events) <= 2 and page.next_cursor == page.events[-1].id > cursor
        seen += [e.kind for e in page.events]
        cursor = page.next_cursor
    assert seen == [
        "location.upserted", "tariff.upserted", "session.started", "session.ended",
        "cdr.received", "cdr.settled",
    ]  # fmt: skip
    last = api.get("/api/v1/events", params={"after": 0, "limit": 100}).json()["events"][-1]
    assert last["idempotency_key"] == "cdr-settled:DE*CPA:CDR1" and last["processing"] == "done"
    assert last["payload"]["cdr_id"] == "CDR1" and last["created_at"].startswith("2025-03-01T")


def test_bad_cursor_or_limit_is_a_422(core: EmspCore) -> None:
    api = _api(core)
    for params in ({"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": "x"}):
        assert api.get("/api/v1/events", params=params).status_code == 422
    assert "/api/v1/events" in api.get("/openapi.json").json()["paths"]


def test_the_service_serves_the_stream_behind_the_admin_token(core: EmspCore, cpo: Client) -> None:
    from emsp.service.app import create_service_app

    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    with TestClient(create_service_app(core, "admin-secret", lambda: cpo.now)) as api:
        assert api.get("/api/v1/events").status_code == 401
        resp = api.get("/api/v1/events", headers={"Authorization": "Bearer admin-secret"})
        assert resp.status_code == 200 and resp.json()["events"][0]["kind"] == "session.started"
        assert "/events" in api.get("/api/v1/openapi.json").json()["paths"]
