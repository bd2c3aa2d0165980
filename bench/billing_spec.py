"""The scenario's billing side (`demand.contracts`, `demand.retail`): which contracts drivers hold
and the eMSP's retail prices. Without `demand.contracts` a run bills as before (pay-as-you-go lines
copying the CPO's cost) and its summary has no `billing` key."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bench.no_boolean_numbers import NoBooleanNumbers
from emsp.billing.contracts import CONTRACT_KINDS, ContractKind, FleetTerms, RetailTariff, SubscriptionTerms
from emsp.timeutil import known_zone


class _Strict(NoBooleanNumbers, BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FleetSpec(NoBooleanNumbers, FleetTerms):
    drivers_per_account: Annotated[int, Field(ge=1, le=1000)] = 3  # each with a vehicle of their own


class RetailSpec(_Strict):
    """The eMSP's prices: `pay_as_you_go` is also the list price discounts and fleets start from."""

    pay_as_you_go: RetailTariff
    subscription: SubscriptionTerms | None = None
    fleet: FleetSpec | None = None
    account_time_zone: str = "Europe/Amsterdam"  # billing periods are its calendar months
    account_country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "NL"  # VAT of fees

    @field_validator("account_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return known_zone(value)


def check_contracts(contracts: dict[ContractKind, float], retail: RetailSpec | None) -> None:
    """Raises ValueError naming what is wrong (the scenario loader adds file and field)."""
    if not contracts:
        if retail is not None:
            raise ValueError("retail needs contracts (the share of drivers per contract kind)")
        return
    if sum(contracts.values()) <= 0:
        raise ValueError("contracts: at least one share must be > 0")
    if retail is None:
        raise ValueError("contracts needs retail (the eMSP's retail prices)")
    for kind in CONTRACT_KINDS:
        if contracts.get(kind, 0) > 0 and kind != "pay_as_you_go" and getattr(retail, kind) is None:
            raise ValueError(f"contracts.{kind} > 0 needs retail.{kind} (its terms)")


Share = Annotated[float, Field(ge=0, le=1)]
