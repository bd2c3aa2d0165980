"""Reconciliation of cloned-token visits and of honest visits refused by a fraud rule, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from test_reconciliation import CDR, LINE, T0, TRUTH

from emsp.model import EmspRecords, FraudDecisionRecord
from emsp.reconciliation import reconcile

REFUSED = replace(
    TRUTH, authorized=False, transaction_id=None, session_id=None, started_at=None, ended_at=None
)


def decision(
    decision: str, after: timedelta, object_id: str | None = None, uid: str = "AA11"
) -> FraudDecisionRecord:
    rule = "impossible_travel"
    return FraudDecisionRecord(uid, "RFID", None, "cpo-a", "L1", object_id, T0 + after, rule, decision, "far")


@pytest.mark.parametrize(
    ("name", "truth", "decisions", "cdr_ref", "expected"),
    [
        ("clone refused by a rule", replace(REFUSED, fraudulent=True),
         [decision("refuse", timedelta(seconds=1))], None, "fraud_caught"),
        ("clone refused for another reason", replace(REFUSED, fraudulent=True), [], None, "fraud_caught"),
        ("clone charged unflagged", replace(TRUTH, fraudulent=True), [], None, "fraud_missed"),
        ("clone charged, its authorization flagged", replace(TRUTH, fraudulent=True),
         [decision("flag", timedelta(hours=2), "NLEMS1")], "NLEMS1", "fraud_caught"),
        ("clone charged, its CDR flagged", replace(TRUTH, fraudulent=True),
         [decision("flag", timedelta(hours=2), "cdr:DE/CPA/S1-CDR")], None, "fraud_caught"),
        ("clone charged, another token flagged", replace(TRUTH, fraudulent=True),
         [decision("flag", timedelta(hours=2), "NLEMS9")], "NLEMS1", "fraud_missed"),
        ("honest refused by a fraud rule", REFUSED, [decision("refuse", timedelta(seconds=1))], None,
         "honest_wrongly_refused"),
        ("honest refused, the fraud refusal was another visit's", REFUSED,
         [decision("refuse", timedelta(minutes=30))], None, "wrongly_refused"),
        ("honest refused, another token's fraud refusal", REFUSED,
         [decision("refuse", timedelta(seconds=1), uid="BB22")], None, "wrongly_refused"),
        ("honest and flagged still matches", TRUTH,
         [decision("flag", timedelta(hours=2), "NLEMS1")], "NLEMS1", "matched"),
    ],
)  # fmt: skip
def test_fraud_classes(
    name: str, truth: object, decisions: list[FraudDecisionRecord], cdr_ref: str | None, expected: str
) -> None:
    cdrs = (replace(CDR, authorization_reference=cdr_ref),)
    records = EmspRecords((), (), cdrs, (), (LINE,), fraud_decisions=tuple(decisions))
    rows = reconcile([truth], records).rows  # type: ignore[list-item]
    assert [r.klass for r in rows if r.truth is not None] == [expected], name
