"""Every 422 of the contract API has the documented shape (README: a list of {loc, msg, type}),
whether pydantic refuses the request or a router's own check does; a filter no object can match
is a 422, not an empty page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

TOKEN = {"uid": "RFID-001", "contract_id": "NL-EMS-C00000001-X"}
LOC = {"country_code": "DE", "party_id": "CPA", "location_id": "LOC1"}

CASES: list[tuple[str, str, dict[str, Any] | None, list[str | int]]] = [
    ("GET", "/api/v1/sessions?date_from=2026-01-01T00:00:00", None, ["query", "date_from"]),  # no offset
    ("GET", "/api/v1/cdrs?date_to=2026-01-01T00:00:00", None, ["query", "date_to"]),
    ("GET", "/api/v1/sessions?date_from=0001-01-01T00:00:00%2B05:00", None, ["query", "date_from"]),
    (
        "GET",
        "/api/v1/sessions?date_from=2026-02-01T00:00:00Z&date_to=2026-01-01T00:00:00Z",
        None,
        ["query", "date_to"],
    ),
    ("GET", "/api/v1/sessions?status=NOPE", None, ["query", "status"]),
    (
        "POST",
        "/api/v1/tokens",
        {**TOKEN, "whitelist": "ALWAYS", "allowed_locations": [LOC]},
        ["body", "allowed_locations"],
    ),
    ("GET", "/api/v1/sessions?limit=0", None, ["query", "limit"]),  # pydantic's own, for comparison
]


@pytest.mark.parametrize(("method", "url", "body", "loc"), CASES, ids=[c[1] for c in CASES])
def test_422_is_a_list_of_loc_msg_type(
    api: TestClient, method: str, url: str, body: dict[str, Any] | None, loc: list[str | int]
) -> None:
    resp = api.request(method, url, json=body)
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["detail"]
    assert set(error) == {"loc", "msg", "type"}
    assert error["loc"] == loc and isinstance(error["msg"], str) and error["msg"]


@pytest.mark.parametrize("status", ["ACTIVE", "completed", "INVALID", "PENDING", "RESERVATION"])
def test_known_session_status_filters(api: TestClient, status: str) -> None:
    resp = api.get(f"/api/v1/sessions?status={status}")
    assert resp.status_code == 200 and resp.json()["items"] == []
