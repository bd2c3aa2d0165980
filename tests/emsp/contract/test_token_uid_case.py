"""Token uids are case-insensitive (OCPI types: Token.uid is a CiString(36)) everywhere the eMSP
looks one up, and stored and sent as issued: the contract API refuses a second token differing only
in case and finds a token in any case; real-time authorization answers for our token, as issued,
whatever case the CPO sends, and sees its blocking at once (the in-memory index)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from emsp_helpers import Client, V
from fastapi.testclient import TestClient

from emsp.core import EmspCore
from emsp.model import FraudDecisionRecord
from emsp.reconciliation import FraudIndex, TruthSession

TOKEN = {"uid": "TOK001", "contract_id": "NL-EMS-C00000001-X"}


def _authorize(cpo: Client, uid: str) -> tuple[int, dict[str, Any]]:
    resp = cpo.call("POST", f"{V}/tokens/{uid}/authorize", {"location_id": "LOC1"})
    return resp.status, resp.json()


def test_a_uid_differing_only_in_case_is_the_same_token(api: TestClient) -> None:
    assert api.post("/api/v1/tokens", json=TOKEN).status_code == 201
    again = api.post("/api/v1/tokens", json={"uid": "tok001", "contract_id": "NL-EMS-C00000002-X"})
    assert again.status_code == 409
    for uid in ("tok001", "Tok001", "TOK001"):
        got = api.get(f"/api/v1/tokens/{uid}")
        assert got.status_code == 200 and got.json()["uid"] == "TOK001"
        assert got.json()["contract_id"] == TOKEN["contract_id"]
    assert [t["uid"] for t in api.get("/api/v1/tokens").json()["items"]] == ["TOK001"]


def test_authorization_in_any_case_answers_for_our_token_as_issued(
    api: TestClient, cpo: Client, api_core: EmspCore
) -> None:
    api.post("/api/v1/tokens", json=TOKEN)
    for uid in ("TOK001", "tok001", "Tok001"):  # the first fills the in-memory index
        status, body = _authorize(cpo, uid)
        assert status == 200 and body["data"]["allowed"] == "ALLOWED", body
        assert body["data"]["token"]["uid"] == "TOK001"
    assert api.post("/api/v1/tokens/tok001/block").json()["valid"] is False
    for uid in ("TOK001", "tok001", "Tok001"):  # the block evicted the token whatever case it was read in
        status, body = _authorize(cpo, uid)
        assert status == 200 and body["data"]["allowed"] == "BLOCKED", body
    # Every record names the token as issued: its history (fraud rules) is one token's.
    assert {r.token_uid for r in api_core.records().authorizations} == {"TOK001"}
    status, body = _authorize(cpo, "TOK002")
    assert status == 404 and body["status_code"] == 2004


def test_reconciliation_finds_a_fraud_refusal_of_the_token_in_another_case() -> None:
    plugged = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    at = plugged + timedelta(seconds=1)
    refusal = FraudDecisionRecord("TOK001", "RFID", None, "cpo1", "LOC1", None, at, "impossible_travel",
                                  "refuse", "")  # fmt: skip
    visit = TruthSession("v1", "cpo1", "CS-1", 1, "tok001", True, False, None, None, plugged, None, None,
                         Decimal(0), None, None, "EUR")  # fmt: skip
    assert FraudIndex.of([refusal]).refusal(visit) is refusal
