"""Live runs: a latency expectation missed by less than the bench's own event-loop stall is inconclusive.

The eMSP answers inside the bench's event loop, and an authorization's latency holds the real time
its answer took. When the machine stalls that loop (another process has the CPU), the stall lands in
whatever latency was being measured at the time. So a latency expectation that failed by no more than
the longest such stall (the part of one the loop's thread waited for a CPU, bench/runtime/live_lag.py)
may be the bench's doing: it is marked inconclusive and not graded as the eMSP's failure (the run
exits 3 unless another expectation failed on its own, then 1). Time the loop spent running (the
eMSP's own handlers included) never excuses anything. Only figures measured in time (under
`latency_ms`); never counts, money or energy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bench.expectations import ExpectationResult
from bench.summary import lookup

TIMING_GROUP = "latency_ms"
RATIO, BASE = "p99_vs_first_hour", "p99_first_hour"  # the ratio's miss in ms is its miss x the base
UPPER_BOUNDS = ("<", "<=")
BOUNDS = ("<", "<=", ">", ">=")


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def miss_ms(result: ExpectationResult, summary: dict[str, Any]) -> Decimal | None:
    """By how many milliseconds a failed timing expectation missed; None for any other metric."""
    parts = result.metric.split(".")
    actual, expected = _number(result.actual), _number(result.expected)
    if len(parts) < 2 or parts[-2] != TIMING_GROUP or actual is None or expected is None:
        return None
    if parts[-1] == RATIO:
        # A stall in the first hour lowers the ratio, one later raises it: either bound can be missed.
        if result.op not in BOUNDS:
            return None
        base = _number(str(lookup(summary, ".".join([*parts[:-1], BASE]))))
        return None if base is None else abs(actual - expected) * base
    # A stall only ever lengthens a latency: it can explain one too high, never one too low.
    return actual - expected if result.op in UPPER_BOUNDS else None


def grade_stalls(
    results: Sequence[ExpectationResult], summary: dict[str, Any], stall_ms: Decimal
) -> list[ExpectationResult]:
    """Mark each failed timing expectation the measured stall can explain as inconclusive."""
    graded = []
    for r in results:
        missed = None if r.passed or stall_ms <= 0 else miss_ms(r, summary)
        if missed is not None and missed <= stall_ms:
            r = dataclasses.replace(
                r,
                inconclusive=f"bench timing: missed by {missed:.1f} ms, no more than the machine "
                f"stalled the bench's event loop ({stall_ms:.1f} ms waiting for a CPU)",
            )
        graded.append(r)
    return graded


def inconclusive_line(results: Sequence[ExpectationResult]) -> str:
    """One line for the console (and a suite's verdict): why the run exits 3, not 1."""
    which = "; ".join(f"{r.name!r} ({r.inconclusive})" for r in results if not r.passed and r.inconclusive)
    return (
        f"inconclusive, not graded as the eMSP's: {which}; rerun on a quieter machine or at a lower --speed"
    )
