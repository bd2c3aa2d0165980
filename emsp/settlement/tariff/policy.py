"""The choices OCPI 2.2.1 leaves open (or states inconsistently), made explicit and named."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from .reading import SPEC_READING, Reading

RoundAt = Literal["line", "dimension", "total"]
TimeStep = Literal["parking", "combined"]


@dataclass(frozen=True, slots=True)
class PricingPolicy:
    """How to turn a tariff plus charging periods into money.

    DEFAULT_POLICY ("default"):
    - decimals=4, rounding=ROUND_HALF_UP: OCPI numbers "use 4 decimals" (types, number) and the
      spec examples quote amounts such as 12.375 that 2 decimals would lose;
    - round_at="dimension": line costs stay exact, each total_*_cost is rounded once and
      total_cost is the sum of the rounded dimension totals (so a CDR adds up). "line" rounds every
      breakdown line first; "total" rounds total_cost from the exact sum;
    - time_step="parking": when TIME and PARKING_TIME are both priced, step_size rounds only the
      total parking duration (mod_cdrs step_size text and its 21+16 min example, tariff example 4).
      "combined" rounds charging+parking time together and bills the rest as parking, which is what
      the tariff_14 element-switching examples compute; the spec is not consistent here;
    - zero_cost_vat_known=True: a 2.1.1 component (which has no `vat`, so incl. VAT is unknown)
      with price 0 contributes 0 incl. VAT instead of making incl_vat unknown (in 2.2.1 an omitted
      `vat` means no VAT applies, so there incl_vat is always known);
    - unknown_measure_matches=False: a power/current restriction does not match a period that
      carries neither the measure nor enough data to derive it (later elements/fallback apply);
    - average_power=True: a period without MIN_POWER/MAX_POWER is judged by ENERGY / TIME;
    - snap_seconds=True: time volumes (hours, 4 decimals in CDRs = 0.36 s resolution) are snapped
      to whole seconds before step_size rounding, so 0.1167 h does not become an extra minute;
    - volume_decimals=4: decimals of total_energy/total_time/total_parking_time in `to_ocpi`;
    - reading=SPEC_READING: the spec's reading of restrictions, step_size and rounding (reading.py).
    """

    name: str = "default"
    decimals: int = 4
    rounding: str = ROUND_HALF_UP
    round_at: RoundAt = "dimension"
    time_step: TimeStep = "parking"
    zero_cost_vat_known: bool = True
    unknown_measure_matches: bool = False
    average_power: bool = True
    snap_seconds: bool = True
    volume_decimals: int = 4
    # how the tariff's words are read (reading.py): the spec's, unless a simulated CPO says otherwise
    reading: Reading = SPEC_READING
    quantum: Decimal = field(init=False, repr=False, compare=False)  # 10**-decimals, computed once

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantum", Decimal(1).scaleb(-self.decimals))

    def money(self, value: Decimal) -> Decimal:
        return value.quantize(self.quantum, rounding=self.rounding)


DEFAULT_POLICY = PricingPolicy()
COMBINED_TIME_STEP_POLICY = replace(DEFAULT_POLICY, name="combined-time-step", time_step="combined")
POLICIES: dict[str, PricingPolicy] = {p.name: p for p in (DEFAULT_POLICY, COMBINED_TIME_STEP_POLICY)}
