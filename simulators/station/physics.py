"""EV charging physics in exact integer Wh (design principle 7: no float anywhere).

The EV draws constant power P = min(EV power, station max power) until it has received its target
energy. Energy after t seconds is floor(P[W] * t / 3600) Wh, capped at the target, so meter values,
meterStop and ground truth are the same integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class EvProfile:
    power_kw: Decimal  # the most the EV accepts
    energy_kwh: Decimal  # what it takes before it is full


def draw_power_w(ev: EvProfile, max_power_kw: Decimal) -> Decimal:
    return min(ev.power_kw, max_power_kw) * 1000


def target_wh(ev: EvProfile) -> int:
    return int((ev.energy_kwh * 1000).to_integral_value(rounding=ROUND_FLOOR))


def seconds_between(start: datetime, end: datetime) -> Decimal:
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def delivered_wh(power_w: Decimal, target: int, seconds: Decimal) -> int:
    if seconds <= 0:
        return 0
    drawn = int((power_w * seconds / 3600).to_integral_value(rounding=ROUND_FLOOR))
    return min(target, drawn)


def full_after(power_w: Decimal, target: int) -> timedelta | None:
    """Whole seconds until the EV has its target (the first whole second the meter shows it)."""
    if target <= 0:
        return timedelta(0)
    if power_w <= 0:
        return None
    return timedelta(
        seconds=int((Decimal(target) * 3600 / power_w).to_integral_value(rounding=ROUND_CEILING))
    )
