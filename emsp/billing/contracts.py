"""Billing contracts and their retail pricing: pure functions over Decimal, no IO.

Three kinds, one backend:

- `pay_as_you_go`: the eMSP's retail tariff, an OCPI tariff priced by the same engine as the
  wholesale check (`emsp.settlement.tariff`) over the CDR's charging periods;
- `subscription`: a monthly fee, then either included kWh per period (free) with an overage price
  per kWh beyond them, or a discount in percent off the pay-as-you-go retail price;
- `fleet`: the retail tariff; the fleet reimburses a share of each charge up to a cap per vehicle and
  billing period; what exceeds the cap stays with the driver (the fleet report shows both).

Retail prices are excl. VAT; VAT comes from the location's jurisdiction (`emsp.billing.jurisdictions`).
Rounding is explicit: every line amount is quantized to the cent, half-up, once, where it is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ContractKind = Literal["subscription", "pay_as_you_go", "fleet"]
CONTRACT_KINDS: tuple[ContractKind, ...] = ("subscription", "pay_as_you_go", "fleet")
CENT = Decimal("0.01")
ZERO = Decimal(0)
# The upper bound of every price, fee and cap (in the contract's currency) and of included kWh.
# A line amount is quantized to the cent within Decimal's 28 significant digits, so it must stay
# below 10**26 (beyond, quantize fails and the CDR could not be billed): a price up to 10**6 leaves
# room for 10**20 kWh or hours, far beyond any session, and is far beyond any real tariff.
MAX_PRICE = Decimal(10**6)
MAX_KWH = Decimal(10**6)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class _Terms(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetailTariff(_Terms):
    """The eMSP's own retail price, excl. VAT: per kWh, per charging hour and per session."""

    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    price_per_kwh: Decimal = Field(ge=0, le=MAX_PRICE)
    price_per_hour: Decimal = Field(default=ZERO, ge=0, le=MAX_PRICE)
    session_fee: Decimal = Field(default=ZERO, ge=0, le=MAX_PRICE)

    def to_ocpi(self, tariff_id: str) -> dict[str, Any]:
        """The same price as an OCPI 2.2.1 Tariff (VAT left to the jurisdiction: none in the tariff)."""
        components: list[dict[str, Any]] = [{"type": "ENERGY", "price": self.price_per_kwh, "step_size": 1}]
        if self.price_per_hour:
            components.append({"type": "TIME", "price": self.price_per_hour, "step_size": 60})
        if self.session_fee:
            components.append({"type": "FLAT", "price": self.session_fee, "step_size": 1})
        return {
            "country_code": "ZZ",
            "party_id": "EMS",
            "id": tariff_id,
            "currency": self.currency,
            "elements": [{"price_components": components}],
            "last_updated": "2026-01-01T00:00:00Z",
        }


class SubscriptionTerms(_Terms):
    monthly_fee: Decimal = Field(ge=0, le=MAX_PRICE)
    included_kwh: Decimal = Field(default=ZERO, ge=0, le=MAX_KWH)  # per billing period, at no charge
    overage_per_kwh: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)  # beyond included_kwh
    discount_pct: Decimal = Field(default=ZERO, ge=0, le=100)  # off the retail price

    @model_validator(mode="after")
    def _one_model(self) -> SubscriptionTerms:
        if self.included_kwh and self.discount_pct:
            raise ValueError("give included_kwh (with overage_per_kwh) or discount_pct, not both")
        if self.included_kwh and self.overage_per_kwh is None:
            raise ValueError("included_kwh needs overage_per_kwh (the price beyond them)")
        return self


class FleetTerms(_Terms):
    reimbursed_pct: Decimal = Field(default=Decimal(100), ge=0, le=100)
    # excl. VAT; None: no cap
    cap_per_vehicle_period: Decimal | None = Field(default=None, ge=0, le=MAX_PRICE)


class ContractTerms(_Terms):
    """What a billing contract says; `retail` is the price list it refers to."""

    kind: ContractKind
    retail: RetailTariff
    subscription: SubscriptionTerms | None = None
    fleet: FleetTerms | None = None

    @model_validator(mode="after")
    def _matching(self) -> ContractTerms:
        if self.kind == "subscription" and self.subscription is None:
            raise ValueError("a subscription contract needs subscription terms")
        if self.kind == "fleet" and self.fleet is None:
            raise ValueError("a fleet contract needs fleet terms")
        return self


@dataclass(frozen=True, slots=True)
class SessionUsage:
    """One session as retail pricing sees it, with what the period already used before it."""

    energy_kwh: Decimal
    retail_list_excl: Decimal  # the session at the retail tariff (engine-priced), unrounded
    period_kwh_before: Decimal = ZERO  # the account's billed kWh earlier in the same period
    vehicle_reimbursed_before: Decimal = ZERO  # fleet: reimbursed for this vehicle earlier in the period


@dataclass(frozen=True, slots=True)
class RetailCharge:
    excl_vat: Decimal  # to the cent
    detail: Mapping[str, str]  # how it came about (decimal strings), kept with the line


def retail_charge(terms: ContractTerms, usage: SessionUsage) -> RetailCharge:
    """The retail charge of one session under `terms` (excl. VAT, rounded to the cent)."""
    listed = cents(usage.retail_list_excl)
    if terms.kind == "pay_as_you_go":
        return RetailCharge(listed, {"rule": "retail_tariff", "list_excl": str(listed)})
    if terms.kind == "subscription":
        sub = terms.subscription
        assert sub is not None  # validated
        if sub.discount_pct:
            # Off the exact list price: rounding `listed` first rounded twice (2.9624 -> 2.96 -> 2.66
            # at 10 % off, where once gives 2.67); `list_excl` shows the list price to the cent.
            amount = cents(usage.retail_list_excl * (100 - sub.discount_pct) / 100)
            return RetailCharge(
                amount, {"rule": "discount", "list_excl": str(listed), "discount_pct": str(sub.discount_pct)}
            )
        left = max(sub.included_kwh - usage.period_kwh_before, ZERO)
        free = min(left, usage.energy_kwh)
        over = usage.energy_kwh - free
        if sub.overage_per_kwh is None:  # no included kWh: the retail price
            return RetailCharge(listed, {"rule": "retail_tariff", "list_excl": str(listed)})
        amount = cents(over * sub.overage_per_kwh)
        return RetailCharge(
            amount, {"rule": "included_kwh", "included_kwh": str(free), "overage_kwh": str(over)}
        )
    fleet = terms.fleet
    assert fleet is not None  # validated
    share = cents(listed * fleet.reimbursed_pct / 100)
    if fleet.cap_per_vehicle_period is not None:
        room = max(fleet.cap_per_vehicle_period - usage.vehicle_reimbursed_before, ZERO)
        share = min(share, room)
    return RetailCharge(
        listed,
        {
            "rule": "fleet",
            "list_excl": str(listed),
            "reimbursed_excl": str(share),
            "driver_excl": str(listed - share),
        },
    )
