"""Self-contained static HTML report: one page, inline CSS, no JS, no external assets.

Plots are embedded in the page as PNG data URIs, so `report.html` opens on its own (a CI artifact,
a mail attachment); the PNG files are also written next to it for other uses. The page reads top
down as a person asks: the verdict, what was simulated, what went wrong (mismatched sessions with
the reason in plain words, failed handshakes, warnings), each partner, then the details. Every value
from the records is escaped: token uids, ids and details come from partners and simulators and must
never become markup.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reports import panels, plots, simulated, tables
from reports.htmlparts import e as _e
from reports.htmlparts import table as _table
from reports.load import RunRecords, load_run

REPORT_FILE = "report.html"
MAX_SESSION_ROWS = 500


@dataclass(frozen=True)
class Plot:
    file: str
    title: str


PLOT_SESSIONS = Plot("plot_sessions_over_time.png", "Sessions over time")
PLOT_LATENCY = Plot("plot_authorization_latency.png", "Authorization latency")
PLOT_ENERGY = Plot("plot_energy.png", "Energy per session: truth vs CDR")
PLOT_PARTNER_LATENCY = Plot("plot_latency_per_partner.png", "Authorization latency per partner over time")
PLOT_PERCENTILES = Plot("plot_latency_percentiles.png", "Authorization latency percentiles over time")
PLOT_TIMELINE = Plot("plot_timeline.png", "Timeline")
PLOTS: tuple[Plot, ...] = (
    PLOT_SESSIONS,
    PLOT_PERCENTILES,
    PLOT_PARTNER_LATENCY,
    PLOT_LATENCY,
    PLOT_ENERGY,
    PLOT_TIMELINE,
)
# Shown in "Plots"; the timeline is shown under "What was simulated".
_DETAIL_PLOTS = tuple(p for p in PLOTS if p is not PLOT_TIMELINE)
# Everything write_report writes: a run clears these before it starts, so none can go stale.
REPORT_FILES: tuple[str, ...] = (REPORT_FILE, *(plot.file for plot in PLOTS))


def write_report(run_dir: Path, *, max_session_rows: int = MAX_SESSION_ROWS) -> Path:
    """Write report.html and its PNG plots into `run_dir`; return the report's path."""
    run_dir = Path(run_dir)
    summary = _external_summary(run_dir)
    if summary is not None:  # against an external CSMS or eMSP: its own page (reports/external.py)
        from reports.external import render_external

        out = run_dir / REPORT_FILE
        out.write_text(render_external(summary, _PAGE, _CSS), encoding="utf-8")
        return out
    records = load_run(run_dir)
    images = {path.name: path.read_bytes() for path in write_plots(records, run_dir)}
    out = run_dir / REPORT_FILE
    page = render_report(records, max_session_rows=max_session_rows, images=images)
    out.write_text(page, encoding="utf-8")
    return out


def _external_summary(run_dir: Path) -> dict[str, Any] | None:
    import json

    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # load_run names the problem
    return (
        summary
        if isinstance(summary, dict) and summary.get("mode") in ("external_csms", "external_emsp")
        else None
    )


def write_plots(records: RunRecords, out_dir: Path) -> list[Path]:
    auth = records.summary.get("authorizations")
    latency = auth.get("latency_ms") if isinstance(auth, dict) else None
    marks = latency if isinstance(latency, dict) else None
    return [
        plots.plot_sessions_over_time(records.sessions, out_dir / PLOT_SESSIONS.file),
        plots.plot_authorization_latency(records.authorizations, out_dir / PLOT_LATENCY.file, marks=marks),
        plots.plot_latency_per_partner(records.authorizations, out_dir / PLOT_PARTNER_LATENCY.file),
        plots.plot_energy(records.sessions, out_dir / PLOT_ENERGY.file),
        simulated.plot_latency_percentiles(
            records.authorizations, records.scenario, out_dir / PLOT_PERCENTILES.file
        ),
        simulated.plot_timeline(records.scenario, out_dir / PLOT_TIMELINE.file),
    ]


def render_report(
    records: RunRecords,
    *,
    max_session_rows: int = MAX_SESSION_ROWS,
    images: Mapping[str, bytes] | None = None,
) -> str:
    """The page as a string. `images` (file name -> PNG bytes) are embedded; without them the plots
    are referenced by file name (pure: nothing is read)."""
    summary = records.summary
    scenario, seed, runtime = (str(summary.get(k, "?")) for k in ("scenario", "seed", "runtime"))
    title = f"emsp-bench report: {scenario} (seed {seed}, {runtime})"
    sessions = records.sessions
    mismatched = tables.mismatches(sessions)
    log = simulated.log_events(records.run_dir)
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(_period(summary))}</p>',
        _banner(summary),
        _section(
            "What was simulated", panels.what_was_simulated(records, lambda: _plots((PLOT_TIMELINE,), images))
        ),
        _section(
            f"Mismatched sessions ({len(mismatched)})",
            _capped(
                panels.with_reasons(mismatched), max_session_rows, "mismatched sessions", row_bad=_is_mismatch
            ),
        ),
        _section("Handshakes, findings and warnings", panels.flags(summary, log)),
        _section("Per partner", panels.partner_panels(records, log)),
        _section("Quirks observed per partner", panels.quirks(records.run_dir)),
        _section("Expectations", _expectations(summary)),
        _section("Plots", _plots(_DETAIL_PLOTS, images)),
        _section("Key figures", _table(tables.kpi_table(summary))),
        _section("Reconciliation", _reconciliation(summary, sessions)),
        _section("Per partner (summary.json partners)", _table(tables.partners_table(summary))),
        *(
            [_section("Per channel (summary.json channels)", _table(tables.channels_table(summary)))]
            if summary.get("channels")
            else []
        ),
        _section("Per CPO", _table(tables.per_cpo(sessions))),
        _section("Authorizations per partner", _table(tables.authorization_results(records.authorizations))),
        _section(f"Wire messages ({records.trace_file or 'no trace'})", _wire_messages(records)),
        _section("eMSP business metrics (metrics.prom)", _table(records.metrics)),
        _section("Performance (wall clock, performance.json)", _table(_key_values(records.performance))),
        _section(
            f"All sessions ({len(sessions)})",
            _capped(
                tables.sessions_mismatches_first(sessions), max_session_rows, "sessions", row_bad=_is_mismatch
            ),
        ),
    ]
    return _PAGE.format(title=_e(title), css=_CSS, body="\n".join(body))


def _wire_messages(records: RunRecords) -> str:
    """Messages per route from the trace, saying when the trace is absent or holds OCPI only."""
    counted = records.summary.get("messages")
    counted = counted if isinstance(counted, dict) else {}
    if records.trace_file is None:
        total = sum(n for n in counted.values() if isinstance(n, int))
        return (
            "<p class=note>This run directory has no wire trace (the run used <code>--trace off</code>, "
            f"or the file was removed). The summary counted {total} messages: see Key figures.</p>"
        )
    table = _table(records.trace_counts)
    traced = set(records.trace_counts["proto"]) if not records.trace_counts.empty else set()
    left_out = {proto: n for proto, n in counted.items() if isinstance(n, int) and n and proto not in traced}
    if left_out and all(str(proto).startswith("ocpp") for proto in left_out):
        missing = ", ".join(f"{n} {proto}" for proto, n in sorted(left_out.items()))
        table = (
            "<p class=note>The trace holds OCPI messages only (<code>--trace ocpi</code>); "
            f"the summary also counted {_e(missing)} frames.</p>\n" + table
        )
    return table


def _key_values(data: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([(str(k), v) for k, v in data.items()], columns=["figure", "value"])


def _is_mismatch(row: pd.Series) -> bool:
    return not tables.is_good(row.get("class"))


def _banner(summary: dict[str, Any]) -> str:
    exp = tables.expectations_table(summary)
    verdict = tables.expectations_verdict(summary)
    if verdict is None:
        return '<div class="banner none">NO EXPECTATIONS: the scenario defines none</div>'
    failed = int((~exp["passed"]).sum())
    if verdict:
        return f'<div class="banner pass">PASS: all {len(exp)} expectations held</div>'
    if failed == len(_inconclusive(summary)):  # live: only misses the machine's stall explains
        return (
            f'<div class="banner none">INCONCLUSIVE: {failed} of {len(exp)} expectations missed by no '
            "more than the machine stalled the bench (not graded as the eMSP's)</div>"
        )
    return f'<div class="banner fail">FAIL: {failed} of {len(exp)} expectations failed</div>'


def _reconciliation(summary: dict[str, Any], sessions: pd.DataFrame) -> str:
    counts = tables.reconciliation_counts(summary, sessions)
    note = (
        "<p class=note><code>count</code> is from summary.json, <code>rows</code> from "
        "reconciliation.csv; they should agree.</p>"
    )
    return (
        _table(counts, row_bad=lambda r: not tables.is_good(r["class"]) and bool(r["count"] or r["rows"]))
        + note
    )


def _expectations(summary: dict[str, Any]) -> str:
    exp = tables.expectations_table(summary)
    if exp.empty:
        return "<p class=note>None.</p>"
    unsure = _inconclusive(summary)
    rows = zip(exp["name"], exp["passed"], strict=True)
    verdicts = ["PASS" if p else "INCONCLUSIVE" if n in unsure else "FAIL" for n, p in rows]
    exp = exp.assign(passed=verdicts)
    return _table(exp, row_bad=lambda r: r["passed"] == "FAIL")


def _inconclusive(summary: dict[str, Any]) -> set[str]:
    """Names of the failed expectations a live run marked inconclusive (bench/stall_grading.py)."""
    raw = summary.get("expectations") or []
    failed = [e for e in raw if isinstance(e, dict) and not e.get("passed")]
    return {str(e.get("name")) for e in failed if e.get("inconclusive")}


def _plots(which: tuple[Plot, ...], images: Mapping[str, bytes] | None) -> str:
    figures = []
    for p in which:
        data = (images or {}).get(p.file)
        src = f"data:image/png;base64,{base64.b64encode(data).decode()}" if data is not None else p.file
        caption = f"<figcaption>{_e(p.title)}</figcaption>"
        figures.append(f'<figure><img src="{_e(src)}" alt="{_e(p.title)}">{caption}</figure>')
    return "\n".join(figures)


def _capped(df: pd.DataFrame, limit: int, what: str, *, row_bad: Callable[[pd.Series], bool]) -> str:
    if len(df) <= limit:
        return _table(df, row_bad=row_bad)
    note = f"<p class=note>Showing the first {limit} of {len(df)} {_e(what)}; reconciliation.csv has all.</p>"
    return note + _table(df.head(limit), row_bad=row_bad)


def _period(summary: dict[str, Any]) -> str:
    start, end = summary.get("started_at", ""), summary.get("ended_at", "")
    return f"Scenario time {start} to {end}" if start or end else ""


def _section(title: str, content: str) -> str:
    return f"<section><h2>{_e(title)}</h2>\n{content}\n</section>"


_CSS = "\n".join(
    (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem;color:#222}",
        "h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem}",
        ".meta,.note{color:#666;font-size:.9rem}",
        ".banner{padding:.7rem 1rem;font-weight:600;border-radius:4px;margin:1rem 0}",
        ".pass{background:#dff3e3;color:#135c25} .fail{background:#fbe0e0;color:#8a1414}",
        ".none{background:#eee;color:#444}",
        ".scroll{overflow-x:auto}",
        "table{border-collapse:collapse;font-size:.85rem}",
        "th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;white-space:nowrap}",
        "th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}",
        "tr.bad td{background:#fff1f0}",
        "figure{display:inline-block;margin:0 1rem 1rem 0;max-width:820px} img{max-width:100%;height:auto}",
        "h3{font-size:1rem;margin:1rem 0 .4rem}",
        ".flag{color:#8a1414;font-weight:600} .ok{color:#135c25}",
        ".panels{display:flex;flex-wrap:wrap;gap:1rem}",
        ".panel{border:1px solid #ccc;border-left:6px solid #2e8b57;border-radius:4px;padding:0 .8rem .8rem}",
        ".panel.flagged{border-left-color:#c0392b} .panel h3{margin:.4rem 0 0}",
        ".panel th{text-align:left;font-weight:normal;color:#555;background:none}",
    )
)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
{body}
</body>
</html>
"""
