"""Ids the contract API reads as numbers (review F3): a 2.1.1 reservation_id that is no ASCII int
is 422, and a command id beyond a 64-bit key is 404; both were HTTP 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from emsp_helpers import BASE, CPO_VERSIONS, T0, answer_outbound, ocpi_ok
from fastapi.testclient import TestClient

from emsp.core import EmspCore
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps

DETAILS = "http://cpo.test/ocpi/2.1.1"
EXAMPLE = Path(__file__).parents[1] / "ocpi" / "spec_examples_211" / "location.json"
# After the example's last_updated values (one over a day ahead of the eMSP's clock is refused).
PUSHED = datetime(2025, 7, 1, tzinfo=UTC)


def _cpo_side(request: HttpRequest) -> HttpResponse:
    if request.url == CPO_VERSIONS:
        return ocpi_ok([{"version": "2.1.1", "url": DETAILS}])
    endpoints = [{"identifier": m, "url": f"{DETAILS}/{m}"} for m in ("tokens", "commands")]
    return ocpi_ok({"version": "2.1.1", "endpoints": endpoints})


def _call(core: EmspCore, token: str, method: str, path: str, body: Any) -> HttpResponse:
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}  # 2.1.1: as is
    answer = core.handle(HttpRequest(method, f"{BASE}/2.1.1/{path}", headers, dumps(body)), PUSHED)
    if isinstance(answer, Deferred):
        answer_outbound(core, PUSHED, _cpo_side)
        final = core.take_response(answer.deferred_id)
        assert final is not None
        return final
    return answer


@pytest.fixture
def location_211(api_core: EmspCore) -> str:
    """A CPO registered on 2.1.1 (with a commands endpoint) and one of its Locations; its id."""
    api_core.register_partner("cpo1", "token-A", parties=[("DE", "CPA", "CPO")])
    creds = {"token": "token-B", "url": CPO_VERSIONS, "business_details": {"name": "CPO"}}
    registered = _call(
        api_core, "token-A", "POST", "credentials", creds | {"party_id": "CPA", "country_code": "DE"}
    )
    token_c = registered.json()["data"]["token"]
    location = json.loads(EXAMPLE.read_text())
    for evse in location["evses"]:
        for connector in evse["connectors"]:
            connector.setdefault("last_updated", location["last_updated"])
    answer = _call(api_core, token_c, "PUT", f"locations/DE/CPA/{location['id']}", location)
    assert answer.json()["status_code"] == 1000, answer.body
    api_core.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=T0)
    api_core.pending_requests()  # the token push: not what this test is about
    return str(location["id"])


@pytest.mark.parametrize("reservation_id", ["²", "١٢", "R-1", "1" * 30])
def test_a_211_reservation_id_that_is_no_int_is_422(
    api: TestClient, location_211: str, reservation_id: str
) -> None:
    body = {
        "type": "RESERVE_NOW",
        "location_id": location_211,
        "token_uid": "RFID1",
        "reservation_id": reservation_id,
        "expiry_date": "2026-03-02T08:00:00Z",
    }
    answer = api.post("/api/v1/commands", json=body)
    assert answer.status_code == 422, answer.text
    assert "reservation_id" in answer.text
    assert api.post("/api/v1/commands", json={**body, "reservation_id": "42"}).status_code == 201


@pytest.mark.parametrize("command_id", [str(2**63), "1" * 40, "-" + "9" * 20])
def test_a_command_id_beyond_any_key_is_404(api: TestClient, command_id: str) -> None:
    answer = api.get(f"/api/v1/commands/{command_id}")
    assert answer.status_code == 404, answer.text
