"""CDR-based pricing: charging periods + tariff -> CDR totals and a breakdown.

Rules implemented (OCPI 2.2.1):
- per dimension, the first element whose restrictions match the period start is used
  (mod_tariffs, Tariff object); no match and no fallback element = that volume is free;
- FLAT is billed once per session (the first period where a FLAT element matches), and once
  for the reservation part when there is one (tariff example 16 bills both fees);
- step_size is applied once per session on the totals with the step of the last relevant
  component, the extra volume billed at that component's price (mod_cdrs, step_size): once for
  ENERGY, once for TIME/PARKING_TIME (see PricingPolicy.time_step) and once for reservation time;
- min_price/max_price bound total_cost, excl. and incl. VAT independently (Tariff object notes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .cdr import CdrTotals, ChargingPeriod, PricedLine, PriceResult, parse_cdr_time, parse_charging_periods
from .model import (
    ENERGY,
    FLAT,
    PARKING_TIME,
    RESERVATION,
    RESERVATION_EXPIRES,
    TIME,
    Price,
    PriceComponent,
    Tariff,
    TariffElement,
    TariffError,
)
from .policy import DEFAULT_POLICY, PricingPolicy
from .reading import SPEC_READING, Reading
from .restrictions import MatchContext, matches

_ZERO = Decimal(0)
_ONE = Decimal(1)
_HOUR_S = Decimal(3600)
_KWH_WH = Decimal(1000)
_NOISE = Decimal("1e-6")
# Billed hours such as 120 s = 1/30 h are not finite decimals, so an amount can land a hair below a
# rounding boundary (0.00594999... for exactly 0.00595); snap that noise away before rounding money.
_MONEY_NOISE = Decimal("1e-18")
_US_PER_HOUR = Decimal(3_600_000_000)
_CENT = Decimal("0.01")
# category of a priced dimension inside a session part / reservation part
_CATEGORY = {ENERGY: "energy", TIME: "time", PARKING_TIME: "parking"}
_SLOT = {
    ENERGY: 0,
    TIME: 1,
    PARKING_TIME: 2,
    "RESERVATION_TIME": 3,
    "MIN_POWER": 4,
    "MAX_POWER": 5,
    "MIN_CURRENT": 6,
    "MAX_CURRENT": 7,
}


@lru_cache(maxsize=64)
def _zone_by_name(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return _zone_by_name(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise TariffError("tz", f"unknown time zone {tz!r}") from None


class _Line:
    """Mutable working line; frozen into a PricedLine at the end."""

    __slots__ = ("billed", "category", "comp", "dimension", "element", "period", "start", "volume")

    def __init__(
        self,
        period: int,
        start: datetime,
        category: str,
        dimension: str,
        volume: Decimal,
        element: TariffElement | None,
        comp: PriceComponent | None,
    ) -> None:
        self.period = period
        self.start = start
        self.category = category
        self.dimension = dimension
        self.volume = volume
        self.billed = volume
        self.element = element
        self.comp = comp


def _first_match(
    scan: tuple[tuple[TariffElement, PriceComponent], ...],
    ctx: MatchContext,
    cache: dict[int, bool],
    unknown_ok: bool,
    reading: Reading = SPEC_READING,
) -> tuple[TariffElement | None, PriceComponent | None]:
    for el, comp in scan:
        hit = cache.get(el.index)
        if hit is None:
            hit = matches(el.restrictions, ctx, unknown_measure_matches=unknown_ok, reading=reading)
            cache[el.index] = hit
        if hit:
            return el, comp
    return None, None


def _round_group(lines: list[_Line], step: int, target: _Line, multiplier: Decimal, snap: bool) -> None:
    """Round the group's total volume up to `step` units; bill the extra on `target`."""
    if step == 0:  # nothing to round to (lint warns on step_size 0 for non-FLAT components)
        return
    total = _ZERO
    for line in lines:
        total += line.volume
    units = total * multiplier
    # Snap away representation noise (and, for time, sub-second CDR rounding) before ceiling.
    units = units.to_integral_value(ROUND_HALF_EVEN) if snap else units.quantize(_NOISE)
    units = (units / step).to_integral_value(ROUND_CEILING) * step
    delta = units / multiplier - total
    if delta > 0:  # step_size never bills less than was used
        target.billed = target.volume + delta


def _step_round(lines: list[_Line], multiplier: Decimal, snap: bool) -> None:
    """The step of the last relevant component rounds the total; that component bills the extra."""
    if lines:
        last = lines[-1]
        assert last.comp is not None
        _round_group(lines, last.comp.step_size, last, multiplier, snap)


def _apply_steps(lines: list[_Line], policy: PricingPolicy) -> None:
    if policy.reading.step_size == "per_period":
        # A reading other than the spec's: every period's volume rounded up on its own.
        for ln in lines:
            if ln.comp is not None and ln.dimension != FLAT:
                energy = ln.category == "energy"
                snap = False if energy else policy.snap_seconds
                _round_group([ln], ln.comp.step_size, ln, _KWH_WH if energy else _HOUR_S, snap)
        return
    groups: dict[str, list[_Line]] = {"energy": [], "time": [], "parking": [], "reservation": []}
    for ln in lines:
        if ln.comp is not None and ln.dimension != FLAT:
            groups[ln.category].append(ln)
    _step_round(groups["energy"], _KWH_WH, False)
    time, parking = groups["time"], groups["parking"]
    if policy.time_step == "combined" and time and parking:
        # Step of the chronologically last relevant component, the extra billed as parking
        # (tariff_14 examples; within a period parking comes after charging).
        last = max(time[-1], parking[-1], key=lambda ln: (ln.period, ln.category == "parking"))
        assert last.comp is not None
        _round_group(time + parking, last.comp.step_size, parking[-1], _HOUR_S, policy.snap_seconds)
    elif parking:
        _step_round(parking, _HOUR_S, policy.snap_seconds)
    else:
        _step_round(time, _HOUR_S, policy.snap_seconds)
    _step_round(groups["reservation"], _HOUR_S, policy.snap_seconds)


Tariffs = Tariff | Mapping[str, Tariff]


def _tariff_per_period(tariffs: Tariffs, periods: Sequence[ChargingPeriod]) -> tuple[list[Tariff], list[int]]:
    """The tariff each period is priced with, and the periods that name a tariff we were not given.

    mod_cdrs ChargingPeriod.tariff_id names the tariff relevant for that period (a session can
    switch tariffs, e.g. a mid-session tariff change). A period without tariff_id keeps the tariff
    of the period before it (the first one: the first tariff given), as CPOs commonly omit the id.
    """
    if isinstance(tariffs, Tariff):
        single: Tariff | None = tariffs
        by_id = {tariffs.id: tariffs}
    else:
        if not tariffs:
            raise TariffError("tariffs", "at least one tariff is needed")
        single = None
        by_id = dict(tariffs)
    current = single or next(iter(by_id.values()))
    chosen, foreign = [], []
    for i, period in enumerate(periods):
        if period.tariff_id is not None and period.tariff_id != current.id:
            named = by_id.get(period.tariff_id)
            if named is not None:
                current = named
            elif single is not None and single.id:
                foreign.append(i)  # one tariff given: priced with it anyway, and said so
            elif single is None:
                raise TariffError(
                    f"charging_periods[{i}].tariff_id", f"tariff {period.tariff_id!r} was not given"
                )
        chosen.append(current)
    if len({t.currency for t in chosen}) > 1:
        raise TariffError("tariffs", "the tariffs of one CDR must share a currency")
    return chosen, foreign


def price_charging_periods(
    tariff: Tariffs,
    periods: Sequence[ChargingPeriod],
    *,
    end: datetime,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
    start: datetime | None = None,
) -> PriceResult:
    """Price a CDR's charging periods; `end` is the CDR end_date_time (end of the last period),
    `start` its start_date_time (default: the start of the first period).

    `tariff` is one Tariff, or several by id when the periods switch tariffs (their tariff_id).
    Across a switch the rules between elements hold (mod_cdrs step_size: not applied at a switch
    between tariffs; the last relevant component's step rounds the session total); FLAT is billed
    once per session part, and min_price/max_price come from the tariff in effect at the start.
    """
    if not periods:
        raise TariffError("charging_periods", "must contain at least one period")
    cdr_start = start  # (the loop below reuses the name `start` for each period's start)
    reading = policy.reading
    local_zone = zone("UTC" if reading.restriction_clock == "utc" else tz)
    unknown_ok = policy.unknown_measure_matches
    per_period, foreign = _tariff_per_period(tariff, periods)
    if end < periods[-1].start_date_time:
        raise TariffError("end_date_time", "must not be before the start of the last charging period")
    # One pass over the dimensions: (energy, time, parking, reservation, min/max power, min/max current).
    volumes: list[list[Decimal | None]] = []
    previous = periods[0].start_date_time
    for i, period in enumerate(periods):
        if period.start_date_time < previous:
            raise TariffError(
                f"charging_periods[{i}].start_date_time", "must not be before the previous period"
            )
        previous = period.start_date_time
        row: list[Decimal | None] = [None] * 8
        for d in period.dimensions:
            slot = _SLOT.get(d.type)
            if slot is not None:
                row[slot] = d.volume
        volumes.append(row)

    # A period carrying RESERVATION_TIME belongs to the reservation; a CDR made only of such
    # periods is a reservation that expired without a session (mod_cdrs: start_date_time note).
    expired = all(row[3] is not None for row in volumes)
    lines: list[_Line] = []
    energy_total = parking_total = _ZERO
    flat_done: dict[str | None, bool] = {}
    origin: dict[str | None, datetime] = {}
    energy_so_far = _ZERO
    charging_from: datetime | None = None

    for i, period in enumerate(periods):
        start = period.start_date_time
        energy, tvol, pvol, rvol, min_p, max_p, min_c, max_c = volumes[i]
        kind = None if rvol is None else RESERVATION_EXPIRES if expired else RESERVATION
        base = origin.setdefault(kind, start)
        if kind is None and reading.min_duration_from == "charging_start":
            # another reading: durations count from the first period in which energy flowed
            if charging_from is None and energy:
                charging_from = start
            base = charging_from or start
        in_effect = per_period[i]
        if (
            min_p is None
            and max_p is None
            and policy.average_power
            and in_effect.uses_power
            and energy is not None
        ):
            if tvol:
                min_p = max_p = energy / tvol
            elif pvol is not None:
                min_p = max_p = _ZERO
        local = start.astimezone(local_zone)
        delta = start - base
        ctx = MatchContext(
            local.date(),
            local.weekday(),
            local.hour * 3600 + local.minute * 60 + local.second,
            energy_so_far,
            (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds,
            min_p,
            max_p,
            min_c,
            max_c,
            kind,
        )
        scan = in_effect.scan[kind]
        cache: dict[int, bool] = {}
        if not flat_done.get(kind):
            el, comp = _first_match(scan[FLAT], ctx, cache, unknown_ok, reading)
            if comp is not None:
                flat_done[kind] = True
                cat = "fixed" if kind is None else "reservation"
                lines.append(_Line(i, start, cat, FLAT, _ONE, el, comp))
        if kind is None:
            for dim, vol in ((ENERGY, energy), (TIME, tvol), (PARKING_TIME, pvol)):
                if vol:
                    el, comp = _first_match(scan[dim], ctx, cache, unknown_ok, reading)
                    lines.append(_Line(i, start, _CATEGORY[dim], dim, vol, el, comp))
            if energy is not None:
                energy_total += energy
                energy_so_far += energy
            if pvol is not None:
                parking_total += pvol
        elif rvol:
            # Reservation time is priced by the TIME component of a reservation element.
            el, comp = _first_match(scan[TIME], ctx, cache, unknown_ok, reading)
            lines.append(_Line(i, start, "reservation", TIME, rvol, el, comp))

    _apply_steps(lines, policy)
    # mod_cdrs, CDR object: total_time is the duration of the charging session, charging and not
    # charging: start to end, not the sum of the periods' TIME and PARKING_TIME volumes (a CPO may
    # omit a dimension, leave a gap, or round each period). A reservation ahead of the session is
    # not part of it (it has total_reservation_cost); an expired reservation spans its own periods.
    if cdr_start is not None and not origin.keys() - {None}:
        first = min(cdr_start, periods[0].start_date_time)
    else:
        first = origin.get(None, periods[0].start_date_time)
    span = end - first
    time_total = Decimal((span.days * 86400 + span.seconds) * 1_000_000 + span.microseconds) / _US_PER_HOUR
    result = _finish(
        per_period[0], lines, policy, energy_total, time_total, parking_total, periods[0].start_date_time
    )
    if foreign:
        named = per_period[0].id
        note = f"charging_periods{foreign} name a tariff_id other than {named!r}; priced with it anyway"
        result = replace(result, warnings=(*result.warnings, note))
    return result


def _money(amount: Decimal, quantum: Decimal, rounding: str) -> Decimal:
    return amount.quantize(_MONEY_NOISE, ROUND_HALF_EVEN).quantize(quantum, rounding)


def _finish(
    tariff: Tariff,
    work: list[_Line],
    policy: PricingPolicy,
    energy_total: Decimal,
    time_total: Decimal,
    parking_total: Decimal,
    session_start: datetime,
) -> PriceResult:
    per_component = policy.reading.cost_rounding == "per_component"
    per_line = policy.round_at == "line" or per_component
    quantum, rounding = policy.quantum, policy.rounding
    # another reading: every component line rounded to cents before the totals add them up
    line_quantum = _CENT if per_component else quantum
    zero_known = policy.zero_cost_vat_known
    sums: dict[str, list[Any]] = {}  # category -> [excl, incl | None]
    out: list[PricedLine] = []
    for ln in work:
        comp = ln.comp
        element = ln.element
        if comp is None or element is None:
            out.append(
                PricedLine(ln.period, ln.start, ln.category, ln.dimension, ln.volume, ln.billed,
                           None, None, None, None, None)
            )  # fmt: skip
            continue
        billed = ln.billed
        excl = billed * comp.price
        pi = comp.price_incl_vat
        if pi is None and zero_known and not comp.price:
            pi = _ZERO
        incl = None if pi is None else billed * pi
        if per_line:
            excl = _money(excl, line_quantum, rounding)
            incl = None if incl is None else _money(incl, line_quantum, rounding)
        acc = sums.get(ln.category)
        if acc is None:
            sums[ln.category] = [excl, incl]
        else:
            acc[0] += excl
            acc[1] = None if acc[1] is None or incl is None else acc[1] + incl
        out.append(
            PricedLine(ln.period, ln.start, ln.category, ln.dimension, ln.volume, billed,
                       element.index, comp.price, comp.vat, comp.step_size, Price(excl, incl))
        )  # fmt: skip
    cats: dict[str, Price] = {}
    exact_excl = total_excl = _ZERO
    exact_incl: Decimal | None = _ZERO
    total_incl: Decimal | None = _ZERO
    for cat, (excl, incl) in sums.items():
        r_excl = _money(excl, quantum, rounding)
        r_incl = None if incl is None else _money(incl, quantum, rounding)
        cats[cat] = Price(r_excl, r_incl)
        exact_excl += excl
        exact_incl = None if exact_incl is None or incl is None else exact_incl + incl
        total_excl += r_excl
        total_incl = None if total_incl is None or r_incl is None else total_incl + r_incl
    if policy.round_at == "total":
        total_excl = _money(exact_excl, quantum, rounding)
        total_incl = None if exact_incl is None else _money(exact_incl, quantum, rounding)
    bounded_excl, bounded_incl = _bounds(tariff, total_excl, total_incl)
    adjustment = None
    if bounded_excl != total_excl or bounded_incl != total_incl:
        adj_incl = None if bounded_incl is None or total_incl is None else bounded_incl - total_incl
        adjustment = Price(bounded_excl - total_excl, adj_incl)
    totals = CdrTotals(
        total_energy=energy_total,
        total_time=time_total,
        total_parking_time=parking_total,
        total_cost=Price(bounded_excl, bounded_incl),
        total_energy_cost=cats.get("energy"),
        total_time_cost=cats.get("time"),
        total_parking_cost=cats.get("parking"),
        total_fixed_cost=cats.get("fixed"),
        total_reservation_cost=cats.get("reservation"),
    )
    warnings = []
    if tariff.start_date_time is not None and session_start < tariff.start_date_time:
        warnings.append("tariff start_date_time is after the session start")
    if tariff.end_date_time is not None and session_start > tariff.end_date_time:
        warnings.append("tariff end_date_time is before the session start")
    return PriceResult(totals, tuple(out), tariff.currency, adjustment, tuple(warnings), policy.name)


def _bounds(tariff: Tariff, excl: Decimal, incl: Decimal | None) -> tuple[Decimal, Decimal | None]:
    """min_price/max_price apply to excl. and incl. VAT separately (Tariff object notes).

    When a bound moves the excl. VAT total but states no incl. VAT amount, the incl. VAT total can
    no longer be derived from the components: it becomes unknown rather than inconsistent.
    """
    lo, hi = tariff.min_price, tariff.max_price
    for bound, pick in ((lo, max), (hi, min)):
        if bound is None:
            continue
        bounded = pick(excl, bound.excl_vat)
        if incl is not None:
            if bound.incl_vat is not None:
                incl = pick(incl, bound.incl_vat)
            elif bounded != excl:
                incl = None
        excl = bounded
    return excl, incl


def price_cdr(
    tariff: Tariffs,
    cdr: Mapping[str, Any],
    *,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> PriceResult:
    """Price a (partial) CDR: start_date_time, end_date_time, currency and charging_periods suffice."""
    if not isinstance(cdr, Mapping):
        raise TariffError("cdr", "must be a JSON object")
    start = parse_cdr_time(cdr, "start_date_time")
    end = parse_cdr_time(cdr, "end_date_time")
    if end < start:
        raise TariffError("end_date_time", "must not be before start_date_time")
    currency = cdr.get("currency")
    if not isinstance(currency, str):
        raise TariffError("currency", "is required")
    periods = parse_charging_periods(cdr.get("charging_periods"))
    # The tariffs of one CDR share a currency (checked when the periods are priced), so any will do.
    first = tariff if isinstance(tariff, Tariff) else next(iter(tariff.values()), None)
    if first is None:
        raise TariffError("tariffs", "at least one tariff is needed")
    tariff_currency = first.currency
    if currency != tariff_currency:
        raise TariffError("currency", f"{currency} differs from the tariff currency {tariff_currency}")
    if periods[0].start_date_time < start:
        raise TariffError("charging_periods[0].start_date_time", "must not be before the CDR start_date_time")
    return price_charging_periods(tariff, periods, end=end, tz=tz, policy=policy, start=start)


def component_at(
    tariff: Tariff,
    dimension: str,
    at: datetime,
    *,
    tz: str | ZoneInfo,
    power_kw: Decimal | None = None,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> PriceComponent | None:
    """The `dimension` component that prices a charging session starting at `at`: its first
    instant (no energy yet, no duration), by the first-match scan `price_charging_periods` uses, so
    a price shown before authorization is the one the session's first period is billed at (an
    element restricted to 17:00-21:00 is not shown at 11:00). None when no element applies."""
    reading = policy.reading
    local = at.astimezone(zone("UTC" if reading.restriction_clock == "utc" else tz))
    ctx = MatchContext(
        local.date(),
        local.weekday(),
        local.hour * 3600 + local.minute * 60 + local.second,
        _ZERO,
        0,
        power_kw,
        power_kw,
    )
    scan = tariff.scan[None][dimension]
    return _first_match(scan, ctx, {}, policy.unknown_measure_matches, reading)[1]
