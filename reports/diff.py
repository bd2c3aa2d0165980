"""What changed between two run directories: summary figures, per-partner figures, reconciliation
classes, expectations, and (when both runs recorded it) the scenario settings. Reads records only.

A gate (`--metric PATH --max-regression PCT`) fails when the metric moved in its bad direction by
more than PCT percent of run A's value (from zero: any move in the bad direction). The bad direction
is "up" for latencies, refusals, unserved arrivals, findings and every mismatch class, "down" for
everything else; `PATH:up` or `PATH:down` says it explicitly.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reports.load import RunRecordsError, load_run
from reports.outcomes import is_mismatch

_UP_IS_WORSE = (
    "latency",
    "rejected",
    "unserved",
    "findings",
    "missing",
    "duplicate",
    "orphan",
    "mismatch",
    "wrongly",
    "open_session",
    "quote_exceeded",
    "wall_seconds",
)


@dataclass(frozen=True, slots=True)
class FigureChange:
    section: str  # "run", "reconciliation", "partner <id>", "scenario"
    path: str
    a: str
    b: str
    delta: Decimal | None
    pct: Decimal | None


@dataclass(frozen=True, slots=True)
class ExpectationChange:
    name: str
    a: str  # "PASS (got 12)", "FAIL (got 3)" or "-" (absent)
    b: str


@dataclass(frozen=True, slots=True)
class Gate:
    metric: str
    max_pct: Decimal
    up_is_worse: bool


@dataclass(frozen=True, slots=True)
class GateResult:
    gate: Gate
    a: str
    b: str
    worse_pct: Decimal | None  # None: not worse at all
    regressed: bool

    def line(self) -> str:
        moved = "no worse" if self.worse_pct is None else f"{self.worse_pct:+.2f}% worse"
        verdict = "REGRESSED" if self.regressed else "ok"
        return f"{verdict} {self.gate.metric}: {self.a} -> {self.b} ({moved}; limit {self.gate.max_pct}%)"


@dataclass(frozen=True, slots=True)
class RunDiff:
    a: Path
    b: Path
    label_a: str
    label_b: str
    figures: list[FigureChange]
    unchanged: int
    expectations: list[ExpectationChange]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{path}.")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    flat |= flatten(item, f"{path}[{index}].")
                else:
                    flat[f"{path}[{index}]"] = item
        else:
            flat[path] = value
    return flat


# Figures are counts, money, energy and milliseconds: within 1e±1000 all the arithmetic below
# (differences, percentages) stays inside Decimal's default context, which traps Overflow.
MAX_EXPONENT = 1000


def number(value: Any) -> Decimal | None:
    """`value` as a Decimal to compute with; None: not a number, not finite, or beyond 1e±1000."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    if not result.is_finite() or (result and abs(result.adjusted()) > MAX_EXPONENT):
        return None
    return result


def _section(path: str) -> str:
    if path.startswith("partners."):
        return f"partner {path.split('.')[1]}"
    return "reconciliation" if path.startswith("reconciliation.") else "run"


def _change(section: str, path: str, a: Any, b: Any) -> FigureChange:
    na, nb = number(a), number(b)
    delta = nb - na if na is not None and nb is not None else None
    pct = None
    if delta is not None and na:
        pct = delta / abs(na) * 100
        # two decimals, unless that needs more digits than the context holds (a 1e40-fold change)
        pct = pct.quantize(Decimal("0.01")) if pct.adjusted() < 25 else pct
    return FigureChange(section, path, "-" if a is None else str(a), "-" if b is None else str(b), delta, pct)


def _verdicts(summary: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for exp in summary.get("expectations") or []:
        if isinstance(exp, Mapping):
            verdict = "PASS" if exp.get("passed") is True else "FAIL"
            out[str(exp.get("name", ""))] = f"{verdict} (got {exp.get('actual', '')})"
    return out


def diff_runs(a: Path, b: Path) -> RunDiff:
    """Compare two run directories (RunRecordsError when one is not a run directory)."""
    ra, rb = load_run(a, trace=False), load_run(b, trace=False)
    sa = {k: v for k, v in ra.summary.items() if k != "expectations"}
    sb = {k: v for k, v in rb.summary.items() if k != "expectations"}
    fa, fb = flatten(sa), flatten(sb)
    figures, unchanged = [], 0
    for path in list(fa) + [p for p in fb if p not in fa]:
        if fa.get(path) == fb.get(path):
            unchanged += 1
            continue
        figures.append(_change(_section(path), path, fa.get(path), fb.get(path)))
    if ra.scenario and rb.scenario:
        ca, cb = flatten(ra.scenario), flatten(rb.scenario)
        for path in list(ca) + [p for p in cb if p not in ca]:
            if ca.get(path) != cb.get(path):
                figures.append(_change("scenario", path, ca.get(path), cb.get(path)))
    va, vb = _verdicts(ra.summary), _verdicts(rb.summary)
    expectations = [
        ExpectationChange(name, va.get(name, "-"), vb.get(name, "-"))
        for name in list(va) + [n for n in vb if n not in va]
        if va.get(name) != vb.get(name)
    ]
    label_a, label_b = _label(ra.summary), _label(rb.summary)
    return RunDiff(a, b, label_a, label_b, figures, unchanged, expectations)


def _label(summary: Mapping[str, Any]) -> str:
    scenario, seed, runtime = (str(summary.get(k, "?")) for k in ("scenario", "seed", "runtime"))
    return f"{scenario} seed {seed} ({runtime})"


def parse_gate(spec: str, max_pct: Decimal) -> Gate:
    path, _, direction = spec.partition(":")
    if direction not in ("", "up", "down"):
        raise ValueError(f"--metric {spec}: the direction after ':' is 'up' or 'down' (the bad one)")
    if direction:
        up = direction == "up"
    else:
        klass = path.rsplit(".", 1)[-1]
        # every mismatch class, and drivers an outage or the station turned away: expected, yet
        # fewer is better (an unknown token `refused` has no bad direction: it follows the demand)
        bad_class = f".{path}".find(".reconciliation.") >= 0 and (
            is_mismatch(klass) or klass in ("refused_unreachable", "refused_at_station")
        )
        up = bad_class or any(word in path.lower() for word in _UP_IS_WORSE)
    return Gate(path, max_pct, up)


def check_gates(a: Path, b: Path, gates: Sequence[Gate]) -> list[GateResult]:
    """Each gate against both runs; a path either run lacks is a RunRecordsError naming it."""
    fa = flatten(load_run(a, trace=False).summary)
    fb = flatten(load_run(b, trace=False).summary)
    results = []
    for gate in gates:
        for run, flat in ((a, fa), (b, fb)):
            figure = flat.get(gate.metric)
            if number(figure) is None:
                why = "no such numeric figure"
                if isinstance(figure, (int, float, str)) and not isinstance(figure, bool):
                    why = (
                        f"{str(figure)[:40]!r} is no finite number within 1e-{MAX_EXPONENT}..1e{MAX_EXPONENT}"
                    )
                raise RunRecordsError(f"{run / 'summary.json'}: --metric {gate.metric}: {why}")
        va, vb = number(fa[gate.metric]), number(fb[gate.metric])
        assert va is not None and vb is not None
        worse = (vb - va) if gate.up_is_worse else (va - vb)
        if worse <= 0:
            results.append(GateResult(gate, str(fa[gate.metric]), str(fb[gate.metric]), None, False))
            continue
        pct = (worse / abs(va) * 100) if va else Decimal("Infinity")
        results.append(GateResult(gate, str(fa[gate.metric]), str(fb[gate.metric]), pct, pct > gate.max_pct))
    return results


def render_html(diff: RunDiff, gates: Sequence[GateResult] = ()) -> str:
    """One self-contained page: gates, expectations that changed, then every changed figure by section."""
    e = html.escape
    title = f"emsp-bench diff: {diff.label_a} vs {diff.label_b}"
    parts = [f"<h1>{e(title)}</h1>", f"<p class=meta>A = {e(str(diff.a))}<br>B = {e(str(diff.b))}</p>"]
    if gates:
        rows = "".join(
            f"<tr class={'bad' if g.regressed else 'ok'}><td>{e(g.line())}</td></tr>" for g in gates
        )
        parts.append(f"<h2>Gates</h2><table><tbody>{rows}</tbody></table>")
    if diff.expectations:
        rows = "".join(
            f"<tr{' class=bad' if c.b.startswith('FAIL') else ''}><td>{e(c.name)}</td><td>{e(c.a)}</td>"
            f"<td>{e(c.b)}</td></tr>"
            for c in diff.expectations
        )
        parts.append(
            f"<h2>Expectations that changed</h2><table><thead><tr><th>expectation</th><th>A</th><th>B</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    sections = list(dict.fromkeys(c.section for c in diff.figures))
    for section in sections:
        rows = "".join(
            f"<tr><td>{e(c.path)}</td><td class=num>{e(c.a)}</td><td class=num>{e(c.b)}</td>"
            f"<td class=num>{e(_signed(c.delta))}</td><td class=num>{e(_pct(c.pct))}</td></tr>"
            for c in diff.figures
            if c.section == section
        )
        parts.append(
            f"<h2>{e(section)}</h2><table><thead><tr><th>figure</th><th>A</th><th>B</th><th>change</th>"
            f"<th>%</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    parts.append(f"<p class=meta>{diff.unchanged} summary figures are the same in both runs.</p>")
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def _signed(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+}"


def _pct(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+}%"


def table_rows(diff: RunDiff) -> list[tuple[str, str, str, str, str, str]]:
    return [(c.section, c.path, c.a, c.b, _signed(c.delta), _pct(c.pct)) for c in diff.figures]


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}.meta{color:#666}"
    "table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ddd;padding:.2rem .5rem}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.bad td{background:#fbe0e0}tr.ok td{background:#dff3e3}"
)
