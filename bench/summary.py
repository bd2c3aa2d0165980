"""summary.json (design: Contracts): counts as integers, money and energy as decimal strings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from emsp.model import EmspRecords
from emsp.reconciliation import Reconciliation, TruthSession
from simulators.cpo.truth import AuthorizationRecord

MS = Decimal("0.001")


def plain(value: Decimal) -> str:
    """Exact decimal text without trailing zeros or exponent: 113.0960 -> '113.096', 100 -> '100'."""
    return format(value.normalize(), "f")


def percentile(values: Sequence[Decimal], pct: int) -> Decimal:
    """Nearest-rank percentile: always one of the observed values, so it is exact and reproducible."""
    if not values:
        return Decimal(0)
    ordered = sorted(values)
    rank = max(1, -(-pct * len(ordered) // 100))
    return ordered[rank - 1]


def build_summary(
    *,
    scenario: str,
    seed: int,
    runtime: str,
    truths: Sequence[TruthSession],
    authorizations: Sequence[AuthorizationRecord],
    records: EmspRecords,
    reconciliation: Reconciliation,
    messages: dict[str, int],
    unserved_arrivals: int,
) -> dict[str, Any]:
    started = [t for t in truths if t.transaction_id is not None]
    completed = [t for t in started if t.ended_at is not None]
    latencies = [a.latency_ms for a in authorizations]
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for line in records.invoice_lines:
        amount = line.amount_incl_vat if line.amount_incl_vat is not None else line.amount_excl_vat
        if amount is not None:
            revenue[line.currency] += amount
    cdr_energy = sum((c.total_energy_kwh for c in records.cdrs if not c.credit), Decimal(0))
    return {
        "scenario": scenario,
        "seed": seed,
        "runtime": runtime,
        "sessions": {
            "started": len(started),
            "completed": len(completed),
            "emsp_received": len(records.sessions),
            "unserved_arrivals": unserved_arrivals,
        },
        "authorizations": {
            "accepted": sum(1 for a in authorizations if a.result == "ALLOWED"),
            "rejected": sum(1 for a in authorizations if a.result != "ALLOWED"),
            "latency_ms": {f"p{p}": percentile(latencies, p).quantize(MS) for p in (50, 95, 99)},
        },
        "energy_kwh": {
            "truth": plain(sum((t.energy_kwh for t in completed), Decimal(0))),
            "cdr": plain(cdr_energy),
            "invoiced": plain(sum((line.energy_kwh for line in records.invoice_lines), Decimal(0))),
        },
        "revenue": {currency: str(amount) for currency, amount in sorted(revenue.items())},
        "reconciliation": reconciliation.counts(),
        "messages": dict(sorted(messages.items())),
    }


def lookup(summary: dict[str, Any], path: str) -> Any:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node
