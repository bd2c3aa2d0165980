"""From meter samples to the charging periods a CPO must put in a CDR (mod_cdrs, ChargingPeriod).

A new period starts wherever another tariff element becomes active: the session is cut at every
instant where a restriction can flip (local time-of-day and midnight, duration and kWh thresholds,
meter samples where power/current change, the charging -> parking transition), each slice is
classified by the elements it selects, and adjacent slices with the same selection are merged.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from .cdr import CdrDimension, ChargingPeriod, MeterSample, PriceResult
from .engine import price_charging_periods, zone
from .model import ENERGY, PARKING_TIME, TIME, PriceComponent, Tariff, TariffElement, TariffError, to_decimal
from .policy import DEFAULT_POLICY, PricingPolicy
from .reading import SPEC_READING, Reading
from .restrictions import MatchContext, matches

_ZERO = Decimal(0)
_US_PER_HOUR = Decimal(3_600_000_000)
# Interpolated energies are kept on a 1 µWh grid so period sums are exact fixed-point additions.
_ENERGY_GRID = Decimal("1e-9")


def _us(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


class _Curve:
    """Piecewise-linear cumulative energy through the samples (flat after the last one)."""

    def __init__(self, samples: Sequence[MeterSample], start: datetime) -> None:
        pts = list(samples)
        if not pts or pts[0].timestamp > start:
            pts.insert(0, MeterSample(start, _ZERO))  # cumulative since session start: 0 at start
        for i in range(1, len(pts)):
            if pts[i].timestamp <= pts[i - 1].timestamp:
                raise TariffError(f"samples[{i}].timestamp", "must be strictly increasing")
        self.pts = pts
        self.times = [p.timestamp for p in pts]

    def segment(self, t: datetime) -> int:
        """Index of the sample whose segment contains t (the last one at or before t)."""
        return max(0, bisect_right(self.times, t) - 1)

    def energy(self, t: datetime) -> Decimal:
        i = self.segment(t)
        a = self.pts[i]
        if i + 1 >= len(self.pts) or t <= a.timestamp:
            return a.energy_kwh
        b = self.pts[i + 1]
        frac = Decimal(_us(t - a.timestamp)) / Decimal(_us(b.timestamp - a.timestamp))
        return (a.energy_kwh + (b.energy_kwh - a.energy_kwh) * frac).quantize(_ENERGY_GRID, ROUND_HALF_EVEN)

    def charging_start(self) -> datetime:
        """When a meter sample first showed energy delivered: what a back office that learns of
        charging from its meter values takes for the start of charging (not the spec's reading)."""
        for a, b in zip(self.pts, self.pts[1:], strict=False):
            if b.energy_kwh > a.energy_kwh:
                return b.timestamp
        return self.pts[0].timestamp

    def crossing(self, kwh: Decimal) -> datetime | None:
        """First instant where the curve reaches `kwh` while rising."""
        for a, b in zip(self.pts, self.pts[1:], strict=False):
            if a.energy_kwh < kwh <= b.energy_kwh:
                frac = (kwh - a.energy_kwh) / (b.energy_kwh - a.energy_kwh)
                us = int((Decimal(_us(b.timestamp - a.timestamp)) * frac).to_integral_value(ROUND_HALF_EVEN))
                return a.timestamp + timedelta(microseconds=us)
        return None

    def measures(self, t: datetime, t_next: datetime) -> tuple[Decimal | None, Decimal | None]:
        """Power (kW) and current (A) over [t, t_next): the sample's values, else the slope."""
        i = self.segment(t)
        a = self.pts[i]
        if i + 1 >= len(self.pts):
            return _ZERO, (_ZERO if a.current_a is not None else None)
        b = self.pts[i + 1]
        if b.energy_kwh == a.energy_kwh:  # parking: no energy flows
            return _ZERO, (_ZERO if a.current_a is not None else None)
        power = a.power_kw
        if power is None:
            power = (b.energy_kwh - a.energy_kwh) * _US_PER_HOUR / Decimal(_us(b.timestamp - a.timestamp))
        return power, a.current_a


def _cuts(
    tariff: Tariff,
    curve: _Curve,
    start: datetime,
    end: datetime,
    local_zone: ZoneInfo,
    origin: datetime | None = None,
) -> dict[datetime, Decimal | None]:
    """Instants where an element may switch -> exact energy there when it is a kWh threshold."""
    cuts: dict[datetime, Decimal | None] = {start: None, end: None}
    for t in curve.times:
        cuts.setdefault(t, None)
    minutes: set[int] = set()
    kwh: set[Decimal] = set()
    for el in tariff.elements:
        r = el.restrictions
        if r is None:
            continue
        if r.start_time is not None or r.end_time is not None or r.day_of_week or r.start_date or r.end_date:
            minutes.add(0)  # local midnight: day_of_week/dates flip, windows wrap
        minutes.update(m % 1440 for m in (r.start_time, r.end_time) if m is not None)
        for limit in (r.min_duration, r.max_duration):
            if limit is not None:
                cuts.setdefault((origin or start) + timedelta(seconds=limit), None)
        kwh.update(k for k in (r.min_kwh, r.max_kwh) if k is not None)
    if minutes:
        day = start.astimezone(local_zone).date() - timedelta(days=1)
        last = end.astimezone(local_zone).date() + timedelta(days=1)
        while day <= last:
            for m in minutes:
                local = datetime.combine(day, time(m // 60, m % 60), tzinfo=local_zone)
                cuts.setdefault(local.astimezone(UTC), None)
            day += timedelta(days=1)
    for k in kwh:
        at = curve.crossing(k)
        if at is not None and at not in curve.times:
            cuts[at] = k  # the next period must start at exactly k kWh (min_kwh inclusive)
    return {t: e for t, e in cuts.items() if start <= t <= end}


def build_charging_periods(
    tariff: Tariff,
    samples: Sequence[MeterSample],
    *,
    start: datetime,
    end: datetime,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> list[ChargingPeriod]:
    """Charging periods with ENERGY (kWh) and TIME or PARKING_TIME (h) volumes, split per element."""
    if end < start:
        raise TariffError("end", "must not be before start")
    reading = policy.reading
    local_zone = zone("UTC" if reading.restriction_clock == "utc" else tz)
    curve = _Curve(samples, start)
    # min/max_duration count from the session start (spec) or, in another reading, from the
    # moment energy first flowed
    origin = curve.charging_start() if reading.min_duration_from == "charging_start" else start
    cut_map = _cuts(tariff, curve, start, end, local_zone, origin)
    times = sorted(cut_map)
    energy_at = [cut_map[t] if cut_map[t] is not None else curve.energy(t) for t in times]
    base_energy = energy_at[0]
    assert base_energy is not None
    tariff_id = tariff.id or None
    unknown_ok = policy.unknown_measure_matches
    table = tariff.scan[None]
    merged: list[_Slice] = []
    for j in range(len(times) - 1):
        a, b = times[j], times[j + 1]
        ea, eb = energy_at[j], energy_at[j + 1]
        assert ea is not None and eb is not None
        energy = eb - ea
        charging = energy != 0
        power, current = curve.measures(a, b)
        local = a.astimezone(local_zone)
        ctx = MatchContext(
            local.date(),
            local.weekday(),
            local.hour * 3600 + local.minute * 60 + local.second,
            ea - base_energy,
            max(0, _us(a - origin)),
            power,
            power,
            current,
            current,
        )
        sig = (
            charging,
            _select(table[ENERGY], ctx, unknown_ok, reading),
            _select(table[TIME if charging else PARKING_TIME], ctx, unknown_ok, reading),
        )
        if merged and merged[-1].signature == sig:
            merged[-1].extend(energy, _us(b - a), power, current)
        else:
            merged.append(_Slice(a, sig, charging, energy, _us(b - a), power, current))
    if not merged:  # zero-length session: one empty period keeps the CDR valid (card. +)
        return [ChargingPeriod(start, (CdrDimension(ENERGY, _ZERO), CdrDimension(TIME, _ZERO)), tariff_id)]
    out = []
    for sl in merged:
        dims = [
            CdrDimension(ENERGY, sl.energy),
            CdrDimension(TIME if sl.charging else PARKING_TIME, Decimal(sl.us) / _US_PER_HOUR),
        ]
        # Power/current travel with the period only when the tariff prices by them.
        if tariff.uses_power and sl.min_p is not None and sl.max_p is not None:
            dims += [CdrDimension("MIN_POWER", sl.min_p), CdrDimension("MAX_POWER", sl.max_p)]
        if tariff.uses_current and sl.min_c is not None and sl.max_c is not None:
            dims += [CdrDimension("MIN_CURRENT", sl.min_c), CdrDimension("MAX_CURRENT", sl.max_c)]
        out.append(ChargingPeriod(sl.start, tuple(dims), tariff_id))
    return out


class _Slice:
    """A run of adjacent cut intervals that select the same elements: one charging period."""

    __slots__ = ("charging", "energy", "max_c", "max_p", "min_c", "min_p", "signature", "start", "us")

    def __init__(
        self,
        start: datetime,
        signature: tuple[object, ...],
        charging: bool,
        energy: Decimal,
        us: int,
        power: Decimal | None,
        current: Decimal | None,
    ) -> None:
        self.start = start
        self.signature = signature
        self.charging = charging
        self.energy = energy
        self.us = us
        self.min_p = self.max_p = power
        self.min_c = self.max_c = current

    def extend(self, energy: Decimal, us: int, power: Decimal | None, current: Decimal | None) -> None:
        self.energy += energy
        self.us += us
        self.min_p, self.max_p = _min(self.min_p, power), _max(self.max_p, power)
        self.min_c, self.max_c = _min(self.min_c, current), _max(self.max_c, current)


def _select(
    scan: tuple[tuple[TariffElement, PriceComponent], ...],
    ctx: MatchContext,
    unknown_ok: bool,
    reading: Reading = SPEC_READING,
) -> int | None:
    for el, _comp in scan:
        if matches(el.restrictions, ctx, unknown_measure_matches=unknown_ok, reading=reading):
            return el.index
    return None


def _min(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else min(a, b)


def _max(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else max(a, b)


def price_session(
    tariff: Tariff,
    samples: Sequence[MeterSample],
    *,
    start: datetime,
    end: datetime,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> tuple[list[ChargingPeriod], PriceResult]:
    periods = build_charging_periods(tariff, samples, start=start, end=end, tz=tz, policy=policy)
    return periods, price_charging_periods(tariff, periods, end=end, tz=tz, policy=policy, start=start)


def quote(
    tariff: Tariff,
    *,
    start: datetime,
    energy_kwh: Decimal,
    duration: timedelta,
    power_kw: Decimal | None = None,
    tz: str | ZoneInfo,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> PriceResult:
    """Price a hypothetical session: charge at `power_kw` until `energy_kwh` is in, then park.

    Without a power the energy is spread evenly over the whole duration (no parking).
    """
    energy = to_decimal(energy_kwh, "energy_kwh")
    if energy < 0:
        raise TariffError("energy_kwh", "must be >= 0")
    if duration <= timedelta(0):
        raise TariffError("duration", "must be positive")
    end = start + duration
    if power_kw is None or energy == 0:
        samples = [MeterSample(start, _ZERO), MeterSample(end, energy)]
    else:
        power = to_decimal(power_kw, "power_kw")
        if power <= 0:
            raise TariffError("power_kw", "must be > 0")
        charge_us = int((energy / power * _US_PER_HOUR).to_integral_value(ROUND_HALF_EVEN))
        if charge_us > _us(duration):
            raise TariffError("power_kw", "too low to deliver energy_kwh within the duration")
        full = start + timedelta(microseconds=charge_us)
        samples = [MeterSample(start, _ZERO, power), MeterSample(full, energy, _ZERO)]
        if full < end:
            samples.append(MeterSample(end, energy, _ZERO))
    periods = build_charging_periods(tariff, samples, start=start, end=end, tz=tz, policy=policy)
    return price_charging_periods(tariff, periods, end=end, tz=tz, policy=policy, start=start)
