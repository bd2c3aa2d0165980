"""The report's reader-first sections: what was simulated, mismatches in plain words, handshakes,
findings and warnings, and one panel per partner (flagged when anything needs attention)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from reports import simulated, tables
from reports.htmlparts import e as _e
from reports.htmlparts import table as _table
from reports.load import RunRecords

PlotRenderer = Callable[[], str]


def what_was_simulated(records: RunRecords, timeline: PlotRenderer) -> str:
    if not records.scenario:
        return (
            "<p class=note>This run directory has no scenario.json (written by runs since it was added).</p>"
        )
    events = simulated.events(records.scenario)
    parts = [
        _table(simulated.settings(records.scenario)),
        "<h3>Partners</h3>",
        _table(simulated.partners(records.scenario)),
        f"<h3>Timeline ({len(events)} event{'' if len(events) == 1 else 's'})</h3>",
    ]
    if not events.empty:
        parts += [timeline(), _table(events)]
    else:
        parts.append("<p class=note>No timeline events: the world stayed as configured.</p>")
    return "\n".join(parts)


def with_reasons(df: pd.DataFrame) -> pd.DataFrame:
    """The plain-words reason first, then who, then the figures."""
    if df.empty:
        return df
    reasons = [simulated.reason(str(k), str(d)) for k, d in zip(df["class"], df["detail"], strict=True)]
    out = df.drop(columns=["detail"]).copy()
    out.insert(0, "reason", reasons)
    return out


def findings_total(value: Any) -> int:
    """`partners.<id>.findings`: a count (older summaries) or per kind with a `total`."""
    if isinstance(value, dict):
        total = value.get("total")
        return total if isinstance(total, int) else sum(v for v in value.values() if isinstance(v, int))
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def quirks(run_dir: Path | None) -> str:
    """Quirks observed per partner: findings.csv (kind, count, first seen, first example)."""
    path = None if run_dir is None else run_dir / "findings.csv"
    if path is None or not path.is_file():
        return '<p class="ok">No findings.csv in this run directory.</p>'
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if df.empty:
        return '<p class="ok">No quirks observed: every partner kept to the spec as far as the eMSP saw.</p>'
    return _table(df, row_bad=lambda r: False)


def flags(summary: dict[str, Any], log: pd.DataFrame) -> str:
    partners = summary.get("partners") if isinstance(summary.get("partners"), dict) else {}
    findings = {
        str(p): findings_total(f.get("findings"))
        for p, f in (partners or {}).items()
        if isinstance(f, dict) and findings_total(f.get("findings"))
    }
    failed = log[log["event"] == "handshake_failed"] if not log.empty else log
    lines = []
    if not failed.empty:
        lines.append(f'<p class="flag">{len(failed)} credentials handshake(s) FAILED</p>')
    for partner, count in findings.items():
        what = f"{partner}: {count} finding(s): conduct the spec does not want (kept, not failed; see below)"
        lines.append(f'<p class="flag">{_e(what)}</p>')
    if not lines:
        lines.append('<p class="ok">Every handshake succeeded; no findings.</p>')
    if not log.empty:
        lines.append(_table(log, row_bad=lambda r: r["event"] == "handshake_failed" or r["level"] != "info"))
    return "\n".join(lines)


_PANEL_FIGURES = (
    ("sessions started / completed", ("sessions.started", "sessions.completed")),
    ("authorizations accepted / rejected", ("authorizations.accepted", "authorizations.rejected")),
    ("latency p50 / p95 / p99 ms", ("authorizations.latency_ms.p50", "authorizations.latency_ms.p95",
                                    "authorizations.latency_ms.p99")),
    ("CDRs", ("cdrs",)),
    ("energy kWh truth / CDR / invoiced", ("energy_kwh.truth", "energy_kwh.cdr", "energy_kwh.invoiced")),
)  # fmt: skip


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def partner_panels(records: RunRecords, log: pd.DataFrame) -> str:
    partners = records.summary.get("partners")
    if not isinstance(partners, dict) or not partners:
        return "<p class=note>No per-partner figures in summary.json.</p>"
    specs = {str(c.get("id")): c for c in records.scenario.get("cpos") or []}
    panels = []
    for partner, figures in partners.items():
        if not isinstance(figures, dict):
            continue
        rows = [(label, " / ".join(str(_dig(figures, p)) for p in paths)) for label, paths in _PANEL_FIGURES]
        revenue = figures.get("revenue") if isinstance(figures.get("revenue"), dict) else {}
        rows.append(("revenue", ", ".join(f"{v} {k}" for k, v in (revenue or {}).items()) or "-"))
        classes = figures.get("reconciliation") if isinstance(figures.get("reconciliation"), dict) else {}
        bad = {k: v for k, v in (classes or {}).items() if v and not tables.is_good(k)}
        rows.append(("reconciliation", ", ".join(f"{k} {v}" for k, v in (classes or {}).items() if v) or "-"))
        found = findings_total(figures.get("findings"))
        rows.append(("findings", str(found)))
        failed = (not log.empty) and bool(
            ((log["partner"] == partner) & (log["event"] == "handshake_failed")).any()
        )
        flagged = bool(bad) or bool(found) or failed
        spec = specs.get(str(partner), {})
        about = " · ".join(
            str(x)
            for x in (spec.get("ocpi_version") and f"OCPI {spec['ocpi_version']}", spec.get("dialect"))
            if x
        )
        status = (
            "attention: "
            + ", ".join(
                [*(f"{v} {k}" for k, v in bad.items()), *(["handshake failed"] if failed else [])]
                + ([f"{found} findings"] if found else [])
            )
            if flagged
            else "all reconciled"
        )
        table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        panels.append(
            f'<div class="panel{" flagged" if flagged else ""}"><h3>{_e(str(partner))}</h3>'
            f'<p class="meta">{_e(about)}</p><p class="{"flag" if flagged else "ok"}">{_e(status)}</p>'
            f"<table>{table}</table></div>"
        )
    return '<div class="panels">' + "".join(panels) + "</div>"
