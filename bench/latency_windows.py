"""A partner's authorization latency against its own first hour: "did this partner's p99 move?".

`p99_vs_first_hour` is the run's p99 divided by the p99 of the authorizations answered in the
first hour of the scenario (3 decimals, rounded up so a ratio never looks better than it is); 1 when
the first hour saw none. Latency is as the CPO measured it: request sent -> answer received, so it
holds both directions of the link (a link's `latency_ms` is one way).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from simulators.cpo.truth import AuthorizationRecord

FIRST_HOUR = timedelta(hours=1)
_MS = Decimal("0.001")


def _p99(values: Sequence[Decimal]) -> Decimal:
    if not values:
        return Decimal(0)
    ordered = sorted(values)
    return ordered[max(1, -(-99 * len(ordered) // 100)) - 1]


def first_hour_figures(records: Sequence[AuthorizationRecord], start: datetime) -> dict[str, Decimal]:
    first = [r.latency_ms for r in records if r.at < start + FIRST_HOUR]
    overall = _p99([r.latency_ms for r in records])
    baseline = _p99(first)
    ratio = (overall / baseline).quantize(_MS, rounding=ROUND_CEILING) if baseline > 0 else Decimal(1)
    return {"p99_first_hour": baseline.quantize(_MS), "p99_vs_first_hour": ratio}
