from __future__ import annotations

import pytest

from bench.expectations import evaluate
from bench.scenario import Expectation
from bench.summary import percentile

SUMMARY = {
    "sessions": {"started": 10, "completed": 10},
    "energy_kwh": {"truth": "12.50", "cdr": "12.5"},
    "authorizations": {"rejected": 1},
}


@pytest.mark.parametrize(
    ("metric", "op", "value", "passed"),
    [
        ("sessions.completed", "==", "sessions.started", True),
        ("energy_kwh.cdr", "==", "energy_kwh.truth", True),  # decimal equality, not string equality
        ("authorizations.rejected", ">=", 1, True),
        ("authorizations.rejected", ">", 1, False),
        ("sessions.completed", "<", "9.5", False),
        ("sessions.nope", "==", 1, False),
    ],
)
def test_expectations(metric: str, op: str, value: object, passed: bool) -> None:
    [result] = evaluate([Expectation(metric=metric, op=op, value=value)], SUMMARY)  # type: ignore[arg-type]
    assert result.passed is passed


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([], 50, 0), ([5], 99, 5), ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 95, 4), (list(range(1, 101)), 95, 95)],
)
def test_nearest_rank_percentile(values: list[int], pct: int, expected: int) -> None:
    from decimal import Decimal

    assert percentile([Decimal(v) for v in values], pct) == Decimal(expected)


@pytest.mark.parametrize(
    ("value", "text"), [("113.0960", "113.096"), ("100", "100"), ("1E+2", "100"), ("0.000", "0")]
)
def test_plain_decimal_text(value: str, text: str) -> None:
    from decimal import Decimal

    from bench.summary import plain

    assert plain(Decimal(value)) == text


def test_findings_are_counted_per_partner() -> None:
    from datetime import UTC, datetime

    from bench.summary import build_summary
    from emsp.model import EmspRecords, FindingRecord, PartyRef
    from emsp.reconciliation import Reconciliation

    def finding(partner: str) -> FindingRecord:
        at = datetime(2026, 3, 2, 7, tzinfo=UTC)
        return FindingRecord(partner, PartyRef("DE", "CPA"), "stale_update", "locations", "L1", "", at)

    records = EmspRecords((), (), (), (), (), findings=(finding("cpo-b"), finding("cpo-b"), finding("x")))
    summary = build_summary(
        scenario="s", seed=1, runtime="sim", truths=[], authorizations={"cpo-a": [], "cpo-b": []},
        records=records, reconciliation=Reconciliation(()), messages={}, unserved_arrivals=0,
    )  # fmt: skip
    assert list(summary["partners"]) == ["cpo-a", "cpo-b"]
    assert [summary["partners"][p]["findings"]["total"] for p in ("cpo-a", "cpo-b")] == [0, 2]
    assert [summary["partners"][p]["findings"]["stale_update"] for p in ("cpo-a", "cpo-b")] == [0, 2]
    # every kind is a path before any run has seen one, so an expectation may name it
    assert summary["partners"]["cpo-a"]["findings"]["plain_token"] == 0


def test_a_counted_finding_row_counts_its_count() -> None:
    from datetime import UTC, datetime

    from bench.summary import finding_counts
    from emsp.model import FindingRecord, PartyRef

    at = datetime(2026, 3, 2, 7, tzinfo=UTC)
    rows = [FindingRecord("p", PartyRef("DE", "CPA"), "plain_token", "", "", "", at, count=7)]
    assert finding_counts(rows)["plain_token"] == 7 and finding_counts(rows)["total"] == 7


def test_cdr_delivery_counts_recognised_repeats_and_reconciled_late_cdrs_per_partner() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from bench.summary import CdrDelivery, build_summary
    from emsp.model import CdrInfo, DuplicateCdrRecord, EmspRecords, Money, PartyRef
    from emsp.reconciliation import Reconciliation, ReconciliationRow

    at = datetime(2026, 3, 2, 19, tzinfo=UTC)
    party = PartyRef("DE", "CPB")

    def cdr(cdr_id: str) -> CdrInfo:
        cost = Money(Decimal(1), Decimal(1), "EUR")
        return CdrInfo(
            "cpo-b", party, cdr_id, f"S-{cdr_id}", "T", "C", None, "L", Decimal(1), cost, at, at, at, False
        )

    repeats = (
        DuplicateCdrRecord("cpo-b", party, "C1", at, identical=True),
        DuplicateCdrRecord("cpo-b", party, "C2", at, identical=False),  # changed content: not a retry
    )
    rows = (
        ReconciliationRow(None, (cdr("C3"),), None, "matched", ""),
        ReconciliationRow(None, (cdr("C4"),), None, "energy_mismatch", ""),
    )
    records = EmspRecords((), (), (cdr("C3"), cdr("C4")), repeats, ())
    summary = build_summary(
        scenario="s", seed=1, runtime="sim", truths=[], authorizations={"cpo-a": [], "cpo-b": []},
        records=records, reconciliation=Reconciliation(rows), messages={}, unserved_arrivals=0,
        deliveries={"cpo-b": CdrDelivery(resent=("C1", "C2"), late=("C3", "C4"))},
    )  # fmt: skip
    expected = {"resent": 2, "resent_recognised": 1, "resent_refused": 0, "late": 2, "late_matched": 1}
    assert summary["cdr_delivery"] == summary["partners"]["cpo-b"]["cdr_delivery"] == expected
    assert summary["partners"]["cpo-a"]["cdr_delivery"] == dict.fromkeys(expected, 0)


def test_a_repeat_of_a_cdr_the_emsp_refused_is_no_repeat_it_could_recognise() -> None:
    from bench.summary import split_refused

    # C1: every copy refused, none held; C2: a copy refused after the first was stored (its answer
    # lost): held, so a repeat to recognise; C3: taken twice; C4: refused once, never sent again.
    kept, of_refused = split_refused(["C1", "C2", "C3"], ["C1", "C1", "C2", "C4"], {"C2", "C3"})
    assert (kept, of_refused) == (["C2", "C3"], ["C1"])
