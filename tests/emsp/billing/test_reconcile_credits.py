"""Reconciliation of corrected sessions: credit + replacement is graded on the replacement;
credit_without_rebill and rebill_without_credit name the halves that went missing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from test_reconciliation import CDR, LINE, TRUTH, _records

from emsp.reconciliation import CLASSES, reconcile

CREDIT = replace(
    CDR, cdr_id="S1-CDR-CR", credit=True, total_cost=replace(CDR.total_cost, excl_vat=Decimal("-5.50"))
)
FIXED = replace(CDR, cdr_id="S1-CDR-R1")
FIXED_LINE = replace(LINE, line_no=3, cdr_id="S1-CDR-R1")
CREDIT_LINE = replace(LINE, line_no=2, cdr_id="S1-CDR-CR", energy_kwh=Decimal("-10.000"))


@pytest.mark.parametrize(
    ("correction", "cdrs", "lines", "klass"),
    [
        ("credit_and_rebill", (CDR, CREDIT, FIXED), (LINE, CREDIT_LINE, FIXED_LINE), "matched"),
        ("credit_and_rebill", (CDR, FIXED, CREDIT), (LINE, FIXED_LINE, CREDIT_LINE), "matched"),  # reordered
        ("credit_and_rebill", (CDR, CREDIT), (LINE, CREDIT_LINE), "credit_without_rebill"),
        ("rebill_only", (CDR, FIXED), (LINE, FIXED_LINE), "rebill_without_credit"),
        ("", (CDR, FIXED), (LINE, FIXED_LINE), "duplicate_cdr"),  # nobody corrected: two CDRs
    ],
)
def test_corrected_sessions(correction: str, cdrs: tuple, lines: tuple, klass: str) -> None:
    result = reconcile([replace(TRUTH, correction=correction)], _records(cdrs, lines))
    assert [row.klass for row in result.rows] == [klass]  # the credit CDR is no orphan
    assert set(CLASSES) >= {"credit_without_rebill", "rebill_without_credit"}


def test_the_replacement_is_graded_against_the_truth() -> None:
    wrong = replace(FIXED, total_energy_kwh=Decimal("9.000"))
    result = reconcile(
        [replace(TRUTH, correction="credit_and_rebill")], _records((CDR, CREDIT, wrong), (LINE,))
    )
    assert [row.klass for row in result.rows] == ["energy_mismatch"]


@pytest.mark.parametrize(
    ("correction", "why"),
    [
        ("credit_and_rebill_without_reference", "named no credit_reference_id"),
        ("rebill_only", "without crediting the first"),
        ("credit_and_rebill", ""),  # a credit with its reference the eMSP does not hold: no more is known
    ],
)
def test_rebill_without_credit_says_why_there_is_no_credit(correction: str, why: str) -> None:
    (row,) = reconcile([replace(TRUTH, correction=correction)], _records((CDR, FIXED), (LINE,))).rows
    bare = "2 CDRs [S1-CDR, S1-CDR-R1] and no credit CDR for the first"
    assert (row.klass, row.detail.startswith(bare)) == ("rebill_without_credit", True)
    assert why in row.detail if why else row.detail == bare
