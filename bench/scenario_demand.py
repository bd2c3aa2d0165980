"""Scenario files, the demand part: who arrives when, in which EV, and what they pay (bench/demand.py).

Split from bench/scenario.py (which re-exports these models) to keep each module readable.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bench.billing_spec import RetailSpec, Share, check_contracts
from bench.field_error import FieldError
from bench.no_boolean_numbers import NoBooleanNumbers
from emsp.billing.contracts import ContractKind
from emsp.timeutil import known_zone

STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # .inf would never end
# The plan draws every arrival of the Poisson process, also those no free driver can make (bench/demand.py):
# 1e9 an hour spun for minutes though 24 drivers cap the visits. Skipping those draws would change the
# plan of every scenario whose drivers are ever all busy, so the rate is bounded instead.
MAX_ARRIVALS_DRAWN = 1_000_000
# Upper bounds that keep a run finishable (a sim run with 100,000 drivers takes minutes, its token
# issuance is per driver) and its times inside the datetime range (bench/scenario_span.py).
MAX_DRIVERS = 100_000
MAX_CLONE_SESSIONS = 1_000
WEEK_MINUTES = 7 * 24 * 60  # the longest duration_minutes; also the bound of every other span in minutes
# The most energy one visit may want: a heavy truck's battery. The wanted energy feeds the times a
# station plans (1e9 kWh overflowed a datetime) and the tariff's Decimal arithmetic (1e20 overflowed it).
MAX_ENERGY_KWH = 1000
# The largest ev_models share: shares are relative weights (a fleet's counts fit), and 1e308 each summed
# to infinity, which the model draw cannot weigh by.
MAX_SHARE = 1_000_000


class Strict(NoBooleanNumbers, BaseModel):
    model_config = STRICT


class Range(Strict):
    min: Decimal
    max: Decimal

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise FieldError(("min", "max"), f"min {self.min} is greater than max {self.max}")
        return self


def _within_week(span: Range) -> Range:
    if span.max > WEEK_MINUTES:
        raise FieldError("max", f"max {span.max} exceeds {WEEK_MINUTES} minutes (a week)")
    return span


class RateStep(Strict):
    """From this time of day (in the demand's time zone) on, until the next step, this arrival rate."""

    start: str = Field(alias="from", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    per_hour: Annotated[float, Field(ge=0)]

    @property
    def minute_of_day(self) -> int:
        return int(self.start[:2]) * 60 + int(self.start[3:])


class EvModel(Strict):
    """A kind of EV: its battery, its limits, and (DC) the state of charge its power tapers from."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    share: Annotated[float, Field(gt=0, le=MAX_SHARE)] = 1.0  # relative weight among the models
    battery_kwh: Annotated[Decimal, Field(gt=0, le=300)]
    ac_max_kw: Annotated[Decimal, Field(gt=0)] = Decimal("11")  # onboard charger limit
    dc_max_kw: Annotated[Decimal, Field(gt=0)] = Decimal("50")
    taper_from_soc: Annotated[Decimal, Field(ge=0, le=100)] = Decimal("80")  # percent; DC only
    taper_min_kw: Annotated[Decimal, Field(gt=0)] = Decimal("5")  # DC power as the SoC nears 100%


class CloneSpec(Strict):
    """Cloned tokens (fraud): `victims` drivers make one of their planned visits at the compromised
    `skim_location`, where their token is copied; from `delay_minutes` later a fraudster presents the
    copy `sessions` times, every `gap_minutes`, at the far-away `locations` (drawn per session). The
    copy is of the token the victim showed there (with federated identity, that CPO's token).
    Stations of these locations are used by these visits only."""

    victims: Annotated[int, Field(ge=1)]
    skim_location: Annotated[str, Field(min_length=1)]
    locations: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    sessions: Range = Range(min=Decimal(2), max=Decimal(4))
    delay_minutes: Range = Range(min=Decimal(20), max=Decimal(90))
    gap_minutes: Range = Range(min=Decimal(5), max=Decimal(15))
    stay_minutes: Range = Range(min=Decimal(5), max=Decimal(20))

    _spans_within_week = field_validator("delay_minutes", "gap_minutes", "stay_minutes")(_within_week)

    @field_validator("sessions")
    @classmethod
    def _finishable(cls, value: Range) -> Range:
        if value.max > MAX_CLONE_SESSIONS:
            raise FieldError("max", f"max {value.max} exceeds {MAX_CLONE_SESSIONS} sessions per victim")
        return value

    @model_validator(mode="after")
    def _sane(self) -> CloneSpec:
        for name, least in (("sessions", 1), ("delay_minutes", 0), ("gap_minutes", 1), ("stay_minutes", 1)):
            low = getattr(self, name).min
            if low < least:
                raise FieldError(f"{name}.min", f"must be at least {least} (got {low})")
        if self.skim_location in self.locations:
            raise ValueError("skim_location cannot also be one of the locations the clones are used at")
        return self


class DemandSpec(Strict):
    """Drivers with eMSP-issued RFID tokens arrive as a Poisson process over the scenario.

    The rate is `arrivals_per_hour`, or a piecewise `arrival_profile` by time of day. With `ev_models`
    each arrival draws a model, a state of charge at arrival and a target; the energy wanted follows
    from the battery (and `ev_power_kw`/`energy_kwh` are not used).
    """

    drivers: Annotated[int, Field(ge=1, le=MAX_DRIVERS)]
    unknown_tokens: Annotated[int, Field(ge=0, le=MAX_DRIVERS)] = 1
    arrivals_per_hour: Annotated[float, Field(gt=0)] = 12.0
    arrival_profile: list[RateStep] = []
    time_zone: str = "UTC"  # of the arrival profile's times of day
    ev_models: list[EvModel] = []
    soc_at_arrival: Range = Range(min=Decimal("10"), max=Decimal("60"))  # percent
    soc_target: Range = Range(min=Decimal("80"), max=Decimal("100"))  # percent
    ev_power_kw: Range = Range(min=Decimal("7.4"), max=Decimal("22"))
    energy_kwh: Range = Range(min=Decimal("4"), max=Decimal("30"))
    stay_minutes: Range = Range(min=Decimal("20"), max=Decimal("90"))
    # how long a driver waits for a free connector
    patience_minutes: Annotated[int, Field(ge=0, le=WEEK_MINUTES)] = 15
    clones: CloneSpec | None = None  # cloned tokens used by fraudsters (bench/demand.py plan_clones)
    # Billing (bench/billing_spec.py): the share of drivers per contract kind and the retail prices;
    # none: pay-as-you-go lines copying the CPO's cost, as before.
    contracts: dict[ContractKind, Share] = {}
    retail: RetailSpec | None = None
    # Share of visits whose driver starts from the eMSP's app (an OCPI START_SESSION command through
    # the eMSP) instead of swiping the RFID card; drawn per visit from its own seeded generator.
    app_start_share: Annotated[float, Field(ge=0, le=1)] = 0.0

    _stay_within_week = field_validator("stay_minutes")(_within_week)

    @field_validator("energy_kwh")
    @classmethod
    def _a_battery_full(cls, value: Range) -> Range:
        if value.max > MAX_ENERGY_KWH:
            raise FieldError(
                "max", f"max {value.max} exceeds {MAX_ENERGY_KWH} kWh a visit (a truck's battery)"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    @model_validator(mode="after")
    def _consistent(self) -> DemandSpec:
        minutes = [step.minute_of_day for step in self.arrival_profile]
        if minutes != sorted(set(minutes)):
            raise ValueError("arrival_profile: steps must be in increasing time of day, each time once")
        if self.arrival_profile and not any(step.per_hour > 0 for step in self.arrival_profile):
            raise ValueError("arrival_profile: at least one step needs per_hour > 0")
        if "arrivals_per_hour" in self.model_fields_set and self.arrival_profile:
            raise ValueError("give arrivals_per_hour or arrival_profile, not both")
        if len({m.name for m in self.ev_models}) != len(self.ev_models):
            raise ValueError("ev_models: names must be unique")
        for name in ("soc_at_arrival", "soc_target"):
            for bound in ("min", "max"):
                value = getattr(getattr(self, name), bound)
                if not Decimal(0) <= value <= Decimal(100):
                    raise FieldError(f"{name}.{bound}", f"is a percentage (0-100), got {value}")
        arrival, target = self.soc_at_arrival.max, self.soc_target.min
        if self.ev_models and soc_gap(self) <= 0:
            # Equal bounds drew visits that want nothing (every one, with both ranges at 100).
            relation = (
                "exceeds" if arrival > target else "equals" if arrival == target else "is in the step of"
            )
            raise FieldError(
                ("soc_at_arrival.max", "soc_target.min"),
                f"soc_at_arrival.max {arrival} {relation} soc_target.min {target}"
                f" (an EV arrives to charge: below the target, in the {SOC_QUANTUM}% steps SoC is drawn in)",
            )
        check_contracts(self.contracts, self.retail)
        return self


# Steps of the draws in bench/demand.py: SoC in tenths of a percent, an ev_models visit's energy in
# tenths of a kWh (floored: less is a visit that wants nothing). A draw's low end is its min floored.
SOC_QUANTUM = Decimal("0.1")
MODEL_ENERGY_QUANTUM = Decimal("0.1")
# The whole Wh a meter counts: an EV drawing less over the shortest stay got 0 kWh on every visit.
LEAST_KWH = Decimal("0.001")


def _floor(value: Decimal, quantum: Decimal) -> Decimal:
    return (value / quantum).to_integral_value(rounding=ROUND_FLOOR) * quantum


def soc_gap(demand: DemandSpec) -> Decimal:
    """The least percentage of its battery an ev_models visit charges (the highest SoC drawn at arrival
    to the lowest target drawn)."""
    return _floor(demand.soc_target.min, SOC_QUANTUM) - _floor(demand.soc_at_arrival.max, SOC_QUANTUM)


# The finest stay a plan draws (bench/demand.py: tenths of a minute); a shorter one would be drawn as 0 s,
# a driver who unplugs the instant they plugged in: no visit that can charge.
STAY_QUANTUM_MINUTES = Decimal("0.1")


def demand_range_error(demand: DemandSpec) -> tuple[str, str] | None:
    """(field, reason) for a demand range that cannot describe a charging visit: an EV that accepts
    no power or wants no energy, or a driver who does not stay. Range itself checks min <= max."""
    for name in ("ev_power_kw", "energy_kwh"):
        low = getattr(demand, name).min
        if low <= 0:
            return f"demand.{name}.min", f"must be greater than 0 (got {low}): an EV that charges needs some"
    if demand.stay_minutes.min < STAY_QUANTUM_MINUTES:
        return "demand.stay_minutes.min", (
            f"must be at least {STAY_QUANTUM_MINUTES} (6 seconds, the resolution stays are drawn in; "
            f"got {demand.stay_minutes.min}): a driver who does not stay cannot charge"
        )
    return _ev_error(demand)


def _ev_error(demand: DemandSpec) -> tuple[str, str] | None:
    """(field, reason) for an EV whose power over the shortest stay reaches no whole Wh, or an ev_models
    EV whose battery between the SoC bounds holds less than the energy step (it wants nothing)."""
    minutes = _floor(demand.stay_minutes.min, STAY_QUANTUM_MINUTES)
    powers = [
        (f"demand.ev_models[{i}].{n}", getattr(m, n))
        for i, m in enumerate(demand.ev_models)
        for n in ("ac_max_kw", "dc_max_kw")
    ]
    for field, kw in powers or [("demand.ev_power_kw.min", demand.ev_power_kw.min)]:
        if kw * minutes / 60 < LEAST_KWH:
            return field, (
                f"{kw} kW over the shortest stay ({minutes} minutes) is less than the 1 Wh a meter counts:"
                " an EV that charges needs more"
            )
    gap = soc_gap(demand)
    for index, model in enumerate(demand.ev_models):
        if _floor(model.battery_kwh * gap / 100, MODEL_ENERGY_QUANTUM) < MODEL_ENERGY_QUANTUM:
            return f"demand.ev_models[{index}].battery_kwh", (
                f"{model.battery_kwh} kWh charged from soc_at_arrival.max to soc_target.min ({gap}%) is"
                f" less than the {MODEL_ENERGY_QUANTUM} kWh steps its energy is drawn in:"
                " an EV that wants nothing"
            )
    return None


def arrival_bound_error(demand: DemandSpec, duration_minutes: int) -> tuple[str, str] | None:
    """(field, reason) when the peak rate over the run would draw more than MAX_ARRIVALS_DRAWN."""
    if demand.arrival_profile:
        field, peak = "demand.arrival_profile", max(step.per_hour for step in demand.arrival_profile)
    else:
        field, peak = "demand.arrivals_per_hour", demand.arrivals_per_hour
    drawn = peak * duration_minutes / 60
    if drawn <= MAX_ARRIVALS_DRAWN:
        return None
    return field, (
        f"{peak:g} an hour over the run's {duration_minutes} minutes is about {drawn:.3g} arrivals to draw; "
        f"at most {MAX_ARRIVALS_DRAWN:,} (the {demand.drivers} drivers cap the visits anyway)"
    )
