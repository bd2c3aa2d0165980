from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
from reports_testdata import RunFactory, make_summary

from reports import load_run, tables


def _kpis(summary: dict[str, object]) -> dict[str, object]:
    df = tables.kpi_table(summary)
    return dict(zip(df["kpi"], df["value"], strict=True))


def test_kpi_table_flattens_summary_with_exact_decimals() -> None:
    kpis = _kpis(make_summary())
    assert kpis["scenario"] == "smoke"
    assert kpis["sessions.started"] == 4
    assert kpis["authorizations.latency_ms.p95"] == 80.2
    assert kpis["energy_kwh.truth"] == Decimal("21.0")
    assert kpis["revenue.EUR"] == Decimal("7.7750")
    assert str(kpis["revenue.EUR"]) == "7.7750"  # scale kept for display
    assert kpis["energy_kwh.cdr_minus_truth"] == Decimal("-3.7")
    assert not any(k.startswith(("reconciliation", "expectations")) for k in kpis)


def test_reconciliation_counts_order_share_and_csv_cross_check(run_dir: Path) -> None:
    rec = load_run(run_dir)
    df = tables.reconciliation_counts(rec.summary, rec.sessions)
    assert df["class"].tolist()[0] == "matched"
    by_class = df.set_index("class")
    assert by_class.loc["matched", "count"] == 2 and by_class.loc["matched", "rows"] == 2
    assert by_class.loc["missing_cdr", "count"] == 1 and by_class.loc["missing_cdr", "rows"] == 1
    assert by_class.loc["orphan_cdr", "count"] == 0 and by_class.loc["orphan_cdr", "rows"] == 0
    assert by_class.loc["matched", "share_pct"] == Decimal("40.0")


def test_reconciliation_counts_class_only_in_csv() -> None:
    sessions = pd.DataFrame({"class": ["matched", "new_class"]})
    df = tables.reconciliation_counts({"reconciliation": {"matched": 1}}, sessions)
    assert df["class"].tolist() == ["matched", "new_class"]
    assert df["count"].tolist() == [1, None] and df["rows"].tolist() == [1, 1]


def test_mismatches_first_keeps_file_order(run_dir: Path) -> None:
    sessions = load_run(run_dir).sessions
    assert tables.mismatches(sessions)["session_key"].tolist() == ["k2", "k3", "k5"]
    assert tables.sessions_mismatches_first(sessions)["session_key"].tolist() == [
        "k2",
        "k3",
        "k5",
        "k1",
        "k4",
    ]


def test_per_cpo_exact_sums_and_total(run_dir: Path) -> None:
    df = tables.per_cpo(load_run(run_dir).sessions).set_index("cpo")
    assert df.index.tolist() == ["CPO-A", "CPO-B", tables.TOTAL_LABEL]
    a, b, total = df.loc["CPO-A"], df.loc["CPO-B"], df.loc[tables.TOTAL_LABEL]
    assert (a["rows"], a["sessions"], a["mismatched"]) == (3, 2, 2)
    assert (b["rows"], b["sessions"], b["mismatched"]) == (2, 2, 1)
    assert b["truth_kwh"] == Decimal("3.4") and b["cdr_kwh"] == Decimal("0.2")
    assert a["revenue_EUR"] == Decimal("7.6950")
    # Exact: float addition would give 21.000000000000004 or similar.
    assert total["truth_kwh"] == Decimal("21.0")
    assert total["cdr_kwh"] == Decimal("17.3") and total["invoiced_kwh"] == Decimal("17.3")
    assert str(total["revenue_EUR"]) == make_summary()["revenue"]["EUR"]


def test_per_cpo_empty(make_run: RunFactory) -> None:
    df = tables.per_cpo(load_run(make_run(sessions=None)).sessions)
    assert df.empty and "truth_kwh" in df.columns


def test_authorization_results(run_dir: Path) -> None:
    df = tables.authorization_results(load_run(run_dir).authorizations).set_index("partner")
    assert df.loc["CPO-A", "ALLOWED"] == 2 and df.loc["CPO-A", "NOT_ALLOWED"] == 1
    assert df.loc["CPO-B", "total"] == 2


def test_expectations_verdict() -> None:
    assert tables.expectations_verdict(make_summary()) is False
    assert tables.expectations_verdict(make_summary(expectations=[])) is None
    held = [{"name": "x", "metric": "m", "op": "==", "expected": "1", "actual": "1", "passed": True}]
    assert tables.expectations_verdict(make_summary(expectations=held)) is True


def test_to_decimal_refuses_floats() -> None:
    assert tables.to_decimal("0.10") == Decimal("0.10")
    assert tables.to_decimal(3) == Decimal(3)
    assert (
        tables.to_decimal(0.1) is None
        and tables.to_decimal("abc") is None
        and tables.to_decimal(None) is None
    )


def test_a_rightly_refused_token_is_not_a_mismatch() -> None:
    from reports import tables

    frame = pd.DataFrame({"class": ["matched", "refused", "missing_cdr", "wrongly_refused"]})
    assert list(tables.mismatches(frame)["class"]) == ["missing_cdr", "wrongly_refused"]
    assert list(tables.sessions_mismatches_first(frame)["class"])[:2] == ["missing_cdr", "wrongly_refused"]


def test_partners_table_one_row_per_partner_with_the_classes_that_occurred() -> None:
    def figures(started: int, p99: str, refused: int) -> dict[str, object]:
        return {
            "sessions": {"started": started, "completed": started},
            "authorizations": {"accepted": started, "rejected": refused,
                               "latency_ms": {"p50": "100", "p95": "150", "p99": p99}},
            "cdrs": started,
            "energy_kwh": {"truth": "10.5", "cdr": "10.5", "invoiced": "10.5"},
            "revenue": {"EUR": "3.1000"},
            "reconciliation": {"matched": started, "refused": refused, "missing_cdr": 0},
            "findings": 0,
        }  # fmt: skip

    summary = make_summary(partners={"cpo-a": figures(3, "180", 0), "cpo-b": figures(2, "2100", 1)})
    table = tables.partners_table(summary)
    assert table["partner"].tolist() == ["cpo-a", "cpo-b"]
    assert table["latency_ms p99"].tolist() == [Decimal("180"), Decimal("2100")]
    assert table["revenue.EUR"].tolist() == [Decimal("3.1000"), Decimal("3.1000")]
    assert "reconciliation.refused" in table.columns and "reconciliation.missing_cdr" not in table.columns
    assert tables.partners_table(make_summary()).empty  # a summary from before per-partner figures
