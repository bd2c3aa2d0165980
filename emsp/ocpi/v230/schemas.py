"""pydantic v2 models of the OCPI 2.3.0 objects that differ from 2.2.1 on the wire.

2.3.0 prices carry taxes as a list of amounts (types: Price with `before_taxes` and `taxes`), tariff
bounds are PriceLimits (`before_taxes`/`after_taxes`), a Tariff says whether its prices include
taxes (`tax_included`, required), and credentials may name the platform's hub party
(`hub_party_id`, CiString(5)). New optional objects (parking, accepted service providers, Plug &
Charge flags, payments) are accepted as they come and kept in the stored wire body.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictStr, model_validator

from emsp.ocpi.v221 import schemas as v221
from emsp.ocpi.v221.types import NonNegative, Number, String255

TaxIncluded = Literal["YES", "NO", "N/A"]


class TaxAmount(v221._Open):
    name: String255
    account_number: String255 | None = None
    percentage: Number | None = None
    amount: Number


class Price(v221._Open):
    before_taxes: Number
    taxes: list[TaxAmount] | None = None


class Cost(Price):
    """A Price of something consumed: never negative."""

    before_taxes: NonNegative
    taxes: list[TaxAmount] | None = None


class PriceLimit(v221._Open):
    before_taxes: NonNegative
    after_taxes: NonNegative | None = None


class Credentials(v221.Credentials):
    hub_party_id: Annotated[StrictStr, Field(min_length=5, max_length=5)] | None = None


class Tariff(v221.Tariff):
    min_price: PriceLimit | None = None  # type: ignore[assignment]
    max_price: PriceLimit | None = None  # type: ignore[assignment]
    tax_included: TaxIncluded
    preauthorize_amount: NonNegative | None = None


class Session(v221.Session):
    total_cost: Cost | None = None  # type: ignore[assignment]


class Cdr(v221.Cdr):
    tariffs: list[Tariff] | None = None  # type: ignore[assignment]
    total_cost: Price  # type: ignore[assignment]
    total_fixed_cost: Cost | None = None  # type: ignore[assignment]
    total_energy_cost: Cost | None = None  # type: ignore[assignment]
    total_time_cost: Cost | None = None  # type: ignore[assignment]
    total_parking_cost: Cost | None = None  # type: ignore[assignment]
    total_reservation_cost: Cost | None = None  # type: ignore[assignment]

    @model_validator(mode="after")
    def _total_cost_sign(self) -> Cdr:
        """total_cost is negative only in a Credit CDR, which negates it (mod_cdrs, Credit CDRs)."""
        amount = self.total_cost.before_taxes
        if amount > 0 if self.credit else amount < 0:
            sign = "positive in a Credit CDR" if self.credit else "negative outside a Credit CDR"
            raise ValueError(f"total_cost must not be {sign}")
        return self
