"""Invoices per account and billing period, the fleet report per vehicle and the VAT report per
jurisdiction: all three are sums over the same retail lines, so they agree by construction.

Every figure is a sum of line amounts already rounded to the cent; nothing is rounded again here, so
an invoice total is exactly the sum of its lines and the VAT report exactly the VAT on the lines.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from emsp.storage.tables import RetailLineRow
from emsp.wire import loads

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Line:
    """A retail line as reports read it (independent of the storage row)."""

    line_no: int
    kind: str
    account_id: str
    driver_id: str | None
    vehicle_id: str | None
    contract_ref: str | None
    period: str
    partner: str
    channel: str
    party: str  # country*party of the CPO
    cdr_id: str
    session_id: str | None
    reverses_line: int | None
    replaces_cdr: str | None
    jurisdiction: str
    currency: str
    energy_kwh: Decimal
    wholesale_excl: Decimal
    wholesale_verified: bool
    cost_lines: list[dict[str, str]]
    retail_excl: Decimal
    vat_rate: Decimal
    vat_amount: Decimal
    retail_incl: Decimal
    detail: dict[str, str]
    evidence: dict[str, Any]

    @property
    def margin(self) -> Decimal:
        return self.retail_excl - self.wholesale_excl

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = str(value) if isinstance(value, Decimal) else value
        out["margin"] = str(self.margin)
        return out


def from_row(row: RetailLineRow) -> Line:
    return Line(
        line_no=row.line_no,
        kind=row.kind,
        account_id=row.account_id,
        driver_id=row.driver_id,
        vehicle_id=row.vehicle_id,
        contract_ref=row.contract_ref,
        period=row.period,
        partner=row.partner,
        channel=row.channel,
        party=f"{row.country_code}*{row.party_id}" if row.country_code else "",
        cdr_id=row.cdr_id,
        session_id=row.session_id,
        reverses_line=row.reverses_line,
        replaces_cdr=row.replaces_cdr,
        jurisdiction=row.jurisdiction,
        currency=row.currency,
        energy_kwh=row.energy_kwh,
        wholesale_excl=row.wholesale_excl,
        wholesale_verified=row.wholesale_verified,
        cost_lines=list(loads(row.cost_lines_json)),
        retail_excl=row.retail_excl,
        vat_rate=row.vat_rate,
        vat_amount=row.vat_amount,
        retail_incl=row.retail_incl,
        detail=dict(loads(row.detail_json)),
        evidence=dict(loads(row.evidence_json)),
    )


@dataclass(frozen=True, slots=True)
class Invoice:
    account_id: str
    period: str
    currency: str
    lines: tuple[Line, ...]

    @property
    def total_excl(self) -> Decimal:
        return sum((line.retail_excl for line in self.lines), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((line.vat_amount for line in self.lines), ZERO)

    @property
    def total_incl(self) -> Decimal:
        return sum((line.retail_incl for line in self.lines), ZERO)

    @property
    def invoice_id(self) -> str:
        return f"INV-{self.account_id}-{self.period}-{self.currency}"

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "account_id": self.account_id,
            "period": self.period,
            "currency": self.currency,
            "total_excl_vat": str(self.total_excl),
            "total_vat": str(self.total_vat),
            "total_incl_vat": str(self.total_incl),
            "lines": [line.to_json() for line in self.lines],
        }


def build_invoices(lines: Iterable[Line]) -> list[Invoice]:
    """One invoice per account, period (the account's local month) and currency, in that order."""
    groups: dict[tuple[str, str, str], list[Line]] = defaultdict(list)
    for line in lines:
        groups[(line.account_id, line.period, line.currency)].append(line)
    return [
        Invoice(account, period, currency, tuple(sorted(group, key=lambda x: x.line_no)))
        for (account, period, currency), group in sorted(groups.items())
    ]


FLEET_COLUMNS = (
    "account_id",
    "vehicle_id",
    "period",
    "currency",
    "sessions",
    "energy_kwh",
    "retail_excl_vat",
    "reimbursed_excl_vat",
    "driver_excl_vat",
)


def fleet_report(lines: Iterable[Line]) -> list[dict[str, str]]:
    """Per fleet vehicle and period: sessions (net of reversals), energy, retail, reimbursed, driver."""
    rows: dict[tuple[str, str, str, str], dict[str, Decimal]] = {}
    for line in lines:
        if line.vehicle_id is None or line.detail.get("rule") != "fleet":
            continue
        key = (line.account_id, line.vehicle_id, line.period, line.currency)
        row = rows.setdefault(key, defaultdict(lambda: ZERO))
        row["sessions"] += {"reversal": -1}.get(line.kind, 1)
        row["energy_kwh"] += line.energy_kwh
        row["retail_excl_vat"] += line.retail_excl
        row["reimbursed_excl_vat"] += Decimal(line.detail.get("reimbursed_excl", "0"))
        row["driver_excl_vat"] += Decimal(line.detail.get("driver_excl", "0"))
    out = []
    for (account, vehicle, period, currency), sums in sorted(rows.items()):
        out.append(
            {
                "account_id": account,
                "vehicle_id": vehicle,
                "period": period,
                "currency": currency,
                **{k: str(int(v)) if k == "sessions" else str(v) for k, v in sums.items()},
            }
        )
    return out


VAT_COLUMNS = ("jurisdiction", "vat_rate", "currency", "lines", "taxable_excl_vat", "vat", "total_incl_vat")


def vat_report(lines: Iterable[Line]) -> list[dict[str, str]]:
    """Per jurisdiction, rate and currency: the taxable base and the VAT, summed over the lines."""
    rows: dict[tuple[str, str, str], list[Decimal]] = {}
    for line in lines:
        key = (line.jurisdiction or "unknown", str(line.vat_rate), line.currency)
        sums = rows.setdefault(key, [Decimal(0), ZERO, ZERO, ZERO])
        sums[0] += 1
        sums[1] += line.retail_excl
        sums[2] += line.vat_amount
        sums[3] += line.retail_incl
    return [
        {
            "jurisdiction": j,
            "vat_rate": rate,
            "currency": currency,
            "lines": str(int(n)),
            "taxable_excl_vat": str(base),
            "vat": str(vat),
            "total_incl_vat": str(incl),
        }
        for (j, rate, currency), (n, base, vat, incl) in sorted(rows.items())
    ]


def margins(lines: Iterable[Line]) -> dict[str, dict[str, Decimal]]:
    """Margin (retail excl. VAT - cost lines) per partner and per channel; fees count to the eMSP."""
    out: dict[str, dict[str, Decimal]] = {
        "partner": defaultdict(lambda: ZERO),
        "channel": defaultdict(lambda: ZERO),
    }
    for line in lines:
        if line.kind == "fee":
            continue
        out["partner"][line.party] += line.margin
        out["channel"][line.channel] += line.margin
    return {k: dict(sorted(v.items())) for k, v in out.items()}
