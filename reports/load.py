"""Read a run directory's records (the files the runner writes) into typed tables.

Only the files named in the run-directory contract are read; nothing here imports the bench,
simulators or eMSP, so a report can be rebuilt from an archived run directory alone.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

SUMMARY_FILE = "summary.json"
SESSIONS_FILE = "reconciliation.csv"
AUTHORIZATIONS_FILE = "authorizations.csv"
TRACE_FILE = "trace.jsonl"
TRACE_FILE_GZIP = "trace.jsonl.gz"  # the same lines, gzip-compressed (`run --trace-gzip`)
TRACE_FILES: tuple[str, ...] = (TRACE_FILE, TRACE_FILE_GZIP)
METRICS_FILE = "metrics.prom"
PERFORMANCE_FILE = "performance.json"
SCENARIO_FILE = "scenario.json"  # the scenario as run (after --seed and --set overrides)
METRIC_COLUMNS: tuple[str, ...] = ("metric", "labels", "value")

SESSION_COLUMNS: tuple[str, ...] = (
    "session_key",
    "cpo",
    "station_id",
    "connector_id",
    "token_uid",
    "transaction_id",
    "session_id",
    "cdr_id",
    "plugged_at",
    "started_at",
    "ended_at",
    "truth_energy_kwh",
    "cdr_energy_kwh",
    "invoiced_energy_kwh",
    "truth_cost",
    "cdr_cost",
    "invoiced_cost",
    "currency",
    "class",
    "detail",
)
SESSION_TIME_COLUMNS: tuple[str, ...] = ("plugged_at", "started_at", "ended_at")
# Money and energy stay Decimal (object column, None where unknown) so sums are exact.
SESSION_DECIMAL_COLUMNS: tuple[str, ...] = (
    "truth_energy_kwh",
    "cdr_energy_kwh",
    "invoiced_energy_kwh",
    "truth_cost",
    "cdr_cost",
    "invoiced_cost",
)
AUTHORIZATION_COLUMNS: tuple[str, ...] = ("at", "partner", "token_uid", "result", "latency_ms")
TRACE_COUNT_COLUMNS: tuple[str, ...] = ("proto", "src", "dst", "messages")


class RunRecordsError(ValueError):
    """A run record is missing or malformed; the message names the file and the reason."""


@dataclass(frozen=True)
class RunRecords:
    run_dir: Path
    summary: dict[str, Any]
    sessions: pd.DataFrame
    authorizations: pd.DataFrame
    # Messages per (proto, src, dst) from the trace; empty when there is no trace.
    trace_counts: pd.DataFrame = field(default_factory=lambda: empty_frame(TRACE_COUNT_COLUMNS))
    # The trace file that was read (trace.jsonl or trace.jsonl.gz); None when there is none
    # (`run --trace off`) or it was not asked for.
    trace_file: str | None = None
    # The eMSP's business metrics at the end of the run (Prometheus exposition in metrics.prom).
    metrics: pd.DataFrame = field(default_factory=lambda: empty_frame(METRIC_COLUMNS))
    # Wall-clock figures (performance.json): kept apart from summary.json, which must be reproducible.
    performance: dict[str, Any] = field(default_factory=dict)
    # The scenario as run (scenario.json); empty for run directories written before it existed.
    scenario: dict[str, Any] = field(default_factory=dict)


def load_run(run_dir: Path, *, trace: bool = True) -> RunRecords:
    """Load a run directory. Only summary.json is mandatory; absent CSVs give empty tables."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunRecordsError(f"{run_dir}: not a directory (expected a run directory)")
    trace_path = find_trace(run_dir) if trace else None
    return RunRecords(
        run_dir=run_dir,
        summary=load_summary(run_dir / SUMMARY_FILE),
        sessions=load_sessions(run_dir / SESSIONS_FILE),
        authorizations=load_authorizations(run_dir / AUTHORIZATIONS_FILE),
        trace_counts=count_trace(trace_path) if trace_path else empty_frame(TRACE_COUNT_COLUMNS),
        trace_file=trace_path.name if trace_path else None,
        metrics=load_metrics(run_dir / METRICS_FILE),
        performance=_optional_json(run_dir / PERFORMANCE_FILE),
        scenario=_optional_json(run_dir / SCENARIO_FILE),
    )


def load_metrics(path: Path) -> pd.DataFrame:
    """metrics.prom as rows (metric, labels, value); histogram buckets are left out (sum and count stay)."""
    if not path.is_file():
        return empty_frame(METRIC_COLUMNS)
    rows = []
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                continue
            labels = ", ".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            rows.append((sample.name, labels, sample.value))
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS)) if rows else empty_frame(METRIC_COLUMNS)


def _optional_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RunRecordsError(f"{path}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise RunRecordsError(f"{path}: invalid JSON: {exc}") from exc
    return data if isinstance(data, dict) else {}


def load_summary(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise RunRecordsError(f"{path}: summary.json not found; is {path.parent} a complete run directory?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise RunRecordsError(f"{path}: not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise RunRecordsError(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RunRecordsError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def load_sessions(path: Path) -> pd.DataFrame:
    """reconciliation.csv: text columns as str ('' where unknown), times UTC, money/energy Decimal."""
    if not path.is_file():
        return empty_frame(SESSION_COLUMNS)
    df = _read_text_csv(path, SESSION_COLUMNS)
    for col in SESSION_TIME_COLUMNS:
        df[col] = _parse_times(df[col], path, col)
    for col in SESSION_DECIMAL_COLUMNS:
        df[col] = _parse_decimals(df[col], path, col)
    return df


def load_authorizations(path: Path) -> pd.DataFrame:
    """authorizations.csv (optional): `at` UTC, `latency_ms` float (a measurement, not money)."""
    if not path.is_file():
        return empty_frame(AUTHORIZATION_COLUMNS)
    df = _read_text_csv(path, AUTHORIZATION_COLUMNS)
    df["at"] = _parse_times(df["at"], path, "at")
    latency = pd.to_numeric(df["latency_ms"].replace("", None), errors="coerce")
    bad = latency.isna() & (df["latency_ms"] != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise RunRecordsError(
            f"{path}: column latency_ms, data row {row + 1}: not a number: {df['latency_ms'].iloc[row]!r}"
        )
    df["latency_ms"] = latency.astype("float64")
    return df


def find_trace(run_dir: Path) -> Path | None:
    """The run directory's trace, plain or gzip (a run writes one of them), or None if it has none."""
    for name in TRACE_FILES:
        path = Path(run_dir) / name
        if path.is_file():
            return path
    return None


def iter_trace(path: Path) -> Iterator[dict[str, Any]]:
    """The trace's messages in order, from trace.jsonl or trace.jsonl.gz. Streams: traces run to
    millions of lines. A malformed line or a damaged gzip file is a RunRecordsError naming the line."""
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RunRecordsError(f"{path}: line {lineno}: invalid JSON: {exc}") from exc
                if not isinstance(msg, dict):
                    raise RunRecordsError(f"{path}: line {lineno}: expected a JSON object")
                yield msg
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        # gzip.BadGzipFile is an OSError; a truncated file ends in EOFError.
        raise RunRecordsError(f"{path}: unreadable after line {lineno}: {exc}") from exc


def _open_text(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def count_trace(path: Path) -> pd.DataFrame:
    """Messages per (proto, src, dst)."""
    if not path.is_file():
        return empty_frame(TRACE_COUNT_COLUMNS)
    counts: Counter[tuple[str, str, str]] = Counter()
    for msg in iter_trace(path):
        counts[(str(msg.get("proto", "")), str(msg.get("src", "")), str(msg.get("dst", "")))] += 1
    # Sorted so the table (and the report) does not depend on first-seen order.
    rows = [(*key, n) for key, n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=list(TRACE_COUNT_COLUMNS))


def empty_frame(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({col: pd.Series([], dtype=object) for col in columns})


def _read_text_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    # dtype=str + keep_default_na=False: ids like "007" or "NA" stay verbatim; unknown cells are "".
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [col for col in required if col not in df.columns]
    if missing:
        raise RunRecordsError(f"{path}: missing column(s): {', '.join(missing)}")
    return df


def _parse_times(values: pd.Series, path: Path, col: str) -> pd.Series:
    try:
        return pd.to_datetime(values.replace("", None), utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise RunRecordsError(f"{path}: column {col}: not an ISO-8601 time: {exc}") from exc


def _parse_decimals(values: pd.Series, path: Path, col: str) -> pd.Series:
    parsed: list[Decimal | None] = []
    for row, text in enumerate(values.tolist()):
        if text == "":
            parsed.append(None)
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise RunRecordsError(f"{path}: column {col}, data row {row + 1}: not a decimal number: {text!r}")
        parsed.append(value)
    return pd.Series(parsed, index=values.index, dtype=object, name=col)
