"""Charging physics: exact integer Wh, monotone register, end energy = min(target, power * time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp_pair import Pair

from simulators.cpo.csms import Csms
from simulators.cpo.events import MeterSampled, TransactionEnded, TransactionStarted
from simulators.station.physics import EvProfile, delivered_wh, full_after, power_curve
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


@settings(max_examples=120, deadline=None)
@given(
    battery=st.decimals(min_value=Decimal("20"), max_value=Decimal("120"), places=1),
    soc=st.decimals(min_value=Decimal("0"), max_value=Decimal("95"), places=1),
    want=st.decimals(min_value=Decimal("0.1"), max_value=Decimal("120"), places=1),
    dc_max=st.decimals(min_value=Decimal("20"), max_value=Decimal("350"), places=0),
    station=st.decimals(min_value=Decimal("20"), max_value=Decimal("300"), places=0),
    taper=st.decimals(min_value=Decimal("50"), max_value=Decimal("100"), places=0),
)
def test_dc_taper_conserves_energy_never_exceeds_limits_and_only_falls(
    battery: Decimal, soc: Decimal, want: Decimal, dc_max: Decimal, station: Decimal, taper: Decimal
) -> None:
    ev = EvProfile(
        power_kw=Decimal(11),
        energy_kwh=want,
        battery_kwh=battery,
        soc_start=soc,
        dc_power_kw=dc_max,
        taper_from_soc=taper,
    )
    curve = power_curve(ev, station, dc=True)
    limit = min(dc_max, station) * 1000
    full = curve.full_after()
    assert full is not None
    end = Decimal(int(full.total_seconds()))
    total = curve.breakpoints()[-1][0]  # the exact instant the last Wh is in
    times = [total * k / 40 for k in range(40)] + [end]
    powers = [curve.power_at(t) for t in times[:-1]]
    energies = [curve.energy_wh(t) for t in times]
    assert all(0 < p <= limit for p in powers)  # never above min(station, EV)
    assert powers == sorted(powers, reverse=True)  # the taper only ever lowers the power
    assert energies == sorted(energies) and energies[-1] == curve.target_wh == int(want * 1000)
    assert curve.energy_wh(end - 1) < curve.target_wh or end == 0  # full at the first whole second
    for t, e in zip(times, energies, strict=True):
        assert e <= limit * t / 3600  # energy is the integral of a power never above the limit
    if soc + want * 100 / battery <= taper:
        assert len(curve.breakpoints()) == 2  # never reaches the taper: one constant power


def test_ac_ignores_the_taper_and_the_dc_limit() -> None:
    ev = EvProfile(
        power_kw=Decimal("7.4"),
        energy_kwh=Decimal(30),
        battery_kwh=Decimal(50),
        soc_start=Decimal(70),
        dc_power_kw=Decimal(100),
        taper_from_soc=Decimal(50),
    )
    ac = power_curve(ev, Decimal(22))
    assert ac.power_at(Decimal(0)) == ac.power_at(Decimal(3600)) == Decimal(7400)
    dc = power_curve(ev, Decimal(150), dc=True)
    assert dc.power_at(Decimal(0)) < Decimal(100_000)  # already above the taper SoC at plug-in


def test_a_dc_station_reports_the_taper_in_its_meter_values() -> None:
    station = Station201("DC1", connectors=1, max_power_kw=Decimal(150), meter_interval_s=60, dc=True)
    pair = Pair(station, Csms("CPO", heartbeat_interval_s=3600))
    pair.connect(T0)
    ev = EvProfile(
        power_kw=Decimal(11),
        energy_kwh=Decimal(40),
        battery_kwh=Decimal(60),
        soc_start=Decimal(20),
        dc_power_kw=Decimal(120),
        taper_from_soc=Decimal(60),
    )
    pair.plug_in(1, "T", ev, T0)
    pair.unplug(1, T0 + timedelta(hours=2))
    powers = [e.power_w for e in pair.events if isinstance(e, MeterSampled) and e.power_w]
    assert powers[0] == 120_000 and powers[-1] < 60_000
    assert powers == sorted(powers, reverse=True)
    [truth] = station.truth
    assert truth.energy_wh == 40_000 and len(truth.power_corners) > 10
