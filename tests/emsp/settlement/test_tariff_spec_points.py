"""Two points of OCPI 2.2.1 the engine once got wrong, table-driven.

- mod_cdrs, CDR object: `total_time` is the total duration of the charging session, charging and not
  charging: from start_date_time to end_date_time, whatever the periods' TIME/PARKING_TIME volumes sum to.
- mod_tariffs, PriceComponent class: an omitted `vat` means no VAT is applicable, so incl_vat equals
  excl_vat (and a stated 0 % is still a different statement: `vat` stays None). Only a 2.1.1 tariff,
  whose PriceComponent has no vat field, leaves incl_vat unknown.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from emsp.settlement.tariff import parse_tariff, parse_tariff_211, price_cdr

START, END = "2026-03-02T07:00:00Z", "2026-03-02T09:00:00Z"  # a 2-hour session


def _tariff(**component: Any) -> dict[str, Any]:
    return {
        "country_code": "DE", "party_id": "CPA", "id": "T", "currency": "EUR",
        "elements": [{"price_components": [{"type": "TIME", "price": "2.00", "step_size": 1, **component}]}],
        "last_updated": "2026-01-01T00:00:00Z",
    }  # fmt: skip


def _cdr(periods: list[tuple[str, list[tuple[str, str]]]], start: str = START) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "end_date_time": END,
        "currency": "EUR",
        "charging_periods": [
            {"start_date_time": at, "dimensions": [{"type": t, "volume": v} for t, v in dims]}
            for at, dims in periods
        ],
    }


@pytest.mark.parametrize(
    ("why", "periods", "start"),
    [
        (
            "contiguous TIME then PARKING_TIME",
            [(START, [("TIME", "1.5")]), ("2026-03-02T08:30:00Z", [("PARKING_TIME", "0.5")])],
            START,
        ),
        ("periods carry ENERGY only (no time dimension sent)", [(START, [("ENERGY", "11")])], START),
        ("a CPO that rounded each period's volume down", [(START, [("TIME", "1.9")])], START),
        ("charging starts 6 min after the CDR start", [("2026-03-02T07:06:00Z", [("TIME", "1.9")])], START),
    ],
)
def test_total_time_is_the_session_duration(why: str, periods: Any, start: str) -> None:
    totals = price_cdr(parse_tariff(_tariff(vat=19)), _cdr(periods, start), tz="UTC").totals
    assert totals.total_time == Decimal(2), why


def test_total_time_leaves_a_reservation_ahead_of_the_session_out() -> None:
    tariff = _tariff(vat=19)
    tariff["elements"].insert(
        0,
        {
            "price_components": [{"type": "TIME", "price": "1.00", "step_size": 1}],
            "restrictions": {"reservation": "RESERVATION"},
        },
    )
    reserved = [("2026-03-02T06:45:00Z", [("RESERVATION_TIME", "0.25")]), (START, [("TIME", "2")])]
    totals = price_cdr(parse_tariff(tariff), _cdr(reserved, "2026-03-02T06:45:00Z"), tz="UTC").totals
    assert totals.total_time == Decimal(2)  # the session part; the reservation is billed on its own


@pytest.mark.parametrize(
    ("component", "excl", "incl", "vat"),
    [
        ({}, "4.0000", "4.0000", None),  # omitted: no VAT applicable
        ({"vat": 0}, "4.0000", "4.0000", Decimal(0)),  # 0 %: same amounts, a different statement
        ({"vat": 19}, "4.0000", "4.7600", Decimal(19)),
    ],
)
def test_221_vat_omitted_means_no_vat_applies(
    component: dict[str, Any], excl: str, incl: str, vat: Decimal | None
) -> None:
    tariff = parse_tariff(_tariff(**component))
    assert tariff.elements[0].price_components[0].vat == vat
    cost = price_cdr(tariff, _cdr([(START, [("TIME", "2")])]), tz="UTC").totals.total_cost
    assert (cost.excl_vat, cost.incl_vat) == (Decimal(excl), Decimal(incl))


def test_211_tariff_leaves_incl_vat_unknown() -> None:
    component = {"type": "TIME", "price": "2.00", "step_size": 1}
    raw = {"id": "T", "currency": "EUR", "last_updated": "2026-01-01T00:00:00Z",
           "elements": [{"price_components": [component]}]}  # fmt: skip
    tariff = parse_tariff_211(raw, country_code="DE", party_id="CPA")
    cost = price_cdr(tariff, _cdr([(START, [("TIME", "2")])]), tz="UTC").totals.total_cost
    assert cost.excl_vat == Decimal("4.0000") and cost.incl_vat is None


def test_an_amount_exactly_on_a_rounding_boundary_rounds_half_up() -> None:
    # 72 s of parking, step 60 s -> 120 s = 1/30 h (not a finite decimal) at 0.15/h, 19 % VAT:
    # exactly 0.005 excl. and 0.00595 incl., which rounds half up to 0.0060 (not 0.0059 from 0.0059499...).
    tariff = _tariff(vat=19)
    tariff["elements"][0]["price_components"] = [
        {"type": "PARKING_TIME", "price": "0.15", "step_size": 60, "vat": 19}
    ]
    data = _cdr([(START, [("PARKING_TIME", "0.02")])])
    data["end_date_time"] = "2026-03-02T07:01:12Z"
    cost = price_cdr(parse_tariff(tariff), data, tz="UTC").totals.total_cost
    assert (cost.excl_vat, cost.incl_vat) == (Decimal("0.0050"), Decimal("0.0060"))
