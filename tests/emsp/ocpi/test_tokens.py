from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from emsp_helpers import T0, Client, V, cpo_credentials, register

from emsp.core import EmspCore, EmspSettings


@pytest.mark.parametrize(
    ("kwargs", "body", "allowed"),
    [
        ({}, {"location_id": "LOC1", "evse_uids": ["EVSE1"]}, "ALLOWED"),
        ({}, None, "ALLOWED"),
        ({"valid": False}, None, "BLOCKED"),
        ({"expires_at": T0 - timedelta(days=1)}, None, "EXPIRED"),
        ({"has_credit": False}, None, "NO_CREDIT"),
        ({"allowed_locations": [("DE", "CPA", "LOC9")]}, {"location_id": "LOC1"}, "NOT_ALLOWED"),
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


def _authorize(cpo: Client, uid: str, body: object = None, query: str = "") -> tuple[int, dict]:  # type: ignore[type-arg]
    resp = cpo.call("POST", f"{V}/tokens/{uid}/authorize{query}", body)
    return resp.status, resp.json()


def test_restricted_token_without_location_references_is_2002(core: EmspCore, cpo: Client) -> None:
    """mod_tokens, POST: too little information (no LocationReferences) to decide SHALL get 2002."""
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0, allowed_locations=[("DE", "CPA", "LOC1")])
    for body in (None, "null"):
        resp = cpo.call("POST", f"{V}/tokens/RFID1/authorize", raw=body)
        envelope = resp.json()
        assert (resp.status, envelope["status_code"]) == (200, 2002)
        assert "data" not in envelope and "LocationReferences" in envelope["status_message"]
    _, ok = _authorize(cpo, "RFID1", {"location_id": "LOC1", "evse_uids": ["E1", "E2"]})
    assert ok["data"]["allowed"] == "ALLOWED" and ok["data"]["location"] == {
        "location_id": "LOC1",
        "evse_uids": ["E1", "E2"],
    }
    _, elsewhere = _authorize(cpo, "RFID1", {"location_id": "LOC2"})
    assert (
        elsewhere["data"]["allowed"] == "NOT_ALLOWED" and "authorization_reference" not in elsewhere["data"]
    )
    results = [r.result for r in core.records().authorizations]
    assert results == ["NOT_ENOUGH_INFORMATION", "NOT_ENOUGH_INFORMATION", "ALLOWED", "NOT_ALLOWED"]
    metrics = core.metrics_text()
    assert 'emsp_authorizations_total{partner="cpo1",result="NOT_ENOUGH_INFORMATION"} 2.0' in metrics


def test_restricted_token_whose_location_party_cannot_be_told_is_2002(core: EmspCore) -> None:
    """A partner with two CPO parties and no OCPI-from-* headers: whose LOC1 is it? Never ALLOWED."""
    core.register_partner("cpo1", "token-A-cpo1", parties=[("DE", "CPA", "CPO"), ("DE", "CPB", "CPO")])
    client = Client(core, "token-A-cpo1")
    credentials = cpo_credentials()
    credentials["roles"].append({**credentials["roles"][0], "party_id": "CPB"})
    resp = client.call("POST", f"{V}/credentials", credentials)
    client.token = resp.json()["data"]["token"]
    core.issue_token("RFID1", contract_id="C1", now=T0, allowed_locations=[("DE", "CPB", "LOC1")])
    status, envelope = _authorize(client, "RFID1", {"location_id": "LOC1"})
    assert (status, envelope["status_code"]) == (200, 2002) and "OCPI-from" in envelope["status_message"]
    for party, allowed in (("CPA", "NOT_ALLOWED"), ("CPB", "ALLOWED")):
        headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": party}
        resp = client.call("POST", f"{V}/tokens/RFID1/authorize", {"location_id": "LOC1"}, headers=headers)
        assert resp.json()["data"]["allowed"] == allowed
    core.issue_token("FREE", contract_id="C2", now=T0)  # unrestricted: the party does not matter
    assert _authorize(client, "FREE", {"location_id": "LOC1"})[1]["data"]["allowed"] == "ALLOWED"


def test_a_restriction_stored_as_bare_location_ids_fails_closed(core: EmspCore, cpo: Client) -> None:
    """Older databases hold ["LOC1"]: whose LOC1 is unknown, so it matches no location at all."""
    from emsp.storage.queries import find_token

    core.issue_token("RFID1", contract_id="C1", now=T0, allowed_locations=[("DE", "CPA", "LOC1")])
    with core.db.unit() as db:
        row = find_token(db, "RFID1", "RFID")
        assert row is not None
        row.allowed_locations_json = '["LOC1"]'
    assert _authorize(cpo, "RFID1", {"location_id": "LOC1"})[1]["data"]["allowed"] == "NOT_ALLOWED"
    assert _authorize(cpo, "RFID1")[1]["status_code"] == 2002


def test_blocked_restricted_token_needs_no_location(core: EmspCore, cpo: Client) -> None:
    core.issue_token(
        "RFID1", contract_id="C1", now=T0, valid=False, allowed_locations=[("DE", "CPA", "LOC1")]
    )
    status, body = _authorize(cpo, "RFID1")
    assert (status, body["status_code"], body["data"]["allowed"]) == (200, 1000, "BLOCKED")


def test_type_defaults_to_rfid(core: EmspCore, cpo: Client) -> None:
    core.issue_token("APP1", contract_id="C1", type="APP_USER", whitelist="NEVER", now=T0)
    assert _authorize(cpo, "APP1")[0] == 404  # no type: RFID, and there is no RFID token APP1
    status, body = _authorize(cpo, "APP1", query="?type=APP_USER")
    assert status == 200 and body["data"]["token"]["type"] == "APP_USER"
    assert body["data"]["token"]["whitelist"] == "NEVER"


def test_references_are_issued_only_when_allowed_and_are_unique(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="C1", now=T0)
    core.issue_token("RFID2", contract_id="C2", now=T0, has_credit=False)
    refs = [_authorize(cpo, "RFID1")[1]["data"]["authorization_reference"] for _ in range(3)]
    assert refs == ["NLEMS0000000001", "NLEMS0000000002", "NLEMS0000000003"]
    assert "authorization_reference" not in _authorize(cpo, "RFID2")[1]["data"]
    stored = [r.authorization_reference for r in core.records().authorizations]
    assert stored == [*refs, None]


def test_references_continue_after_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'emsp.db'}"
    first = EmspCore(EmspSettings(database_url=url))
    first.issue_token("RFID1", contract_id="C1", now=T0)
    ref1 = _authorize(register(first), "RFID1")[1]["data"]["authorization_reference"]
    second = EmspCore(EmspSettings(database_url=url))  # same database, a new process's core
    ref2 = _authorize(register(second, "cpo2", "token-A-cpo2", ("FR", "XYZ")), "RFID1")[1]["data"][
        "authorization_reference"
    ]
    assert ref1 != ref2 and int(ref2[5:]) > int(ref1[5:])


def test_answers_follow_token_changes(core: EmspCore, cpo: Client) -> None:
    """The in-memory index never answers from a token state that was replaced or rolled back."""
    core.issue_token("RFID1", contract_id="C1", now=T0)
    assert _authorize(cpo, "RFID1")[1]["data"]["allowed"] == "ALLOWED"  # now cached
    core.issue_token("RFID1", contract_id="C1", now=T0, valid=False)
    assert _authorize(cpo, "RFID1")[1]["data"]["allowed"] == "BLOCKED"
    with pytest.raises(RuntimeError), core.db.unit() as db:
        from emsp.services.tokens import TokenSpec, upsert_token

        upsert_token(db, TokenSpec("RFID1", "C1"), T0)  # valid again, then rolled back
        raise RuntimeError
    assert _authorize(cpo, "RFID1")[1]["data"]["allowed"] == "BLOCKED"
    core.issue_token("RFID1", contract_id="C1", now=T0, allowed_locations=[("DE", "CPA", "LOC1")])
    assert _authorize(cpo, "RFID1")[1]["status_code"] == 2002


def test_ids_longer_than_the_spec_allows_are_2001(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="C1", now=T0)
    for uid, body in (("X" * 37, None), ("RFID1", {"location_id": "L" * 37})):
        status, envelope = _authorize(cpo, uid, body)
        assert (status, envelope["status_code"]) == (200, 2001)
    assert core.records().authorizations == ()


def test_authorization_needs_no_outbound_call(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="C1", now=T0)
    _authorize(cpo, "RFID1", {"location_id": "LOC1"})
    _authorize(cpo, "NOPE")
    assert not core.has_pending_requests()


def test_statements_per_authorization_are_pinned(core: EmspCore, cpo: Client) -> None:
    """Behaviour, not timing: a known token is answered from memory and costs one INSERT (the
    authorization record); the first use of a token reads it once, and its recent allowed
    authorizations once (the fraud history, by index); an unknown location is looked up once."""
    from sqlalchemy import event

    for i in range(3):
        core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
    _authorize(cpo, "RFID0")  # the reference block is reserved on the first authorization
    statements: list[str] = []
    event.listen(core.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0:3]))
    _authorize(cpo, "RFID1")
    assert statements == [
        ["SELECT", "tokens.uid,", "tokens.type,"],
        ["SELECT", "authorizations.partner,", "authorizations.token_uid,"],
        ["INSERT", "INTO", "authorizations"],
    ]
    statements.clear()
    for _ in range(5):
        _authorize(cpo, "RFID1", {"location_id": "LOC1"})
    _authorize(cpo, "RFID0")
    assert statements[0][:2] == ["SELECT", "locations.raw"]  # LOC1's coordinates, remembered
    assert statements[1:] == [["INSERT", "INTO", "authorizations"]] * 6


def test_group_commit_writes_a_batch_of_records_in_one_statement(core: EmspCore, cpo: Client) -> None:
    from sqlalchemy import event

    for i in range(3):
        core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
        _authorize(cpo, f"RFID{i}")  # cached; written at once (no deferral yet)
    core.tokens.defer_records = True
    statements: list[str] = []
    event.listen(core.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    refs = [_authorize(cpo, f"RFID{i % 3}")[1]["data"]["authorization_reference"] for i in range(6)]
    assert statements == []  # answered from memory, records waiting for the batch's commit
    core.commit_deferred()
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO authorizations")
    stored = [r.authorization_reference for r in core.records().authorizations]
    assert stored[3:] == refs and len(set(stored)) == 9
