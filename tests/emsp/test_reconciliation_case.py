"""Reconciliation joins the bench's truth to the eMSP's records on OCPI ids, which are CiStrings:
a CDR naming its session (or a fraud flag its CDR) in another case is still that one."""

from __future__ import annotations

from dataclasses import replace

from test_reconciliation import CDR, LINE, TRUTH, _records

from emsp.model import FraudDecisionRecord
from emsp.reconciliation import reconcile


def test_a_cdr_naming_the_truths_session_in_another_case_matches_it() -> None:
    cdr = replace(CDR, session_id="s1", cdr_id="s1-cdr")
    line = replace(LINE, cdr_id="S1-CDR")  # an invoice line names the CDR as stored: any case
    assert [row.klass for row in reconcile([TRUTH], _records((cdr,), (line,))).rows] == ["matched"]


def test_a_truth_without_a_party_joins_on_the_session_id_in_any_case() -> None:
    truth = replace(TRUTH, party=None, session_id="s1")
    assert [row.klass for row in reconcile([truth], _records()).rows] == ["matched"]


def test_a_fraud_flag_names_the_cdr_in_any_case() -> None:
    flag = FraudDecisionRecord(
        "AA11", "RFID", None, "cpo-a", "L1", "cdr:DE/CPA/s1-cdr", CDR.received_at,
        "overlapping_sessions", "flag", "",
    )  # fmt: skip
    records = replace(_records(), fraud_decisions=(flag,))
    rows = reconcile([replace(TRUTH, fraudulent=True)], records).rows
    assert [row.klass for row in rows] == ["fraud_caught"]
