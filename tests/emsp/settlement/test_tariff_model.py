"""Parsing (2.2.1 and the 2.1.1 adapter), error paths, restriction evaluation details."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from tariff_cases import cdr, fixture, fixture_names

from emsp.settlement.tariff import DEFAULT_POLICY, TariffError, parse_tariff, parse_tariff_211, price_cdr
from emsp.settlement.tariff.restrictions import in_time_window


def _one(component: dict[str, Any], restrictions: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"price_components": [component]}
    if restrictions is not None:
        element["restrictions"] = restrictions
    return {
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "FLAT", "price": 1, "step_size": 1}]}, element],
    }


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_parses(name: str) -> None:
    tariff = parse_tariff(fixture(name))
    assert tariff.currency == "EUR" and tariff.elements


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _one({"type": "TIME", "price": 1, "step_size": -1}),
            "elements[1].price_components[0].step_size: must be an integer >= 0",
        ),
        (_one({"type": "TIME", "price": 1, "step_size": 1.5}), "elements[1].price_components[0].step_size"),
        (
            _one({"type": "TIME", "price": "x", "step_size": 1}),
            "elements[1].price_components[0].price: must be a number",
        ),
        (_one({"type": "VOLUME", "price": 1, "step_size": 1}), "elements[1].price_components[0].type"),
        (
            _one({"type": "TIME", "price": 1, "step_size": 1, "vat": -2}),
            "elements[1].price_components[0].vat",
        ),
        (
            _one({"type": "TIME", "price": 1, "step_size": 1}, {"start_time": "24:00"}),
            "elements[1].restrictions.start_time",
        ),
        (
            _one({"type": "TIME", "price": 1, "step_size": 1}, {"start_date": "2024-02-30"}),
            "elements[1].restrictions.start_date",
        ),
        (
            _one({"type": "TIME", "price": 1, "step_size": 1}, {"day_of_week": ["MON"]}),
            "elements[1].restrictions.day_of_week[0]",
        ),
        (
            _one({"type": "TIME", "price": 1, "step_size": 1}, {"reservation": "MAYBE"}),
            "elements[1].restrictions.reservation",
        ),
        ({"currency": "EUR", "elements": []}, "elements: must be a non-empty list"),
        (
            {"elements": [{"price_components": [{"type": "FLAT", "price": 1, "step_size": 1}]}]},
            "currency: is required",
        ),
        (
            {
                "currency": "EUR",
                "min_price": {"incl_vat": 1},
                "elements": [{"price_components": [{"type": "FLAT", "price": 1, "step_size": 1}]}],
            },
            "min_price.excl_vat: is required",
        ),
    ],
)
def test_parse_errors_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(TariffError) as err:
        parse_tariff(data)
    assert message in str(err.value)
    assert str(err.value).startswith(err.value.field)


def test_numbers_in_any_json_form_become_exact_decimals() -> None:
    tariff = parse_tariff(_one({"type": "ENERGY", "price": 0.1, "step_size": "1", "vat": "21"}))
    comp = tariff.elements[1].price_components[0]
    assert comp.price == Decimal("0.1") and comp.vat == Decimal(21) and comp.step_size == 1
    assert comp.price_incl_vat == Decimal("0.121")


def test_end_time_midnight_means_end_of_day() -> None:
    tariff = parse_tariff(fixture("t14_step_size_switching"))
    r = tariff.elements[2].restrictions
    assert r is not None and (r.start_time, r.end_time) == (20 * 60, 1440)


@pytest.mark.parametrize(
    ("start", "end", "second", "inside"),
    [
        (22 * 60, 6 * 60, 23 * 3600, True),  # wraps past midnight
        (22 * 60, 6 * 60, 3 * 3600, True),
        (22 * 60, 6 * 60, 6 * 3600, False),  # end exclusive
        (22 * 60, 6 * 60, 12 * 3600, False),
        (9 * 60, 18 * 60, 9 * 3600, True),  # start inclusive
        (None, 17 * 60, 16 * 3600 + 3599, True),
        (20 * 60, 1440, 23 * 3600 + 3599, True),
    ],
)
def test_time_window(start: int | None, end: int | None, second: int, inside: bool) -> None:
    assert in_time_window(start, end, second) is inside


def test_tariff_211_adapter() -> None:
    # OCPI 2.1.1 complex example structure: no VAT, no country/party, min_power instead of current
    data = {
        "id": "11",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": 2.50, "step_size": 1}]},
            {
                "price_components": [{"type": "TIME", "price": 1.00, "step_size": 900}],
                "restrictions": {"max_power": 32.00},
            },
            {
                "price_components": [{"type": "TIME", "price": 2.00, "step_size": 600}],
                "restrictions": {"min_power": 32.00, "day_of_week": ["MONDAY", "TUESDAY"]},
            },
            {
                "price_components": [{"type": "PARKING_TIME", "price": 5.00, "step_size": 300}],
                "restrictions": {"start_time": "09:00", "end_time": "24:00"},
            },
        ],
        "last_updated": "2015-06-29T20:39:09Z",
    }
    tariff = parse_tariff_211(data, country_code="BE", party_id="BEC")
    assert (tariff.version, tariff.country_code, tariff.party_id) == ("2.1.1", "BE", "BEC")
    assert tariff.elements[3].restrictions is not None and tariff.elements[3].restrictions.end_time == 1440
    # Monday 10:00 local, 1 h at 11 kW (max_power 32 -> 1.00/h; per dimension, so FLAT applies too),
    # 30 min parking: 2.50 + 1.00 + 2.50 = 6.00; VAT unknown in 2.1.1 -> incl_vat None
    data_cdr = cdr(
        "2024-01-08T09:00:00Z", [(0, {"ENERGY": 11, "TIME": 1}), (60, {"PARKING_TIME": "0.5"})], 90
    )
    totals = price_cdr(tariff, data_cdr, tz="Europe/Amsterdam").totals
    assert totals.total_cost.excl_vat == Decimal("6.00") and totals.total_cost.incl_vat is None


def test_tariff_211_ignores_fields_it_does_not_have() -> None:
    data = {
        "id": "1",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21, "step_size": 1}],
                "restrictions": {"min_current": 16},
            }
        ],
        "min_price": {"excl_vat": 100},
    }
    tariff = parse_tariff_211(data)
    assert tariff.elements[0].price_components[0].vat is None
    assert tariff.min_price is None
    assert tariff.elements[0].restrictions is not None and tariff.elements[0].restrictions.min_current is None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("end_date_time"), "end_date_time"),
        (lambda c: c.update(currency="USD"), "currency"),
        (lambda c: c.update(charging_periods=[]), "charging_periods"),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(volume="abc"),
            "charging_periods[0].dimensions[0].volume",
        ),
        (
            lambda c: c["charging_periods"][0]["dimensions"][0].update(type="WATTS"),
            "charging_periods[0].dimensions[0].type",
        ),
        (
            lambda c: c["charging_periods"][1].update(start_date_time="yesterday"),
            "charging_periods[1].start_date_time",
        ),
        (
            lambda c: c["charging_periods"][1].update(start_date_time="2024-01-08T07:00:00Z"),
            "charging_periods[1].start_date_time",
        ),
        (lambda c: c.update(end_date_time="2024-01-08T08:10:00Z"), "end_date_time"),
    ],
)
def test_price_cdr_names_the_bad_cdr_field(mutate: Any, field: str) -> None:
    data = cdr("2024-01-08T08:00:00Z", [(0, {"ENERGY": 10, "TIME": 1}), (60, {"PARKING_TIME": 1})], 120)
    mutate(data)
    with pytest.raises(TariffError) as err:
        price_cdr(parse_tariff(fixture("t10_energy_parking_start")), data, tz="UTC")
    assert err.value.field == field


@pytest.mark.parametrize(
    ("round_at", "want"), [("line", "0.0002"), ("dimension", "0.0002"), ("total", "0.0001")]
)
def test_rounding_stage_is_a_policy_choice(round_at: Any, want: str) -> None:
    # FLAT 0.00005 + 5 kWh at 0.00001 = 0.00005 + 0.00005: each rounds half-up to 0.0001, the sum is 0.0001
    tariff = parse_tariff(
        {
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "FLAT", "price": "0.00005", "step_size": 1},
                        {"type": "ENERGY", "price": "0.00001", "step_size": 1},
                    ]
                }
            ],
        }
    )
    policy = replace(DEFAULT_POLICY, name=round_at, round_at=round_at)
    data = cdr("2024-01-08T08:00:00Z", [(0, {"ENERGY": 5})], 60)
    assert price_cdr(tariff, data, tz="UTC", policy=policy).totals.total_cost.excl_vat == Decimal(want)


def test_warnings_for_foreign_tariff_id_and_validity() -> None:
    tariff = parse_tariff(fixture("t06_start_max_price"))  # ends 2019-06-30
    data = cdr("2024-01-08T08:00:00Z", [(0, {"ENERGY": 5})], 60)
    data["charging_periods"][0]["tariff_id"] = "other"
    warnings = price_cdr(tariff, data, tz="UTC").warnings
    assert any("end_date_time" in w for w in warnings)
    assert any("tariff_id other than 't06'" in w for w in warnings)


def test_a_bound_without_incl_vat_that_bites_makes_incl_vat_unknown() -> None:
    """Review finding: min/max_price with only excl_vat must not leave incl. VAT below excl. VAT."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from emsp.settlement.tariff import parse_tariff, quote

    energy = {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}
    base = {
        "country_code": "DE", "party_id": "CPA", "id": "B", "currency": "EUR",
        "elements": [{"price_components": [energy]}], "last_updated": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)

    def total(extra: dict[str, object], kwh: str) -> object:
        tariff = parse_tariff(base | extra)
        result = quote(tariff, start=start, energy_kwh=Decimal(kwh), duration=timedelta(hours=1), tz="UTC")
        return result.totals.total_cost

    low = total({"min_price": {"excl_vat": "5"}}, "1")
    assert low is not None and low.excl_vat == Decimal(5) and low.incl_vat is None
    high = total({"max_price": {"excl_vat": "1"}}, "20")
    assert high is not None and high.excl_vat == Decimal(1) and high.incl_vat is None
    untouched = total({"max_price": {"excl_vat": "100"}}, "20")
    assert untouched is not None and untouched.incl_vat == Decimal("5.5")
