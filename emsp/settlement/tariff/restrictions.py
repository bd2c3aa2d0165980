"""Evaluating TariffRestrictions at one instant of a session (mod_tariffs, TariffRestrictions).

All restrictions of an element are ANDed. Each is evaluated at the start of a charging period
(the CPO must start a new period whenever another element would become active, mod_cdrs
"ChargingPeriod"), with local time already computed once per period by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .model import RESERVATION, RESERVATION_EXPIRES, TariffRestrictions
from .reading import SPEC_READING, Reading


@dataclass(slots=True)
class MatchContext:
    """What the restrictions can look at; measures are None when the period does not carry them."""

    local_date: date
    weekday: int  # date.weekday(): Monday = 0
    second_of_day: int  # local wall-clock second of the day
    energy_kwh: Decimal  # energy consumed before this instant (min_kwh inclusive, max_kwh exclusive)
    duration_us: int  # session duration so far, in microseconds
    min_power: Decimal | None = None  # lowest power during the period (kW)
    max_power: Decimal | None = None
    min_current: Decimal | None = None  # sum over phases (A)
    max_current: Decimal | None = None
    reservation: str | None = None  # None (charging session), RESERVATION or RESERVATION_EXPIRES


def in_time_window(
    start: int | None, end: int | None, second_of_day: int, reading: Reading = SPEC_READING
) -> bool:
    """start/end in minutes (end 1440 = midnight); end < start wraps past midnight (spec text).
    A non-spec `reading` reads end 00:00 as the start of the day, or does not wrap (reading.py)."""
    lo = 0 if start is None else start * 60
    hi = 86400 if end is None else end * 60
    if end == 1440 and reading.end_time_midnight == "start_of_day":
        return lo <= second_of_day < 0  # 00:00 taken literally: the window ends before it starts
    if lo > hi and reading.midnight_wrap == "unsupported":
        return False
    if lo < hi:
        return lo <= second_of_day < hi
    if lo == hi:
        # e.g. 10:00-10:00: read as the whole day (lint warns that this is ambiguous).
        return True
    return second_of_day >= lo or second_of_day < hi


def reservation_matches(required: str | None, actual: str | None) -> bool:
    """Reservation elements price reservations only, the others price charging sessions only.

    An expired reservation is still a reservation: RESERVATION elements apply to it too (tariff
    example 17 bills the reserved time with the RESERVATION element and the expiry fee with the
    RESERVATION_EXPIRES one); the engine scans RESERVATION_EXPIRES elements first (spec note).
    """
    if required is None:
        return actual is None
    if actual is None:
        return False
    return required == actual or (required == RESERVATION and actual == RESERVATION_EXPIRES)


def matches(
    r: TariffRestrictions | None,
    ctx: MatchContext,
    *,
    unknown_measure_matches: bool,
    reading: Reading = SPEC_READING,
) -> bool:
    if r is None:
        return ctx.reservation is None
    if not reservation_matches(r.reservation, ctx.reservation):
        return False
    if (r.start_time is not None or r.end_time is not None) and not in_time_window(
        r.start_time, r.end_time, ctx.second_of_day, reading
    ):
        return False
    if r.day_of_week and ctx.weekday not in r.day_of_week:
        return False
    if r.start_date is not None and ctx.local_date < r.start_date:  # inclusive
        return False
    if r.end_date is not None and ctx.local_date >= r.end_date:  # exclusive
        return False
    if r.min_kwh is not None and ctx.energy_kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and ctx.energy_kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and ctx.duration_us < r.min_duration * 1_000_000:
        return False
    if r.max_duration is not None and ctx.duration_us >= r.max_duration * 1_000_000:
        return False
    if (r.min_power is not None or r.max_power is not None) and not _within(
        r.min_power, r.max_power, ctx.min_power, ctx.max_power, unknown_measure_matches
    ):
        return False
    no_current_bounds = r.min_current is None and r.max_current is None
    return no_current_bounds or _within(
        r.min_current, r.max_current, ctx.min_current, ctx.max_current, unknown_measure_matches
    )


def _within(
    bound_min: Decimal | None,
    bound_max: Decimal | None,
    low: Decimal | None,
    high: Decimal | None,
    unknown_matches: bool,
) -> bool:
    """min_*: active while the value is >= the bound; max_*: while it is < the bound. A period is
    judged by its extreme in the unfavourable direction (it must hold during the whole period)."""
    for bound, value, fails in (
        (bound_min, low if low is not None else high, lambda v, b: v < b),
        (bound_max, high if high is not None else low, lambda v, b: v >= b),
    ):
        if bound is None:
            continue
        if value is None:
            if not unknown_matches:
                return False
        elif fails(value, bound):
            return False
    return True
