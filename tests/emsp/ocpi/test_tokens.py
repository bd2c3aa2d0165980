from __future__ import annotations

from datetime import timedelta

import pytest
from emsp_helpers import T0, Client, V

from emsp.core import EmspCore


@pytest.mark.parametrize(
    ("kwargs", "body", "allowed"),
    [
        ({}, {"location_id": "LOC1", "evse_uids": ["EVSE1"]}, "ALLOWED"),
        ({}, None, "ALLOWED"),
        ({"valid": False}, None, "BLOCKED"),
        ({"expires_at": T0 - timedelta(days=1)}, None, "EXPIRED"),
        ({"has_credit": False}, None, "NO_CREDIT"),
        ({"allowed_location_ids": ["LOC9"]}, {"location_id": "LOC1"}, "NOT_ALLOWED"),
    ],
)
def test_authorize(core: EmspCore, cpo: Client, kwargs: dict, body: dict | None, allowed: str) -> None:  # type: ignore[type-arg]
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0, **kwargs)
    resp = cpo.call("POST", f"{V}/tokens/RFID1/authorize?type=RFID", body)
    assert resp.status == 200
    data = resp.json()["data"]
    assert data["allowed"] == allowed and data["token"]["uid"] == "RFID1"
    if allowed == "ALLOWED":
        assert data["authorization_reference"]
        if body:
            assert data["location"] == body
    else:
        assert "location" not in data
    (rec,) = core.records().authorizations
    assert (rec.token_uid, rec.result, rec.partner) == ("RFID1", allowed, "cpo1")
    assert f'emsp_authorizations_total{{partner="cpo1",result="{allowed}"}} 1.0' in core.metrics_text()


def test_authorize_unknown_token_is_2004_without_data(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    for url in (f"{V}/tokens/NOPE/authorize", f"{V}/tokens/RFID1/authorize?type=APP_USER"):
        resp = cpo.call("POST", url)
        body = resp.json()
        assert resp.status == 404 and body["status_code"] == 2004 and "data" not in body
    assert [r.result for r in core.records().authorizations] == ["UNKNOWN", "UNKNOWN"]


def test_authorize_bad_input(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    for url, body in (
        (f"{V}/tokens/RFID1/authorize?type=CARD", None),
        (f"{V}/tokens/RFID1/authorize", {"x": 1}),
    ):
        resp = cpo.call("POST", url, body)
        assert (resp.status, resp.json()["status_code"]) == (200, 2001)
    assert cpo.call("GET", f"{V}/tokens/RFID1/authorize").status == 405


def test_tokens_list_pagination(core: EmspCore, cpo: Client) -> None:
    for i in range(5):
        core.issue_token(f"U{i}", contract_id=f"C{i}", now=T0 + timedelta(minutes=i))
    resp = cpo.call("GET", f"{V}/tokens?offset=1&limit=2")
    assert [t["uid"] for t in resp.json()["data"]] == ["U1", "U2"]
    assert resp.header("X-Total-Count") == "5" and resp.header("X-Limit") == "100"
    assert resp.header("Link") == f'<{V}/tokens?offset=3&limit=2>; rel="next"'
    last = cpo.call("GET", f"{V}/tokens?offset=3&limit=2")
    assert [t["uid"] for t in last.json()["data"]] == ["U3", "U4"] and last.header("Link") is None
    dated = cpo.call("GET", f"{V}/tokens?date_from=2025-03-01T09:02:00Z&limit=1")
    assert dated.header("X-Total-Count") == "3"
    assert "date_from=2025-03-01T09%3A02%3A00Z" in (dated.header("Link") or "")
    assert cpo.call("GET", f"{V}/tokens?limit=abc").json()["status_code"] == 2001
