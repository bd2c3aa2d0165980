"""Pricing a session whose tariff changed while it charged (a `split_periods` CPO).

mod_cdrs: every ChargingPeriod carries the `tariff_id` relevant for it, so a CPO that splits the
session at the change sends periods under the old tariff up to the instant of the change and periods
under the new one from then on; the session's totals are the sum over all periods, priced by the same
engine the eMSP uses (`price_charging_periods` with every tariff by id). The energy at the instant of
the change is read off the meter curve (linear between samples, as the engine does).

Restrictions counting from the session start (min/max duration, min/max kWh) are evaluated per part,
from the change: the built-in tariffs have none, and a CPO that splits a session treats the new
version as a new start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from emsp.settlement.tariff import (
    ChargingPeriod,
    MeterSample,
    PriceResult,
    Tariff,
    build_charging_periods,
    price_charging_periods,
)

_US = timedelta(microseconds=1)

# A tariff_change as the CPO published it: (instant, old id, new id, policy)
TariffChange = tuple[datetime, str, str, str]


def energy_at(samples: Sequence[MeterSample], at: datetime) -> Decimal:
    """Cumulative kWh at `at`, linear between the samples around it."""
    before = samples[0]
    for sample in samples:
        if sample.timestamp == at:
            return sample.energy_kwh
        if sample.timestamp > at:
            span = (sample.timestamp - before.timestamp) // _US
            if span <= 0:
                return sample.energy_kwh
            share = Decimal((at - before.timestamp) // _US) / Decimal(span)
            return before.energy_kwh + (sample.energy_kwh - before.energy_kwh) * share
        before = sample
    return before.energy_kwh


def price_with_switches(
    tariffs: Mapping[str, Tariff],
    first: str,
    switches: Sequence[tuple[datetime, str]],
    samples: Sequence[MeterSample],
    *,
    start: datetime,
    end: datetime,
    tz: str,
) -> tuple[list[ChargingPeriod], PriceResult]:
    """Periods under `first` until the first switch, then under each switch's tariff; and their price."""
    cuts = [(at, tid) for at, tid in switches if start < at < end]
    bounds = [(start, first), *cuts]
    periods: list[ChargingPeriod] = []
    for index, (part_start, tariff_id) in enumerate(bounds):
        part_end = bounds[index + 1][0] if index + 1 < len(bounds) else end
        inside = [s for s in samples if part_start < s.timestamp < part_end]
        part = [
            MeterSample(part_start, energy_at(samples, part_start)),
            *inside,
            MeterSample(part_end, energy_at(samples, part_end)),
        ]
        periods += build_charging_periods(tariffs[tariff_id], part, start=part_start, end=part_end, tz=tz)
    used = {tid: tariffs[tid] for tid in dict.fromkeys([first, *(tid for _at, tid in cuts)])}
    return periods, price_charging_periods(used, periods, end=end, tz=tz)


def tariff_at_start(
    changes: Sequence[TariffChange], current: str, start: datetime
) -> tuple[str, list[tuple[datetime, str]]]:
    """The tariff in effect when a session started by the station's clock, and its switches since.

    A StartTransaction reaches the CPO after the station stamped it (link delay, an offline
    queue): a tariff change published in between must not reprice a session that had already
    started. The session keeps the tariff of its start (`price_at_start`) or switches at each
    later change of that tariff (`split_periods`), as a session that was known at the change."""
    later = [change for change in changes if change[0] > start]
    tariff_id = current
    for _at, old, new, _policy in reversed(later):
        if new == tariff_id:
            tariff_id = old
    switches: list[tuple[datetime, str]] = []
    following = tariff_id
    for at, old, new, policy in later:
        if old == following and policy == "split_periods":
            switches.append((at, new))
            following = new
    return tariff_id, switches
