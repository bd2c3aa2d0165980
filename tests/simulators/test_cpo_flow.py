"""The mock CPO's periods charge while the station drew power, whatever the whole-Wh register showed
(review r7 K6): a flat stretch of a flowing run is no parking; a stretch at 0 W is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from emsp.settlement.tariff import MeterSample
from simulators.cpo.flow import pricing_samples

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _s(seconds: int, wh: int, power_w: int | None = None) -> MeterSample:
    power = None if power_w is None else Decimal(power_w) / 1000
    return MeterSample(T0 + timedelta(seconds=seconds), Decimal(wh) / 1000, power)


def test_the_seconds_after_the_last_tick_charge_when_the_station_still_drew_power() -> None:
    # 100 W: the register ticks every 36 s; the unplug 12 s after the last periodic sample reads flat.
    samples = [_s(0, 0), _s(300, 8, 100), _s(1200, 33, 100), _s(1212, 33)]
    assert pricing_samples(samples) == [samples[0], samples[1], samples[3]]


def test_samples_between_which_nothing_ticked_are_left_out_of_a_flowing_run() -> None:
    # 10 W: one Wh every 6 minutes, samples every 5: the start reads flat too.
    samples = [_s(0, 0), _s(300, 0, 10), _s(600, 1, 10), _s(900, 2, 10), _s(1200, 3, 10), _s(1300, 3)]
    assert pricing_samples(samples) == [samples[0], samples[2], samples[3], samples[5]]


def test_a_stretch_at_zero_power_stays_flat() -> None:
    # Full at 600 s (the station's ev_full sample says 0 W): parking from there, as in the truth.
    samples = [_s(0, 0), _s(300, 900, 11000), _s(600, 1800, 0), _s(900, 1800, 0), _s(1000, 1800)]
    assert pricing_samples(samples) is samples
    # A limit of 0 W from 300 s to 600 s, then drawing again with nothing ticked before the unplug.
    paused = [_s(0, 0), _s(300, 5, 0), _s(600, 5, 100), _s(610, 5)]
    assert pricing_samples(paused) is paused


def test_registers_that_tick_every_sample_are_the_same_list() -> None:
    samples = [_s(0, 0), _s(300, 900, 11000), _s(600, 1800, 11000), _s(700, 2100)]
    assert pricing_samples(samples) is samples


def test_a_flat_register_longer_than_a_wh_at_the_reported_power_is_parking() -> None:
    # 11 kW for 10 minutes would be 1833 Wh: a register that did not move proves nothing flowed.
    samples = [_s(0, 0), _s(600, 1800, 11000), _s(1200, 1800, 11000), _s(1800, 1800)]
    assert pricing_samples(samples) is samples
