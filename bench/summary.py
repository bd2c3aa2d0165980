"""summary.json (design: Contracts): counts as integers, money and energy as decimal strings.

The same figures are given for the whole run and, under `partners.<cpo id>`, for each CPO, so an
expectation can say "the other partners did not move". Key order is fixed (deterministic files).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bench.latency_windows import first_hour_figures
from emsp.findings import KINDS
from emsp.model import CdrInfo, EmspRecords, FindingRecord, FraudDecisionRecord, PartyRef
from emsp.ocpi.pull import PullStats
from emsp.reconciliation import CLASSES, Reconciliation, ReconciliationRow, TruthSession
from emsp.services.fraud import RULES
from simulators.cpo.truth import AuthorizationRecord, unanswered

# An authorization a driver charged on: the eMSP's ALLOWED, or the CPO's whitelist (mod_tokens).
ACCEPTED = frozenset({"ALLOWED", "WHITELIST"})

MS = Decimal("0.001")
# Re-pricing a CDR from its 4-decimal periods moves the total by a few 0.0001 at most: no dispute.
DISPUTE = Decimal("0.001")

# Whose figures an eMSP record counts in: (eMSP partner id, the object's party) -> CPO id. A record
# that came through a hub has the hub as its partner; its party names the CPO (bench/hubs.py).
Owner = Callable[[str, PartyRef], str]


def _as_partner(partner: str, _party: PartyRef) -> str:
    return partner


@dataclass(frozen=True, slots=True)
class CdrDelivery:
    """What a CPO did beyond POSTing each CDR once (cdr_hold): ids it sent twice, ids it sent late,
    and ids it sent again of a CDR the eMSP had refused every copy of so far (`resent_refused`)."""

    resent: tuple[str, ...] = ()
    late: tuple[str, ...] = ()
    resent_refused: tuple[str, ...] = ()


def split_refused(
    resent: Iterable[str], refused: Iterable[str], held: Container[str]
) -> tuple[list[str], list[str]]:
    """(repeats the eMSP should recognise, repeats of a CDR it refused): a CDR whose copies it
    refused and of which it holds none (it took no copy, by the answers the CPO saw or lost) gives it
    nothing to recognise a repeat by. One it holds is a repeat to recognise however it answered
    (a copy whose refusal the CPO saw after an earlier copy was stored: the repeat was not known)."""
    refused_ids = set(refused)
    kept: list[str] = []
    of_refused: list[str] = []
    for cdr_id in resent:
        (of_refused if cdr_id in refused_ids and cdr_id not in held else kept).append(cdr_id)
    return kept, of_refused


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


def _row_partner(row: ReconciliationRow, owner: Owner = _as_partner) -> str:
    if row.truth is not None:
        return row.truth.cpo
    if row.cdrs:
        return owner(row.cdrs[0].partner, row.cdrs[0].party)
    return owner(row.invoice.partner, row.invoice.party) if row.invoice else ""


def _standing(cdrs: Sequence[CdrInfo]) -> list[CdrInfo]:
    """The CDRs that stand: not credit CDRs, nor the CDRs they credited (the first of their session)."""
    credited: dict[tuple[str, str | None], int] = {}
    for c in cdrs:
        if c.credit:
            credited[(c.party.key(), c.session_id)] = credited.get((c.party.key(), c.session_id), 0) + 1
    out = []
    for c in cdrs:
        key = (c.party.key(), c.session_id)
        if c.credit:
            continue
        if credited.get(key, 0) > 0 and c.session_id is not None:
            credited[key] -= 1
            continue
        out.append(c)
    return out


def _figures(
    truths: Sequence[TruthSession],
    authorizations: Sequence[AuthorizationRecord],
    records: EmspRecords,
    rows: Iterable[ReconciliationRow],
    currencies: Iterable[str],
    partner: str | None,
    deliveries: Mapping[str, CdrDelivery],
    owner: Owner = _as_partner,
) -> dict[str, Any]:
    """Sessions, authorizations, energy, revenue and reconciliation of one partner (None: all)."""

    def mine(owner: str) -> bool:
        return partner is None or owner == partner

    started = [t for t in truths if t.transaction_id is not None and mine(t.cpo)]
    completed = [t for t in started if t.ended_at is not None]
    # The eMSP's answer times: not a CPO's own whitelist decision, nor a request it never answered
    # (connection refused, an outage's 503, a hub's 4002/4003, a link never set up).
    latencies = [a.latency_ms for a in authorizations if a.result != "WHITELIST" and not unanswered(a.result)]
    lines = [line for line in records.invoice_lines if mine(owner(line.partner, line.party))]
    cdrs = [c for c in _standing(records.cdrs) if mine(owner(c.partner, c.party))]
    revenue: dict[str, Decimal] = dict.fromkeys(currencies, Decimal(0))
    for line in lines:
        amount = line.amount_incl_vat if line.amount_incl_vat is not None else line.amount_excl_vat
        if amount is not None:
            revenue[line.currency] = revenue.get(line.currency, Decimal(0)) + amount
    classes = dict.fromkeys(CLASSES, 0)
    late = {(p, cdr_id) for p, d in deliveries.items() if mine(p) for cdr_id in d.late}
    late_matched = 0
    for row in rows:
        of_row = _row_partner(row, owner)
        if mine(of_row):
            classes[row.klass] = classes.get(row.klass, 0) + 1
            if row.klass == "matched" and any((of_row, c.cdr_id) in late for c in row.cdrs):
                late_matched += 1
    return {
        "sessions": {"started": len(started), "completed": len(completed)},
        "authorizations": {
            "accepted": sum(1 for a in authorizations if a.result in ACCEPTED),
            "rejected": sum(1 for a in authorizations if a.result not in ACCEPTED),
            "latency_ms": {f"p{p}": percentile(latencies, p).quantize(MS) for p in (50, 95, 99)},
        },
        "cdrs": len(cdrs),
        "energy_kwh": {
            "truth": plain(sum((t.energy_kwh for t in completed), Decimal(0))),
            "cdr": plain(sum((c.total_energy_kwh for c in cdrs), Decimal(0))),
            "invoiced": plain(sum((line.energy_kwh for line in lines), Decimal(0))),
        },
        "revenue": {currency: str(amount) for currency, amount in sorted(revenue.items())},
        # CDRs whose total_cost (excl. VAT) differs from the eMSP's own re-price of them: what a
        # CPO's other reading of its tariff costs (the eMSP bills its re-price; the rest is a dispute)
        "cost_disputes": sum(
            1 for line in lines if line.delta_excl_vat is not None and abs(line.delta_excl_vat) > DISPUTE
        ),
        "reconciliation": classes,
        # Repeats the eMSP recognised (same id, same content: answered, not stored or billed again)
        # against those that really reached it (the CPO's or a hub's resends, a duplicating link's
        # second copy); apart, repeats of a CDR the eMSP had refused (it held no copy to recognise
        # them by); late CDRs against those that still reconciled.
        "cdr_delivery": {
            "resent": sum(len(d.resent) for p, d in deliveries.items() if mine(p)),
            "resent_recognised": sum(
                1 for d in records.duplicate_cdrs if d.identical and mine(owner(d.partner, d.party))
            ),
            "resent_refused": sum(len(d.resent_refused) for p, d in deliveries.items() if mine(p)),
            "late": len(late),
            "late_matched": late_matched,
        },
    }


def fraud_figures(
    decisions: Sequence[FraudDecisionRecord], rows: Iterable[ReconciliationRow], partner: str | None
) -> dict[str, Any]:
    """`fraud.*`: the eMSP's fraud decisions (by decision and rule) and, graded against the truth,
    the cloned-token visits and the honest visits refused (per partner: of that CPO's visits, and
    the decisions taken on requests from that partner)."""
    mine = [d for d in decisions if partner is None or d.partner == partner]
    truths = [r.truth for r in rows if r.truth is not None and (partner is None or r.truth.cpo == partner)]
    honest = [t for t in truths if t.token_known and not t.fraudulent]
    refused = sum(1 for t in honest if not t.authorized)
    pct = (Decimal(refused * 100) / len(honest)).quantize(Decimal("0.01")) if honest else Decimal(0)
    return {
        "decisions": len(mine),
        "refused": sum(1 for d in mine if d.decision == "refuse"),
        "flagged": sum(1 for d in mine if d.decision == "flag"),
        "rules": {rule: sum(1 for d in mine if d.rule == rule) for rule in RULES},
        "sessions": {
            "fraudulent": sum(1 for t in truths if t.fraudulent),
            "honest": len(honest),
            "honest_refused": refused,
        },
        "honest_refused_pct": plain(pct),
    }


def finding_counts(findings: Iterable[FindingRecord]) -> dict[str, int]:
    """`partners.<id>.findings`: `total`, then every kind of emsp.findings (0 when not seen), so an
    expectation may name any kind before a run has seen one."""
    counts = dict.fromkeys(KINDS, 0)
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + finding.count
    return {"total": sum(counts.values()), **counts}


def build_summary(
    *,
    scenario: str,
    seed: int,
    runtime: str,
    truths: Sequence[TruthSession],
    authorizations: Mapping[str, Sequence[AuthorizationRecord]],
    records: EmspRecords,
    reconciliation: Reconciliation,
    messages: dict[str, int],
    unserved_arrivals: int,
    currencies: Iterable[str] = (),
    start: datetime | None = None,
    deliveries: Mapping[str, CdrDelivery] | None = None,
    owner: Owner = _as_partner,
    hubs: Mapping[str, Any] | None = None,
    pulls: Mapping[str, Mapping[str, int]] | None = None,
    dropped: Mapping[str, int] | None = None,
    channels: Mapping[str, tuple[str, str, str]] | None = None,
) -> dict[str, Any]:
    """`pulls`: per eMSP partner, its pull figures (emsp.ocpi.pull.PullStats); `dropped`: per CPO,
    pushes it gave up after a failure (dialect push_retry: drop).
    `authorizations` maps each CPO id (in scenario order) to the authorizations its CPO measured;
    `owner` names the CPO of a record that came through a hub; `hubs` is `hubs.<id>` (bench/hubs.py)."""
    currencies = sorted(set(currencies))
    deliveries = deliveries or {}
    every = [a for records_of_one in authorizations.values() for a in records_of_one]
    overall = _figures(truths, every, records, reconciliation.rows, currencies, None, deliveries, owner)
    findings = records.findings  # what the eMSP noticed about a partner's conduct (kept, not failed)
    partners: dict[str, Any] = {}
    for cpo_id, of_one in authorizations.items():
        figures = _figures(
            truths, of_one, records, reconciliation.rows, currencies, cpo_id, deliveries, owner
        )
        figures["findings"] = finding_counts(f for f in findings if owner(f.partner, f.party) == cpo_id)
        figures["fraud"] = fraud_figures(records.fraud_decisions, reconciliation.rows, cpo_id)
        if start is not None:  # "did this partner's p99 move?" (bench/latency_windows.py)
            figures["authorizations"]["latency_ms"] |= first_hour_figures(of_one, start)
        # What the eMSP read from this CPO's Sender interfaces (emsp.ocpi.pull) and what the CPO
        # never delivered by push: a pull that recovers everything makes up for every drop.
        figures["pull"] = PullStats().as_dict() | dict((pulls or {}).get(cpo_id, {}))
        figures["pushes_dropped"] = (dropped or {}).get(cpo_id, 0)
        partners[cpo_id] = figures
    summary = {
        "scenario": scenario,
        "seed": seed,
        "runtime": runtime,
        "sessions": overall["sessions"]
        | {"emsp_received": len(records.sessions), "unserved_arrivals": unserved_arrivals},
        "authorizations": overall["authorizations"],
        "cdrs": overall["cdrs"],
        "energy_kwh": overall["energy_kwh"],
        "revenue": overall["revenue"],
        "cost_disputes": overall["cost_disputes"],
        "reconciliation": overall["reconciliation"],
        "cdr_delivery": overall["cdr_delivery"],
        "fraud": fraud_figures(records.fraud_decisions, reconciliation.rows, None),
        "messages": dict(sorted(messages.items())),
        "partners": partners,
    }
    if hubs:  # only a scenario with hubs has the key: the other summaries stay as they were
        summary["hubs"] = dict(hubs)
        if channels:
            summary["channels"] = channel_figures(partners, channels, hubs, currencies, pulls or {})
            summary["parties"] = party_figures(partners, channels)
    return summary


def channel_figures(
    partners: Mapping[str, Any],
    channels: Mapping[str, tuple[str, str, str]],
    hubs: Mapping[str, Any],
    currencies: Sequence[str],
    pulls: Mapping[str, Mapping[str, int]],
) -> dict[str, Any]:
    """`channels.<bilateral|hub id>`: sessions, CDRs, revenue (the CPOs' CDR totals), what the hub
    charged (its fee per session) and the CDR totals after those fees, so the cost of roaming
    through a hub shows beside bilateral.
    `channels`: per CPO id, (channel, country_code, party_id)."""
    out: dict[str, Any] = {}
    names = ["bilateral", *sorted(hubs)]
    for name in names:
        mine = [cid for cid, (channel, _cc, _pid) in channels.items() if channel == name]
        revenue = dict.fromkeys(currencies, Decimal(0))
        for cid in mine:
            for currency, amount in partners[cid]["revenue"].items():
                revenue[currency] = revenue.get(currency, Decimal(0)) + Decimal(amount)
        fees = {c: Decimal(a) for c, a in (hubs[name]["fees"] if name in hubs else {}).items()}
        fees = dict.fromkeys(revenue, Decimal(0)) | fees
        pulled = pulls.get(name, {}) if name in hubs else {}
        out[name] = {
            "sessions": sum(partners[cid]["sessions"]["completed"] for cid in mine),
            "cdrs": sum(partners[cid]["cdrs"] for cid in mine),
            "matched": sum(partners[cid]["reconciliation"]["matched"] for cid in mine),
            "revenue": {c: plain(a) for c, a in sorted(revenue.items())},
            "hub_fees": {c: plain(a) for c, a in sorted(fees.items())},
            # What the CPOs' CDRs total minus the hub's fees: not the eMSP's margin (that is
            # `billed.margin`, retail - wholesale - hub fees, in a billing run).
            "cpo_revenue_after_fees": {c: plain(revenue.get(c, Decimal(0)) - fees[c]) for c in sorted(fees)},
            "pull_objects": int(pulled.get("objects", 0))
            if name in hubs
            else sum(partners[cid]["pull"]["objects"] for cid in mine),
        }
    return out


def party_figures(
    partners: Mapping[str, Any], channels: Mapping[str, tuple[str, str, str]]
) -> dict[str, Any]:
    """`parties.<CC-PID>`: per CPO party, whichever channel carried it: its sessions, CDRs and
    sessions that reconciled (the eMSP's records are keyed by country_code, party_id and id)."""
    out: dict[str, Any] = {}
    for cid, (_channel, cc, pid) in sorted(channels.items(), key=lambda item: item[1][1:]):
        figures = partners[cid]
        out[f"{cc}-{pid}"] = {
            "sessions": figures["sessions"]["completed"],
            "cdrs": figures["cdrs"],
            "matched": figures["reconciliation"]["matched"],
        }
    return out


def known_paths(summary: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Every dotted path to a leaf of a summary (what an expectation may name)."""
    paths: set[str] = set()
    for key, value in summary.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            paths |= known_paths(value, f"{path}.")
        else:
            paths.add(path)
    return paths


def lookup(summary: dict[str, Any], path: str) -> Any:
    """Follow a dotted path; a key may itself hold dots (`messages.ocpp2.0.1`): the longest one wins."""
    node: Any = summary
    rest = path
    while rest:
        if not isinstance(node, dict):
            raise KeyError(path)
        for key in sorted(node, key=len, reverse=True):
            if rest == key or rest.startswith(f"{key}."):
                node, rest = node[key], rest[len(key) + 1 :]
                break
        else:
            raise KeyError(path)
    return node
