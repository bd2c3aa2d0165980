"""The most a planned visit can cost under a tariff: the dearest of its plausible charging profiles.

A driver plans an energy and a stay; how the EV takes the energy is unknown. Here an EV charges
from plug-in at a constant power until the energy is in, then parks until it leaves: its charging
time `c` lies between energy / the EVSE's power (fastest) and the whole stay (the energy spread).
The cost as a function of `c` trades charging time (TIME, charging-time restrictions) for parking
time (PARKING_TIME) minute by minute, so between two points where some restriction's answer
changes it is monotone: its maximum is at one of those points or at an end. The points are the
stay's crossings of the tariff's clock and calendar limits (start/end_time, midnight when a
day or date matters), its duration limits and the charging times at its power limits. Between
them step_size rounds the billed time and parking up at other places: where a tariff prices both,
one step of each is added. Each charging time tried prices the whole visit: past
MAX_CHARGING_TIMES of them (many clock limits over a long stay) a coarse bound is quoted instead,
which no pricing of the visit exceeds but which may be well above the dearest one.
Not covered: energy prices by the clock that rise later in the charging while parking is dearer
than charging (the cost then may peak between two points), and an EV whose power varies while the
price depends on the power or on when the energy flows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from .cdr import PriceResult
from .model import Price, Tariff, TariffError
from .periods import quote
from .policy import DEFAULT_POLICY, PricingPolicy

_US_PER_HOUR = 3_600_000_000
# The most charging times priced one by one (each prices the whole visit); past it, _coarse_bound.
# 24 covers a day of hourly limits (a common time-of-use tariff) for a stay of a few hours.
MAX_CHARGING_TIMES = 24
_CENT_HUNDREDTH = Decimal("0.0001")


def quote_bound(
    tariff: Tariff,
    *,
    start: datetime,
    energy_kwh: Decimal,
    duration: timedelta,
    max_power_kw: Decimal | None,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> Price | None:
    """The most the visit can cost (None: not priceable): the dearest of the charging times worth
    trying (see the module), plus what step_size may add between them; without the EVSE's power
    (`max_power_kw` None) the EV may charge at any power."""
    dearest = quote(tariff, start=start, energy_kwh=energy_kwh, duration=duration, tz=tz, policy=policy)
    fastest = timedelta(0) if max_power_kw is None or max_power_kw <= 0 else _hours(energy_kwh / max_power_kw)
    if energy_kwh <= 0 or fastest >= duration or _spread_is_dearest(tariff):
        # Nothing to charge (parked all stay), the EV charges all of the stay (one profile), or
        # nothing the tariff prices gets dearer by charging faster.
        return dearest.totals.total_cost
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    points = set(_turning_points(tariff, start, energy_kwh, duration, zone))
    charging_times = {max(fastest, timedelta(seconds=1))} | {c for c in points if fastest < c < duration}
    if len(charging_times) > MAX_CHARGING_TIMES:
        # Each try prices the whole visit: a tariff with many clock limits over a long stay (a
        # 15-minute time-of-use tariff, a multi-day stay) would cost hundreds of pricings, in the
        # driver's path. Past the cap the bound is the coarse one instead: higher, never lower.
        coarse = _coarse_bound(tariff, energy_kwh, duration, len(points), policy)
        spread = dearest.totals.total_cost
        if spread is None or coarse is None:
            return spread if coarse is None else coarse
        return coarse if _amount(coarse) >= _amount(spread) else spread
    for charging in sorted(charging_times):
        power = energy_kwh * _US_PER_HOUR / (charging // timedelta(microseconds=1))
        try:
            priced = quote(
                tariff,
                start=start,
                energy_kwh=energy_kwh,
                duration=duration,
                power_kw=power,
                tz=tz,
                policy=policy,
            )
        except TariffError:
            continue  # rounding put the end of charging past the stay: the spread covers it
        if _total(priced) > _total(dearest):
            dearest = priced
    total = dearest.totals.total_cost
    return None if total is None else _with_steps(tariff, total)


def _coarse_bound(
    tariff: Tariff, energy_kwh: Decimal, duration: timedelta, periods: int, policy: PricingPolicy
) -> Price | None:
    """What no pricing of the visit can exceed, without pricing it: all the energy at the dearest
    energy price, the whole stay at the dearer of the dearest charging-time and parking prices
    (each instant is one or the other), the dearest FLAT fee (billed once), one step of each
    dimension more (one per period where steps round each period: `periods` is at least the limits
    the stay crosses), the tariff's min_price and max_price applied. incl_vat None when a
    component has none (2.1.1); None when the tariff prices nothing."""
    dearest: dict[str, tuple[Decimal, Decimal | None, int]] = {}
    flat_excl, flat_incl = Decimal(0), Decimal(0)
    incl_known = True
    for element in tariff.elements:
        for c in element.price_components:
            incl = c.price_incl_vat
            incl_known = incl_known and incl is not None
            if c.type == "FLAT":
                flat_excl, flat_incl = max(flat_excl, c.price), max(flat_incl, incl or Decimal(0))
                continue
            was = dearest.get(c.type)
            if was is None:
                dearest[c.type] = (c.price, incl, c.step_size)
            else:
                top = was[1] if was[1] is not None and incl is not None and was[1] > incl else incl
                dearest[c.type] = (max(was[0], c.price), top, max(was[2], c.step_size))
    if not dearest and not flat_excl:
        return None
    steps = periods + 2 if policy.reading.step_size == "per_period" else 1
    hours = Decimal(duration // timedelta(microseconds=1)) / _US_PER_HOUR
    excl, incl_total = flat_excl, flat_incl
    clock = [dearest[d] for d in ("TIME", "PARKING_TIME") if d in dearest]
    if clock:  # the stay at the dearer price, plus the steps of both
        excl += _up(hours * max(p for p, _i, _s in clock))
        incl_total += _up(hours * max((i or Decimal(0)) for _p, i, _s in clock))
    for dimension, (price, incl, step) in dearest.items():
        volume = energy_kwh if dimension == "ENERGY" else Decimal(0)
        volume += Decimal(step * steps) / (1000 if dimension == "ENERGY" else 3600)
        excl += _up(volume * price)
        incl_total += _up(volume * (incl or Decimal(0)))
    total = Price(excl, incl_total if incl_known else None)
    floor, cap = tariff.min_price, tariff.max_price
    if floor is not None:
        total = Price(
            max(total.excl_vat, floor.excl_vat),
            None if total.incl_vat is None or floor.incl_vat is None else max(total.incl_vat, floor.incl_vat),
        )
    if cap is not None:
        total = Price(
            min(total.excl_vat, cap.excl_vat),
            total.incl_vat
            if total.incl_vat is None or cap.incl_vat is None
            else min(total.incl_vat, cap.incl_vat),
        )
    return total


def _amount(price: Price) -> Decimal:
    return price.incl_vat if price.incl_vat is not None else price.excl_vat


def _spread_is_dearest(tariff: Tariff) -> bool:
    """No parking price and no restriction: the cost is the energy's (the same however it flows)
    plus the charging time's, which only grows with the charging time (a common tariff)."""
    return all(
        element.restrictions is None and all(c.type != "PARKING_TIME" for c in element.price_components)
        for element in tariff.elements
    )


def _with_steps(tariff: Tariff, total: Price) -> Price:
    """Between two charging times tried, the billed time and parking are rounded up to their steps
    (mod_cdrs step_size) at other places. With only one of TIME and PARKING_TIME priced the cost
    there is a staircase rising toward one of the two (tried): nothing to add. With both, a rising
    and a falling staircase may peak in between: at most one step of each more, at its dearest
    price (rounded up to 0.0001); never above the tariff's max_price."""
    steps: dict[str, list[tuple[Decimal, Decimal]]] = {"TIME": [], "PARKING_TIME": []}
    for element in tariff.elements:
        for c in element.price_components:
            if c.type in steps:
                incl_price = c.price_incl_vat if c.price_incl_vat is not None else c.price
                steps[c.type].append((c.price * c.step_size / 3600, incl_price * c.step_size / 3600))
    if not all(steps.values()):
        return total
    excl, incl = total.excl_vat, total.incl_vat
    for found in steps.values():
        excl += _up(max(step[0] for step in found))
        incl = None if incl is None else incl + _up(max(step[1] for step in found))
    cap = tariff.max_price
    if cap is not None:
        excl = min(excl, cap.excl_vat)
        incl = incl if incl is None or cap.incl_vat is None else min(incl, cap.incl_vat)
    return Price(excl, incl)


def _up(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT_HUNDREDTH, ROUND_CEILING)


def _hours(hours: Decimal) -> timedelta:
    return timedelta(microseconds=int(hours * _US_PER_HOUR))


def _total(result: PriceResult) -> Decimal:
    total = result.totals.total_cost
    if total is None:
        return Decimal(0)
    return total.incl_vat if total.incl_vat is not None else total.excl_vat


def _turning_points(
    tariff: Tariff, start: datetime, energy_kwh: Decimal, duration: timedelta, zone: ZoneInfo
) -> Iterator[timedelta]:
    """Charging times at which some restriction's answer may change (unfiltered)."""
    minutes: set[int] = set()
    calendar = False
    for element in tariff.elements:
        r = element.restrictions
        if r is None:
            continue
        for seconds in (r.min_duration, r.max_duration):
            if seconds is not None:
                yield timedelta(seconds=seconds)
        for power in (r.min_power, r.max_power):
            if power is not None and power > 0:
                yield _hours(energy_kwh / power)
        minutes.update(m for m in (r.start_time, r.end_time) if m is not None)
        calendar = calendar or bool(r.day_of_week) or r.start_date is not None or r.end_date is not None
    if calendar:
        minutes.add(0)
    if not minutes:
        return
    day = start.astimezone(zone).date()
    last = (start + duration).astimezone(zone).date()
    while day <= last:
        for minute in minutes:
            local = datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minute)
            yield local.astimezone(start.tzinfo) - start
        day += timedelta(days=1)
