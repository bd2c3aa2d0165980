"""Charging physics: exact integer Wh, monotone register, end energy = min(target, power * time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp_pair import Pair

from simulators.cpo.csms import Csms
from simulators.cpo.events import MeterSampled, TransactionEnded, TransactionStarted
from simulators.station.physics import EvProfile, delivered_wh, full_after
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def test_full_after_is_the_first_whole_second_with_the_target() -> None:
    power, target = Decimal(7400), 10000
    after = full_after(power, target)
    assert after is not None
    seconds = Decimal(after.total_seconds())
    assert delivered_wh(power, target, seconds) == target > delivered_wh(power, 10**9, seconds - 1)
    assert full_after(Decimal(0), 5) is None and full_after(power, 0) == timedelta(0)


@settings(max_examples=40, deadline=None)
@given(
    power=st.decimals(min_value=Decimal("1.0"), max_value=Decimal("150"), places=1),
    energy=st.decimals(min_value=Decimal("0"), max_value=Decimal("80"), places=3),
    plugged_s=st.integers(min_value=1, max_value=12 * 3600),
    interval=st.sampled_from([60, 300, 900]),
    v201=st.booleans(),
)
def test_meter_is_monotone_and_final_energy_exact(
    power: Decimal, energy: Decimal, plugged_s: int, interval: int, v201: bool
) -> None:
    cls = Station201 if v201 else Station16
    station = cls("P", connectors=1, max_power_kw=Decimal("22"), meter_interval_s=interval)
    pair = Pair(station, Csms("CPO", heartbeat_interval_s=3600))
    pair.connect(T0)
    pair.plug_in(1, "T", EvProfile(power, energy), T0)
    pair.unplug(1, T0 + timedelta(seconds=plugged_s))

    [start] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    [end] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    register = [start.meter_start_wh, *(e.energy_wh for e in pair.events if isinstance(e, MeterSampled))]
    register.append(end.meter_stop_wh)
    assert register == sorted(register)

    power_w = min(power, Decimal(22)) * 1000
    by_time = (power_w * plugged_s / 3600).to_integral_value(rounding=ROUND_FLOOR)
    target = (energy * 1000).to_integral_value(rounding=ROUND_FLOOR)
    expected = int(min(target, by_time))
    [truth] = station.truth
    assert truth.energy_wh == end.meter_stop_wh - start.meter_start_wh == expected
