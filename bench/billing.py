"""The bench side of billing: drivers get accounts and contracts from `demand.contracts`, the run's
summary gets `billing.*` and `partners.<id>.margin`, the run directory gets invoices and reports.

Only a scenario with `demand.contracts` is touched: every other run, its summary and its files stay
exactly as before. Contracts are drawn from their own seeded generator (`contracts-<seed>`), so the
demand's draws (arrivals, stations) are the same with or without billing.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.billing_spec import RetailSpec
from bench.demand import Driver
from bench.scenario import Scenario
from emsp.billing.accounts import NewAccount, create_account, create_contract, create_driver, create_vehicle
from emsp.billing.contracts import CONTRACT_KINDS, ContractKind, ContractTerms, FleetTerms
from emsp.billing.invoices import (
    FLEET_COLUMNS,
    VAT_COLUMNS,
    Line,
    build_invoices,
    fleet_report,
    from_row,
    vat_report,
)
from emsp.core import EmspCore
from emsp.model import EmspRecords, PartyRef
from emsp.storage.tables import AccountRow, BillingContractRow, DriverRow, RetailLineRow

BILLING_FILES = ("invoices.json", "fleet_report.csv", "vat_report.csv")
ZERO = Decimal("0.00")


def assign_contracts(mix: Mapping[ContractKind, float], n: int, rng: random.Random) -> list[ContractKind]:
    """`n` contract kinds in the mix's proportions (largest remainder), in a seeded order."""
    total = sum(mix.values())
    kinds = [k for k in CONTRACT_KINDS if mix.get(k, 0) > 0]
    exact = {k: mix[k] / total * n for k in kinds}
    counts = {k: int(exact[k]) for k in kinds}
    for k in sorted(kinds, key=lambda k: (-(exact[k] - counts[k]), CONTRACT_KINDS.index(k)))[
        : n - sum(counts.values())
    ]:
        counts[k] += 1
    out = [k for k in kinds for _ in range(counts[k])]
    rng.shuffle(out)
    return out


def _terms(kind: ContractKind, retail: RetailSpec) -> ContractTerms:
    if kind == "fleet":
        assert retail.fleet is not None  # validated with the scenario
        fleet = FleetTerms(
            reimbursed_pct=retail.fleet.reimbursed_pct,
            cap_per_vehicle_period=retail.fleet.cap_per_vehicle_period,
        )
        return ContractTerms(kind=kind, retail=retail.pay_as_you_go, fleet=fleet)
    return ContractTerms(kind=kind, retail=retail.pay_as_you_go, subscription=retail.subscription)


def provision(emsp: EmspCore, scenario: Scenario, drivers: Sequence[Driver]) -> dict[str, ContractKind]:
    """Accounts, contracts, vehicles and drivers for the known drivers; token uid -> contract kind."""
    retail = scenario.demand.retail
    if not scenario.demand.contracts or retail is None:
        return {}
    known = [d for d in drivers if d.known]
    kinds = assign_contracts(
        scenario.demand.contracts, len(known), random.Random(f"contracts-{scenario.seed}")
    )
    at = scenario.start
    tz, country = retail.account_time_zone, retail.account_country
    per_fleet = retail.fleet.drivers_per_account if retail.fleet is not None else 1
    fleet_seen = 0
    with emsp.db.unit() as db:
        for n, (driver, kind) in enumerate(zip(known, kinds, strict=True)):
            vehicle = None
            if kind == "fleet":
                account = f"F{fleet_seen // per_fleet:04d}"
                contract = f"K{account}"
                if fleet_seen % per_fleet == 0:
                    create_account(
                        db, NewAccount(account, "fleet", f"fleet {account}", tz, "EUR", country), at
                    )
                    create_contract(db, contract, account, _terms(kind, retail), at)
                vehicle = f"V{n:04d}"
                create_vehicle(db, vehicle, account, label=f"EV-{n:04d}")
                fleet_seen += 1
            else:
                account, contract = f"P{n:04d}", f"K{n:04d}"
                create_account(db, NewAccount(account, "private", f"driver {n}", tz, "EUR", country), at)
                create_contract(db, contract, account, _terms(kind, retail), at)
            create_driver(
                db,
                f"D{n:04d}",
                account,
                contract_ref=contract,
                emaid=driver.contract_id,
                vehicle_id=vehicle,
                now=at,
            )
    return {d.token_uid: k for d, k in zip(known, kinds, strict=True)}


Owner = Callable[[str, PartyRef], str]


def _party(line: Line) -> PartyRef:
    cc, _, pid = line.party.partition("*")
    return PartyRef(cc, pid)


def figures(
    lines: Sequence[Line],
    *,
    currency: str,
    accounts: int,
    drivers: Mapping[str, int],
    sessions_with_cdr: int,
    cpo_ids: Iterable[str],
    owner: Owner,
    channels: Iterable[str] = ("bilateral",),
) -> tuple[dict[str, Any], dict[str, str]]:
    """`billing.*` figures and the margin per CPO, from the retail lines (one currency: `currency`)."""
    mine = [x for x in lines if x.currency == currency]
    sessions = [x for x in mine if x.kind != "fee"]
    reversed_ = {x.reverses_line for x in mine if x.kind == "reversal"}
    standing = [x for x in sessions if x.kind in ("charge", "rebill") and x.line_no not in reversed_]
    invoices = build_invoices(mine)
    fleet = fleet_report(mine)
    vat = vat_report(mine)
    retail = sum((x.retail_excl for x in sessions), ZERO)
    wholesale = sum((x.wholesale_excl for x in sessions), ZERO)
    independent = {  # the same sums, computed apart from the invoices (they must agree)
        "invoices": sum((i.total_incl for i in invoices), ZERO) - sum((x.retail_incl for x in mine), ZERO),
        "vat": sum((Decimal(r["vat"]) for r in vat), ZERO) - sum((x.vat_amount for x in mine), ZERO),
        "fleet": sum((Decimal(r["retail_excl_vat"]) for r in fleet), ZERO)
        - sum((x.retail_excl for x in mine if x.detail.get("rule") == "fleet"), ZERO),
    }
    margin: dict[str, Decimal] = {cid: ZERO for cid in cpo_ids}
    by_channel: dict[str, Decimal] = {c: ZERO for c in channels}
    # Per channel, the parts of its margin: retail - the CPOs' wholesale - hub fees (cost lines).
    parts = {part: {c: ZERO for c in channels} for part in ("retail", "wholesale", "hub_fees")}
    # Hub fees in another currency than the line's: no rate to convert them, so they are not in the
    # margin; shown per channel and currency instead of vanishing (the margin is before them).
    unconverted: dict[str, dict[str, Decimal]] = {}
    for x in sessions:
        for fee_currency, amount in foreign_hub_fees_of(x):
            per_currency = unconverted.setdefault(x.channel, {})
            per_currency[fee_currency] = per_currency.get(fee_currency, ZERO) + amount
    # The CPO's cost in another currency than the line's (a DKK CDR on an EUR contract): no rate to
    # convert it, so such a line's margin is unknown. It stays out of every margin and its parts (it
    # would show its whole retail as margin) and its cost shows per currency, net of credits.
    wholesale_unconverted: dict[str, Decimal] = {}
    for x in sessions:
        for cost_currency, amount in foreign_wholesale_of(x):
            wholesale_unconverted[cost_currency] = wholesale_unconverted.get(cost_currency, ZERO) + amount
    margined = [x for x in sessions if not foreign_wholesale_of(x)]
    for x in margined:
        who = owner(x.partner, _party(x))
        margin[who] = margin.get(who, ZERO) + x.margin
        by_channel[x.channel] = by_channel.get(x.channel, ZERO) + x.margin
        fee = hub_fee_of(x)
        amounts = {"retail": x.retail_excl, "wholesale": x.wholesale_excl - fee, "hub_fees": fee}
        for part, amount in amounts.items():
            parts[part][x.channel] = parts[part].get(x.channel, ZERO) + amount
    # A hub fee in the retail currency on a line whose CPO cost is in another currency (its margin
    # unknown) is still a known cost of its channel: counted in the channel's hub fees, never dropped,
    # though outside its margin (whose parts are then the margined lines' retail, wholesale and fees).
    for x in sessions:
        if (fee := hub_fee_of(x)) and foreign_wholesale_of(x):
            parts["hub_fees"][x.channel] = parts["hub_fees"].get(x.channel, ZERO) + fee
    out = {
        "currency": currency,
        "accounts": accounts,
        "drivers": {k: drivers.get(k, 0) for k in CONTRACT_KINDS},
        "lines": {k: sum(1 for x in mine if x.kind == k) for k in ("charge", "reversal", "rebill", "fee")},
        "sessions_billed": len(standing),
        "sessions_unbilled": max(sessions_with_cdr - len(standing), 0),
        "wholesale_unverified": sum(1 for x in standing if not x.wholesale_verified),
        "evidence_missing": sum(1 for x in standing if x.evidence.get("missing")),
        "energy_kwh": f"{sum((x.energy_kwh for x in sessions), Decimal(0)).normalize():f}",
        "retail_total": str(retail),
        "fees_total": str(sum((x.retail_excl for x in mine if x.kind == "fee"), ZERO)),
        "vat_total": str(sum((x.vat_amount for x in mine), ZERO)),
        "invoiced_total": str(sum((i.total_incl for i in invoices), ZERO)),
        "wholesale_total": str(wholesale),
        "wholesale_unconverted": {cur: str(a) for cur, a in sorted(wholesale_unconverted.items())},
        "margin": str(sum((x.margin for x in margined), ZERO)),
        "channel_margin": {c: str(m) for c, m in sorted(by_channel.items())},  # bilateral or a hub id
        "channel_margin_total": str(sum(by_channel.values(), ZERO)),
        **{f"channel_{part}": {c: str(a) for c, a in sorted(of.items())} for part, of in parts.items()},
        "hub_fees_total": str(sum(parts["hub_fees"].values(), ZERO)),
        "channel_hub_fees_unconverted": {
            c: {cur: str(a) for cur, a in sorted(of.items())} for c, of in sorted(unconverted.items())
        },
        "invoices": len(invoices),
        "fleet_vehicles": len({(r["account_id"], r["vehicle_id"]) for r in fleet}),
        "disagreements": sum(1 for v in independent.values() if v != 0),
    }
    return out, {cid: str(m) for cid, m in margin.items()}


def hub_fee_of(line: Line) -> Decimal:
    """The hub fees among a line's cost lines, in the line's currency (emsp.billing.hub_fees)."""
    return sum(
        (
            Decimal(cost["amount_excl"])
            for cost in line.cost_lines
            if cost["kind"] == "hub_fee" and cost["currency"] == line.currency
        ),
        ZERO,
    )


def foreign_wholesale_of(line: Line) -> list[tuple[str, Decimal]]:
    """The CPO's cost lines in another currency than the line's: (currency, amount)."""
    return [
        (cost["currency"], Decimal(cost["amount_excl"]))
        for cost in line.cost_lines
        if cost["kind"] == "wholesale" and cost["currency"] != line.currency
    ]


def foreign_hub_fees_of(line: Line) -> list[tuple[str, Decimal]]:
    """The hub fees among a line's cost lines in another currency than the line's: (currency, amount)."""
    return [
        (cost["currency"], Decimal(cost["amount_excl"]))
        for cost in line.cost_lines
        if cost["kind"] == "hub_fee" and cost["currency"] != line.currency
    ]


def _channels(scenario: Scenario) -> list[str]:
    """The channels a run's lines can come through: bilateral, and each hub (the eMSP's partner id)."""
    return ["bilateral", *(h.id for h in scenario.hubs)]


def add_to_summary(summary: dict[str, Any], billing: dict[str, Any], margins: Mapping[str, str]) -> None:
    # A hub whose fee is in another currency than the retail one has its unconverted figure even
    # before (or without) a fee: a path expectations may name from the scenario's load on.
    unconverted = billing["channel_hub_fees_unconverted"]
    for hub_id, hub in summary.get("hubs", {}).items():
        for fee_currency in hub.get("fees", {}):
            if fee_currency != billing["currency"]:
                unconverted.setdefault(hub_id, {}).setdefault(fee_currency, str(ZERO))
    # Likewise the CPOs' cost in each other currency their tariffs (the revenue's currencies) name.
    foreign = billing["wholesale_unconverted"]
    for cdr_currency in summary.get("revenue", {}):
        if cdr_currency != billing["currency"]:
            foreign.setdefault(cdr_currency, str(ZERO))
    billing["wholesale_unconverted"] = dict(sorted(foreign.items()))
    summary["billing"] = billing
    for cid, margin in margins.items():
        if cid in summary["partners"]:
            summary["partners"][cid]["margin"] = margin
    # A hub scenario: each channel's billed margin and its parts beside its other figures (and in
    # the report's channel table), `channels.<id>.billed.*`, in the retail currency.
    for name, figures in summary.get("channels", {}).items():
        figures["billed"] = {
            part: billing[f"channel_{part}"].get(name, str(ZERO))
            for part in ("retail", "wholesale", "hub_fees", "margin")
        }
        if name in unconverted:  # the margin is before these (no rate to convert them)
            figures["billed"]["hub_fees_unconverted"] = dict(unconverted[name])


def skeleton(summary: dict[str, Any], scenario: Scenario) -> None:
    """The billing paths a run of this scenario will have (for expectations checked at load)."""
    if not scenario.demand.contracts or scenario.demand.retail is None:
        return
    billing, margins = figures(
        [],
        currency=scenario.demand.retail.pay_as_you_go.currency,
        accounts=0,
        drivers={},
        sessions_with_cdr=0,
        cpo_ids=[c.id for c in scenario.cpos],
        owner=lambda partner, party: partner,
        channels=_channels(scenario),
    )
    add_to_summary(summary, billing, margins)


def lines_of(emsp: EmspCore) -> list[Line]:
    with emsp.db.unit() as db:
        return [from_row(r) for r in db.scalars(select(RetailLineRow).order_by(RetailLineRow.line_no))]


def finish(
    summary: dict[str, Any],
    scenario: Scenario,
    emsp: EmspCore,
    records: EmspRecords,
    owner: Owner,
    run_dir: Path,
) -> None:
    """Add the billing figures to the summary and write invoices and reports (billing runs only)."""
    retail = scenario.demand.retail
    if not scenario.demand.contracts or retail is None:
        return
    lines = lines_of(emsp)
    with emsp.db.unit() as db:
        accounts = db.scalar(select(func.count()).select_from(AccountRow)) or 0
        emaids = set(db.scalars(select(DriverRow.emaid)))
        drivers: dict[str, int] = {}
        for kind in db.scalars(
            select(BillingContractRow.kind).join(
                DriverRow, DriverRow.contract_ref == BillingContractRow.contract_ref
            )
        ):
            drivers[kind] = drivers.get(kind, 0) + 1
    sessions = {
        (c.party.key(), c.session_id) for c in records.cdrs if not c.credit and c.contract_id in emaids
    }
    billing, margins = figures(
        lines,
        currency=retail.pay_as_you_go.currency,
        accounts=accounts,
        drivers=drivers,
        sessions_with_cdr=len(sessions),
        cpo_ids=[c.id for c in scenario.cpos],
        owner=owner,
        channels=_channels(scenario),
    )
    add_to_summary(summary, billing, margins)
    write_files(run_dir, lines)


def write_files(run_dir: Path, lines: Sequence[Line]) -> None:
    invoices = [i.to_json() for i in build_invoices(lines)]
    (run_dir / "invoices.json").write_text(
        json.dumps(invoices, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    for name, columns, rows in (
        ("fleet_report.csv", FLEET_COLUMNS, fleet_report(lines)),
        ("vat_report.csv", VAT_COLUMNS, vat_report(lines)),
    ):
        with (run_dir / name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
