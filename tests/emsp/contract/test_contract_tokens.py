"""Drivers and tokens through `/api/v1`: issue, read, list, block/unblock, and the push to CPOs."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import T0, Client, V, auth, location, register
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsp.core import EmspCore
from emsp.ocpi import token_push as token_push_module
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps, loads

TOKEN = {"uid": "RFID-001", "contract_id": "NL-EMS-C00000001-X"}


def issue(api: TestClient, **fields: Any) -> dict[str, Any]:
    resp = api.post("/api/v1/tokens", json={**TOKEN, **fields})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


CPA_LOC1 = {"country_code": "DE", "party_id": "CPA", "location_id": "LOC1"}


def authorize(
    cpo: Client, uid: str, location_id: str | None = None, headers: dict[str, str] | None = None
) -> str:
    body = None if location_id is None else {"location_id": location_id}
    resp = cpo.call("POST", f"{V}/tokens/{uid}/authorize", body, headers=headers)
    assert resp.status == 200, resp.body
    return str(resp.json()["data"]["allowed"])


def from_party(country_code: str, party_id: str) -> dict[str, str]:
    return {"OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id}


def test_issue_then_get_returns_the_token_with_defaults(api: TestClient) -> None:
    created = issue(api)
    assert created["type"] == "RFID" and created["whitelist"] == "ALLOWED" and created["valid"] is True
    assert created["issuer"] == "emsp-bench eMSP" and created["pushed_to"] == []
    got = api.get("/api/v1/tokens/RFID-001").json()
    assert {k: v for k, v in got.items() if k != "pushed_to"} == {
        k: v for k, v in created.items() if k != "pushed_to"
    }


def test_issued_token_is_authorized_over_ocpi(api: TestClient, cpo: Client) -> None:
    created = issue(api, allowed_locations=[{**CPA_LOC1, "party_id": "cpa"}], whitelist="NEVER")
    assert created["allowed_locations"] == [CPA_LOC1]  # CiString: stored upper case
    assert authorize(cpo, "RFID-001", "LOC1") == "ALLOWED"
    assert authorize(cpo, "RFID-001", "LOC9") == "NOT_ALLOWED"


def test_a_restriction_to_one_cpos_location_is_not_another_cpos_location_of_the_same_id(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    """Location ids are unique only per party: cpo-b's LOC1 is not cpo-a's LOC1 (regression)."""
    cpo_b = register(api_core, "cpo2", "token-A-cpo2", ("DE", "CPB"))
    for client, party in ((cpo, "CPA"), (cpo_b, "CPB")):
        resp = client.call("PUT", f"{V}/locations/DE/{party}/LOC1", location("LOC1") | {"party_id": party})
        assert (resp.status, resp.json()["status_code"]) == (201, 1000), resp.body  # created
    issue(api, allowed_locations=[CPA_LOC1], whitelist="NEVER")
    assert authorize(cpo_b, "RFID-001", "LOC1") == "NOT_ALLOWED"  # its only CPO party: DE/CPB
    assert authorize(cpo_b, "RFID-001", "LOC1", from_party("DE", "CPB")) == "NOT_ALLOWED"
    assert authorize(cpo, "RFID-001", "LOC1") == "ALLOWED"
    assert authorize(cpo, "RFID-001", "LOC1", from_party("de", "cpa")) == "ALLOWED"
    # cpo-b naming cpo-a's party is refused as any push for another partner's party is
    spoof = cpo_b.call(
        "POST", f"{V}/tokens/RFID-001/authorize", {"location_id": "LOC1"}, headers=from_party("DE", "CPA")
    )
    assert (spoof.status, spoof.json()["status_code"]) == (404, 2001)
    results = [(r.partner, r.result) for r in api_core.records().authorizations]
    assert results == [("cpo2", "NOT_ALLOWED")] * 2 + [("cpo1", "ALLOWED")] * 2


def test_restriction_survives_block_and_unblock(api: TestClient, cpo: Client) -> None:
    issue(api, allowed_locations=[CPA_LOC1], whitelist="NEVER")
    assert api.post("/api/v1/tokens/RFID-001/block").json()["allowed_locations"] == [CPA_LOC1]
    assert api.post("/api/v1/tokens/RFID-001/unblock").json()["allowed_locations"] == [CPA_LOC1]
    assert authorize(cpo, "RFID-001", "LOC1") == "ALLOWED"
    assert authorize(cpo, "RFID-001", "LOC2") == "NOT_ALLOWED"


def test_a_second_issue_of_the_same_uid_and_type_conflicts(api: TestClient) -> None:
    issue(api)
    resp = api.post("/api/v1/tokens", json=TOKEN)
    assert resp.status_code == 409 and "already exists" in resp.json()["detail"]
    assert issue(api, type="APP_USER")["type"] == "APP_USER"  # another type is another token


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"uid": ""}, "uid"),
        ({"uid": "x" * 37}, "uid"),  # CiString(36)
        ({"uid": "has space"}, "uid"),
        ({"uid": "nul\u0000"}, "uid"),
        ({"contract_id": None}, "contract_id"),
        ({"type": "CARD"}, "type"),
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"valid": "maybe"}, "valid"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),  # no offset
        ({"expires_at": "0001-01-01T00:00:00+05:00"}, "expires_at"),  # overflows in UTC
        ({"expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
        ({"allowed_locations": [{**CPA_LOC1, "location_id": "L" * 37}]}, "location_id"),
        ({"allowed_locations": [{**CPA_LOC1, "country_code": "DEU"}]}, "country_code"),
        ({"allowed_locations": [{**CPA_LOC1, "party_id": "CP"}]}, "party_id"),
        ({"allowed_locations": [{"location_id": "LOC1"}]}, "country_code"),  # the party is required
        ({"allowed_locations": [CPA_LOC1] * 1001}, "allowed_locations"),
        ({"allowed_locations": ["LOC1"]}, "allowed_locations"),
        # bare ids cannot say whose location they mean: the old field is gone, not ignored
        ({"allowed_location_ids": ["LOC1"]}, "allowed_location_ids"),
        ({"colour": "red"}, "colour"),  # unknown fields are refused, not ignored
    ],
)
def test_invalid_token_fields_are_422_naming_the_field(
    api: TestClient, fields: dict[str, Any], where: str
) -> None:
    resp = api.post("/api/v1/tokens", json={**TOKEN, **fields})
    assert resp.status_code == 422, resp.text
    assert where in dumps(resp.json()["detail"])


def test_location_restriction_with_whitelist_always_is_refused(api: TestClient) -> None:
    resp = api.post("/api/v1/tokens", json={**TOKEN, "whitelist": "ALWAYS", "allowed_locations": [CPA_LOC1]})
    assert resp.status_code == 422 and "real-time authorization" in resp.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/tokens/NOPE", "/api/v1/tokens/RFID-001?type=APP_USER", "/api/v1/drivers/NL-EMS-NOBODY"],
)
def test_unknown_tokens_and_drivers_are_404(api: TestClient, path: str) -> None:
    issue(api)
    resp = api.get(path)
    assert resp.status_code == 404 and "not found" in resp.json()["detail"]


def test_block_and_unblock_reach_real_time_authorization(api: TestClient, cpo: Client) -> None:
    issue(api)
    blocked = api.post("/api/v1/tokens/RFID-001/block")
    assert blocked.status_code == 200 and blocked.json()["valid"] is False
    assert authorize(cpo, "RFID-001") == "BLOCKED"
    unblocked = api.post("/api/v1/tokens/RFID-001/unblock").json()
    assert unblocked["valid"] is True and unblocked["last_updated"] > blocked.json()["last_updated"]
    assert authorize(cpo, "RFID-001") == "ALLOWED"
    assert api.post("/api/v1/tokens/NOPE/block").status_code == 404
    assert api.post("/api/v1/tokens/RFID-001/block?type=CARD").status_code == 422


def test_list_filters_and_driver_view(api: TestClient) -> None:
    issue(api, uid="A1", contract_id="C-1")
    issue(api, uid="A2", contract_id="C-1", type="APP_USER", whitelist="NEVER")
    issue(api, uid="B1", contract_id="C-2", valid=False)
    cases = {
        "": ["A1", "A2", "B1"],
        "?contract_id=C-1": ["A1", "A2"],
        "?type=APP_USER": ["A2"],
        "?valid=false": ["B1"],
        "?whitelist=NEVER": ["A2"],
        "?contract_id=C-1&valid=false": [],
        "?contract_id=c-1": ["A1", "A2"],  # eMA ids are CiStrings
    }
    for query, uids in cases.items():
        page = api.get(f"/api/v1/tokens{query}").json()
        assert [t["uid"] for t in page["items"]] == uids, query
        assert page["total"] == len(uids)
    driver = api.get("/api/v1/drivers/C-1").json()
    assert driver["contract_id"] == "C-1" and [t["uid"] for t in driver["tokens"]] == ["A1", "A2"]
    assert [t["uid"] for t in api.get("/api/v1/drivers/c-1").json()["tokens"]] == ["A1", "A2"]


def _give_tokens_receiver(core: EmspCore, partner: str = "cpo1") -> None:
    endpoints = [
        {"identifier": "tokens", "role": "RECEIVER", "url": "http://cpo.test/ocpi/2.2.1/tokens/"},
        {"identifier": "tokens", "role": "SENDER", "url": "http://cpo.test/ocpi/2.2.1/wrong"},
    ]
    with core.db.unit() as db:
        row = db.get(PartnerRow, partner)
        assert row is not None
        row.endpoints_json = dumps(endpoints)


def test_token_changes_are_put_to_the_cpo_tokens_receiver(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    _give_tokens_receiver(api_core)
    assert issue(api, type="APP_USER")["pushed_to"] == ["cpo1"]
    [put] = api_core.pending_requests()
    req = put.request
    assert req.method == "PUT" and put.partner == "cpo1"
    assert req.url == "http://cpo.test/ocpi/2.2.1/tokens/NL/EMS/RFID-001?type=APP_USER"
    assert req.header("Authorization") == auth("token-B-cpo1")["Authorization"]  # their token B
    assert req.header("OCPI-to-party-id") == "CPA" and req.header("OCPI-from-party-id") == "EMS"
    body = loads(req.body or "")
    assert body["uid"] == "RFID-001" and body["valid"] is True and body["contract_id"] == TOKEN["contract_id"]
    assert api.post("/api/v1/tokens/RFID-001/block?type=APP_USER").json()["pushed_to"] == ["cpo1"]
    [block] = api_core.pending_requests()
    assert loads(block.request.body or "")["valid"] is False
    api.post("/api/v1/tokens/RFID-001/block?type=APP_USER")  # no change: nothing to tell
    assert api_core.pending_requests() == []


@pytest.mark.parametrize(("action", "valid_before"), [("block", True), ("unblock", False)])
def test_a_failed_block_or_unblock_leaves_the_token_as_it_was_and_a_retry_tells_the_cpo(
    api: TestClient,
    api_core: EmspCore,
    cpo: Client,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
    valid_before: bool,
) -> None:
    _give_tokens_receiver(api_core)
    issue(api, valid=valid_before)
    api_core.pending_requests()  # the issue's own push

    real_push = token_push_module.push_token

    def push_then_fail(*args: Any) -> list[str]:
        real_push(*args)  # queued, then the work fails before it is done
        raise RuntimeError("injected: the database went away")

    monkeypatch.setattr("emsp.ocpi.token_push.push_token", push_then_fail)
    with pytest.raises(RuntimeError, match="injected"):
        api.post(f"/api/v1/tokens/RFID-001/{action}")
    monkeypatch.undo()
    assert api.get("/api/v1/tokens/RFID-001").json()["valid"] is valid_before  # nothing half-done
    assert api_core.pending_requests() == []  # no push of a change that was not made
    retried = api.post(f"/api/v1/tokens/RFID-001/{action}").json()
    assert retried["valid"] is not valid_before and retried["pushed_to"] == ["cpo1"]
    [push] = api_core.pending_requests()
    assert loads(push.request.body or "")["valid"] is not valid_before


def test_push_answers_are_consumed_without_touching_the_partner_endpoints(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    from emsp.wire import HttpResponse

    _give_tokens_receiver(api_core)
    issue(api)
    for out in api_core.pending_requests():
        api_core.on_response(out.request_id, HttpResponse(500, {}, "oops"), cpo.now)
    assert api_core.partner_endpoints("cpo1")[0]["identifier"] == "tokens"
    with api_core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None and row.endpoints_status != "failed"


def test_with_a_core_thread_the_contract_work_runs_on_it(api_core: EmspCore) -> None:
    import threading

    from emsp.api import core_thread
    from emsp.service.app import create_service_app

    thread = core_thread(api_core)
    where: list[str] = []
    issue_on_core, set_valid_on_core = api_core.issue_token, api_core.set_token_valid

    def recording(*args: Any, **kwargs: Any) -> None:
        where.append(threading.current_thread().name)
        issue_on_core(*args, **kwargs)

    def recording_set_valid(*args: Any, **kwargs: Any) -> list[str] | None:
        where.append(threading.current_thread().name)
        return set_valid_on_core(*args, **kwargs)

    api_core.issue_token = recording  # type: ignore[method-assign]
    api_core.set_token_valid = recording_set_valid  # type: ignore[method-assign]
    try:
        app = create_service_app(api_core, "admin-secret", lambda: T0, core_thread=thread)
        with TestClient(app, headers={"Authorization": "Bearer admin-secret"}) as client:
            assert client.post("/api/v1/tokens", json=TOKEN).status_code == 201
            assert client.post("/api/v1/tokens/RFID-001/block").json()["valid"] is False
            assert client.get("/api/v1/tokens").json()["total"] == 1
            assert client.post("/api/v1/tokens", json=TOKEN).status_code == 409  # errors cross the thread
    finally:
        thread.close()
    # The duplicate too: the core refuses it in its creating transaction (a concurrent one, see
    # test_token_create_race), on the core thread like every write.
    assert where == ["emsp-core"] * 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(1, 10), offset=st.integers(0, 12))
def test_pages_are_slices_of_the_whole_list(api: TestClient, limit: int, offset: int) -> None:
    if api.get("/api/v1/tokens").json()["total"] == 0:  # once per test: the fixture outlives examples
        for n in range(7):
            issue(api, uid=f"P{n}")
    everything = [t["uid"] for t in api.get("/api/v1/tokens").json()["items"]]
    page = api.get(f"/api/v1/tokens?limit={limit}&offset={offset}").json()
    assert [t["uid"] for t in page["items"]] == everything[offset : offset + limit]
    assert page["total"] == len(everything) == 7
    assert page["next_offset"] == (offset + limit if offset + limit < 7 else None)
