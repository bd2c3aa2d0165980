from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from reports_testdata import SESSION_FIELDS, SESSIONS, RunFactory, session_row, write_csv

from reports import RunRecordsError, load_run
from reports.load import AUTHORIZATION_COLUMNS, SESSION_COLUMNS


def test_load_run_types(run_dir: Path) -> None:
    rec = load_run(run_dir)
    assert rec.summary["scenario"] == "smoke"
    assert list(rec.sessions.columns) == list(SESSION_COLUMNS)
    assert len(rec.sessions) == len(SESSIONS)
    first = rec.sessions.iloc[0]
    assert first["truth_cost"] == Decimal("4.5450") and isinstance(first["truth_cost"], Decimal)
    assert first["started_at"] == pd.Timestamp("2024-06-01T08:01:00Z")
    missing_cdr = rec.sessions.iloc[2]
    assert missing_cdr["cdr_energy_kwh"] is None and missing_cdr["cdr_id"] == ""
    assert pd.isna(rec.sessions.iloc[4]["started_at"])
    assert rec.authorizations["latency_ms"].tolist() == [12.5, 20.0, 8.0, 95.0, 30.0]


def test_trace_counts_per_proto_src_dst(run_dir: Path) -> None:
    counts = load_run(run_dir).trace_counts
    as_rows = [tuple(r) for r in counts.itertuples(index=False)]
    assert as_rows == [
        ("ocpi2.2.1", "cpo-a", "emsp", 1),
        ("ocpp1.6", "ST-1", "csms-a", 2),
        ("ocpp1.6", "csms-a", "ST-1", 1),
    ]
    assert load_run(run_dir, trace=False).trace_counts.empty


def test_optional_files_absent(make_run: RunFactory) -> None:
    rec = load_run(make_run(sessions=None, authorizations=None, trace=None))
    assert rec.sessions.empty and list(rec.sessions.columns) == list(SESSION_COLUMNS)
    assert rec.authorizations.empty and list(rec.authorizations.columns) == list(AUTHORIZATION_COLUMNS)
    assert rec.trace_counts.empty


def test_missing_summary_is_a_clear_error(run_dir: Path) -> None:
    (run_dir / "summary.json").unlink()
    with pytest.raises(RunRecordsError, match=r"summary\.json not found"):
        load_run(run_dir)


def test_summary_must_be_an_object(run_dir: Path) -> None:
    (run_dir / "summary.json").write_text(json.dumps([1, 2]), encoding="utf-8")
    with pytest.raises(RunRecordsError, match="expected a JSON object"):
        load_run(run_dir)


def test_bad_decimal_names_column_and_row(run_dir: Path) -> None:
    write_csv(
        run_dir / "reconciliation.csv", SESSION_FIELDS, [session_row(cdr_cost="1,20", **{"class": "x"})]
    )
    with pytest.raises(RunRecordsError, match=r"cdr_cost, data row 1: not a decimal number: '1,20'"):
        load_run(run_dir)


def test_missing_column_is_named(run_dir: Path) -> None:
    (run_dir / "authorizations.csv").write_text("at,partner\n", encoding="utf-8")
    with pytest.raises(RunRecordsError, match=r"authorizations\.csv: missing column"):
        load_run(run_dir)


def test_metrics_and_performance_are_loaded_when_present(tmp_path: Path) -> None:
    from reports.load import load_metrics, load_run

    (tmp_path / "summary.json").write_text('{"scenario": "x"}')
    (tmp_path / "metrics.prom").write_text(
        "# TYPE emsp_authorizations_total counter\n"
        'emsp_authorizations_total{partner="cpo-a",result="ALLOWED"} 3.0\n'
        "# TYPE emsp_cdr_settlement_lag_seconds histogram\n"
        'emsp_cdr_settlement_lag_seconds_bucket{le="+Inf"} 2.0\n'
        "emsp_cdr_settlement_lag_seconds_count 2.0\n"
        "emsp_cdr_settlement_lag_seconds_sum 5.5\n"
    )
    (tmp_path / "performance.json").write_text('{"wall_seconds": 1.5}')
    records = load_run(tmp_path)
    rows = {(r.metric, r.labels): r.value for r in records.metrics.itertuples()}
    assert rows == {
        ("emsp_authorizations_total", "partner=cpo-a, result=ALLOWED"): 3.0,
        ("emsp_cdr_settlement_lag_seconds_count", ""): 2.0,
        ("emsp_cdr_settlement_lag_seconds_sum", ""): 5.5,
    }
    assert records.performance == {"wall_seconds": 1.5}
    assert load_metrics(tmp_path / "absent.prom").empty
