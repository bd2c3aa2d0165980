"""build_charging_periods / price_session / quote: where periods are cut and what they carry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tariff_cases import fixture, utc

from emsp.settlement.tariff import (
    COMBINED_TIME_STEP_POLICY,
    MeterSample,
    Price,
    TariffError,
    build_charging_periods,
    parse_tariff,
    price_session,
    quote,
)

AMS = "Europe/Amsterdam"


def _kinds(periods: list[Any]) -> list[tuple[str, str]]:
    """(local HH:MM start, TIME/PARKING_TIME) per period, for compact assertions."""
    out = []
    for p in periods:
        local = p.start_date_time.astimezone(ZoneInfo(AMS))
        kind = "TIME" if p.volume("TIME") is not None else "PARKING_TIME"
        out.append((local.strftime("%H:%M"), kind))
    return out


def test_time_of_day_and_parking_split_reproduces_tariff14_example_1() -> None:
    tariff = parse_tariff(fixture("t14_step_size_switching"))
    start = utc("2024-01-08T15:55:00Z")  # 16:55 local
    samples = [MeterSample(start, Decimal(0)), MeterSample(start + timedelta(minutes=10), Decimal("2.5"))]
    periods, result = price_session(
        tariff,
        samples,
        start=start,
        end=start + timedelta(minutes=12),
        tz=AMS,
        policy=COMBINED_TIME_STEP_POLICY,
    )
    assert _kinds(periods) == [("16:55", "TIME"), ("17:00", "TIME"), ("17:05", "PARKING_TIME")]
    assert [p.volume("ENERGY") for p in periods] == [Decimal("1.25"), Decimal("1.25"), Decimal(0)]
    assert result.totals.total_cost.excl_vat == Decimal("0.3833")  # as the spec case (0.383)


def test_kwh_and_duration_thresholds_split_exactly() -> None:
    # tariff_7: 20 kWh linearly in 30 min, then parked until 03:15 after the start
    tariff = parse_tariff(fixture("t07_first_hour_kwh_free"))
    start = utc("2024-01-08T08:00:00Z")
    samples = [
        MeterSample(start, Decimal(0)),
        MeterSample(start + timedelta(minutes=30), Decimal(20)),
        MeterSample(start + timedelta(minutes=195), Decimal(20)),
    ]
    periods, result = price_session(tariff, samples, start=start, end=start + timedelta(minutes=195), tz=AMS)
    offsets = [(p.start_date_time - start).total_seconds() / 60 for p in periods]
    assert offsets == [0, 1.5, 30, 60, 180]  # 1 kWh reached after 1.5 min; 1 h and 3 h durations
    assert periods[0].volume("ENERGY") == Decimal(1)  # exactly the max_kwh threshold
    assert result.totals.total_cost.excl_vat == Decimal("8.55")  # same as the hand-derived CDR case


def test_power_changes_split_and_carry_power_dimensions() -> None:
    # max_power example: 1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW -> 20.30
    tariff = parse_tariff(fixture("t20_max_power"))
    t0 = utc("2024-01-08T08:00:00Z")
    samples = [
        MeterSample(t0, Decimal(0), power_kw=Decimal(6)),
        MeterSample(t0 + timedelta(minutes=10), Decimal(1), power_kw=Decimal(48)),
        MeterSample(t0 + timedelta(minutes=60), Decimal(41), power_kw=Decimal(4)),
        MeterSample(t0 + timedelta(minutes=67, seconds=30), Decimal("41.5")),
    ]
    periods, result = price_session(tariff, samples, start=t0, end=samples[-1].timestamp, tz=AMS)
    assert [p.volume("MAX_POWER") for p in periods] == [Decimal(6), Decimal(48), Decimal(4)]
    assert result.totals.total_cost == Price(Decimal("20.30"), Decimal("24.36"))


def test_samples_without_power_use_the_energy_slope() -> None:
    tariff = parse_tariff(fixture("t20_max_power"))
    t0 = utc("2024-01-08T08:00:00Z")
    samples = [
        MeterSample(t0, Decimal(0)),
        MeterSample(t0 + timedelta(minutes=10), Decimal(1)),  # 6 kW
        MeterSample(t0 + timedelta(minutes=60), Decimal(41)),  # 48 kW
    ]
    _periods, result = price_session(tariff, samples, start=t0, end=samples[-1].timestamp, tz=AMS)
    assert result.totals.total_energy_cost is not None
    assert result.totals.total_energy_cost.excl_vat == Decimal("20.20")  # 0.20 + 20.00


def test_window_wrapping_past_midnight_and_merging() -> None:
    night = {"start_time": "22:00", "end_time": "06:00"}
    tariff = parse_tariff(
        {
            "id": "n",
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "TIME", "price": 1, "step_size": 1}], "restrictions": night},
                {"price_components": [{"type": "TIME", "price": 3, "step_size": 1}]},
            ],
        }
    )
    start = utc("2024-01-08T20:00:00Z")  # 21:00 local, to 07:00 local next day
    end = start + timedelta(hours=10)
    periods = build_charging_periods(
        tariff, [MeterSample(start, Decimal(0)), MeterSample(end, Decimal(30))], start=start, end=end, tz=AMS
    )
    # local midnight is a candidate cut but changes nothing here, so it is merged away
    assert _kinds(periods) == [("21:00", "TIME"), ("22:00", "TIME"), ("06:00", "TIME")]
    assert [p.volume("TIME") for p in periods] == [Decimal(1), Decimal(8), Decimal(1)]
    assert [p.tariff_id for p in periods] == ["n", "n", "n"]


def test_day_of_week_boundary_in_local_time() -> None:
    tariff = parse_tariff(
        {
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                    "restrictions": {"day_of_week": ["SUNDAY"]},
                },
                {"price_components": [{"type": "ENERGY", "price": 2, "step_size": 1}]},
            ],
        }
    )
    start = utc("2024-01-13T22:00:00Z")  # Saturday 23:00 local -> Sunday 01:00 local
    end = start + timedelta(hours=2)
    _p, result = price_session(
        tariff, [MeterSample(start, Decimal(0)), MeterSample(end, Decimal(20))], start=start, end=end, tz=AMS
    )
    assert result.totals.total_cost.excl_vat == Decimal(30)  # 10 kWh at 2 (Sat) + 10 kWh at 1 (Sun)


def test_unrestricted_tariff_gives_one_charging_and_one_parking_period() -> None:
    tariff = parse_tariff(fixture("t13_time_3_parking_5"))
    start = utc("2024-01-08T08:00:00Z")
    samples = [
        MeterSample(start, Decimal(0)),
        MeterSample(start + timedelta(minutes=60), Decimal(10)),
        MeterSample(start + timedelta(minutes=150), Decimal(20)),
    ]
    periods = build_charging_periods(tariff, samples, start=start, end=start + timedelta(minutes=192), tz=AMS)
    assert [(p.volume("ENERGY"), p.volume("TIME"), p.volume("PARKING_TIME")) for p in periods] == [
        (Decimal(20), Decimal("2.5"), None),
        (Decimal(0), None, Decimal("0.7")),
    ]
    assert periods[0].to_ocpi(4)["dimensions"] == [
        {"type": "ENERGY", "volume": Decimal("20.0000")},
        {"type": "TIME", "volume": Decimal("2.5000")},
    ]


def test_quote_matches_spec_tariff13_example() -> None:
    # 150 min charging at 8 kW (20 kWh) then 42 min parked: 7.50 + 3.75 = 11.25 / 12.75
    result = quote(
        parse_tariff(fixture("t13_time_3_parking_5")),
        start=utc("2024-01-08T08:00:00Z"),
        energy_kwh=Decimal(20),
        duration=timedelta(minutes=192),
        power_kw=Decimal(8),
        tz=AMS,
    )
    assert (result.totals.total_cost.excl_vat, result.totals.total_cost.incl_vat) == (
        Decimal("11.25"),
        Decimal("12.75"),
    )


def test_quote_without_power_spreads_energy() -> None:
    result = quote(
        parse_tariff(fixture("t13_time_3_parking_5")),
        start=utc("2024-01-08T08:00:00Z"),
        energy_kwh=Decimal(20),
        duration=timedelta(minutes=192),
        tz="UTC",
    )
    assert result.totals.total_parking_time == 0
    assert result.totals.total_cost.excl_vat == Decimal("9.60")  # 3.2 h at 3.00


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"power_kw": Decimal(1)}, "power_kw"),  # 20 kWh cannot fit in 192 min at 1 kW
        ({"power_kw": Decimal(0)}, "power_kw"),
        ({"energy_kwh": Decimal(-1)}, "energy_kwh"),
        ({"duration": timedelta(0)}, "duration"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_quote_rejects_bad_input(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {
        "start": utc("2024-01-08T08:00:00Z"),
        "energy_kwh": Decimal(20),
        "duration": timedelta(minutes=192),
        "tz": "UTC",
    }
    args.update(kwargs)
    with pytest.raises(TariffError) as err:
        quote(parse_tariff(fixture("t13_time_3_parking_5")), **args)
    assert err.value.field == field


def test_samples_must_increase() -> None:
    t0 = utc("2024-01-08T08:00:00Z")
    with pytest.raises(TariffError, match=r"samples\[1\]\.timestamp"):
        build_charging_periods(
            parse_tariff(fixture("t08_energy_025")),
            [MeterSample(t0, Decimal(0)), MeterSample(t0, Decimal(1))],
            start=t0,
            end=t0 + timedelta(hours=1),
            tz="UTC",
        )


def test_local_boundary_on_dst_change_day() -> None:
    # 2024-03-31: Amsterdam jumps 02:00 -> 03:00. Session 00:00-04:00 local = 23:00Z-02:00Z (3 real hours);
    # the night window ends at 03:00 local = 01:00Z, so 2 h at night price and 1 h at day price.
    night = {"start_time": "00:00", "end_time": "03:00"}
    tariff = parse_tariff(
        {
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "TIME", "price": 1, "step_size": 1}], "restrictions": night},
                {"price_components": [{"type": "TIME", "price": 5, "step_size": 1}]},
            ],
        }
    )
    start, end = utc("2024-03-30T23:00:00Z"), utc("2024-03-31T02:00:00Z")
    periods, result = price_session(
        tariff, [MeterSample(start, Decimal(0)), MeterSample(end, Decimal(30))], start=start, end=end, tz=AMS
    )
    assert [p.volume("TIME") for p in periods] == [Decimal(2), Decimal(1)]
    assert result.totals.total_cost.excl_vat == Decimal(7)
