"""Hypothesis properties of the tariff engine over generated tariffs and sessions.

Note on monotonicity: under the spec's step_size rule (round the total with the step of the last
relevant component) a session that *switches element* can cost less when an earlier period grows
(the rounding is absorbed by the later, differently priced element). So "more never costs less" is
asserted where it holds: growing the last period, and sessions of an unrestricted tariff.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from emsp.settlement.tariff import (
    CdrDimension,
    ChargingPeriod,
    MeterSample,
    Tariff,
    build_charging_periods,
    parse_tariff,
    price_charging_periods,
    quote,
)

SETTINGS = settings(max_examples=150, deadline=None)
TZ = "Europe/Amsterdam"
T0 = datetime(2024, 3, 25, 5, 0, tzinfo=UTC)  # a Monday; the week spans no DST change

prices = st.decimals(min_value=0, max_value=10, places=2)
vats = st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal(9), Decimal(21)]))
hhmm = st.sampled_from(["00:00", "06:00", "07:30", "12:00", "17:00", "20:00", "22:00"])
restriction = st.one_of(
    st.fixed_dictionaries({"start_time": hhmm, "end_time": hhmm}),
    st.fixed_dictionaries(
        {"day_of_week": st.lists(st.sampled_from(["MONDAY", "TUESDAY", "SATURDAY"]), min_size=1)}
    ),
    st.fixed_dictionaries({"max_kwh": st.sampled_from([1, 5, 20])}),
    st.fixed_dictionaries({"min_kwh": st.sampled_from([1, 5, 20])}),
    st.fixed_dictionaries({"max_duration": st.sampled_from([900, 3600])}),
    st.fixed_dictionaries({"min_duration": st.sampled_from([900, 3600])}),
)
STEPS = {
    "ENERGY": [0, 1, 100, 500],
    "TIME": [0, 1, 60, 300, 900],
    "PARKING_TIME": [1, 60, 300, 900],
    "FLAT": [0, 1],
}


@st.composite
def components(draw: Any) -> list[dict[str, Any]]:
    kinds = draw(st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=4, unique=True))
    out = []
    for kind in kinds:
        comp = {"type": kind, "price": draw(prices), "step_size": draw(st.sampled_from(STEPS[kind]))}
        vat = draw(vats)
        if vat is not None:
            comp["vat"] = vat
        out.append(comp)
    return out


@st.composite
def tariffs(draw: Any, restricted: bool = True, bounds: bool = True) -> Tariff:
    elements: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3)) if restricted else 0):
        elements.append({"price_components": draw(components()), "restrictions": draw(restriction)})
    if not restricted or draw(st.booleans()):
        elements.append({"price_components": draw(components())})
    if not elements:
        elements.append({"price_components": draw(components())})
    data: dict[str, Any] = {"id": "p", "currency": "EUR", "elements": elements}
    if bounds and draw(st.booleans()):
        lo = draw(prices)
        data["min_price"] = {"excl_vat": lo, "incl_vat": lo * Decimal("1.21")}
    if bounds and draw(st.booleans()):
        hi = draw(prices) + 10
        data["max_price"] = {"excl_vat": hi, "incl_vat": hi * Decimal("1.21")}
    return parse_tariff(data)


@st.composite
def sessions(draw: Any) -> tuple[datetime, datetime, list[MeterSample]]:
    start = T0 + timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))
    t, energy = start, Decimal(0)
    samples = [MeterSample(t, energy)]
    for _ in range(draw(st.integers(1, 5))):
        t += timedelta(seconds=draw(st.integers(60, 3 * 3600)))
        energy += draw(st.sampled_from([Decimal(0), Decimal("0.5"), Decimal("3.25"), Decimal(11)]))
        samples.append(MeterSample(t, energy))
    return start, t, samples


def _price(tariff: Tariff, periods: list[ChargingPeriod], end: datetime) -> Any:
    return price_charging_periods(tariff, periods, end=end, tz=TZ)


@SETTINGS
@given(tariffs(), sessions(), st.sampled_from([Decimal("0.01"), Decimal("0.5"), Decimal(3)]))
def test_growing_the_last_period_never_costs_less(tariff: Tariff, session: Any, extra: Decimal) -> None:
    start, end, samples = session
    periods = build_charging_periods(tariff, samples, start=start, end=end, tz=TZ)
    before = _price(tariff, periods, end).totals.total_cost
    last = periods[-1]
    # Only volumes already > 0 grow: turning a zero volume into a positive one can make another
    # component "the last relevant one" whose step_size rounds less (mod_cdrs step_size rule), which
    # legitimately lowers the price (e.g. a free element with step 0 after a 100 Wh step element).
    grown = tuple(
        CdrDimension(d.type, d.volume + extra if d.volume > 0 else d.volume) for d in last.dimensions
    )
    after = _price(tariff, [*periods[:-1], replace(last, dimensions=grown)], end + timedelta(hours=3)).totals
    assert after.total_cost.excl_vat >= before.excl_vat
    if before.incl_vat is not None and after.total_cost.incl_vat is not None:
        assert after.total_cost.incl_vat >= before.incl_vat


@SETTINGS
@given(
    tariffs(restricted=False),
    st.decimals(min_value="0.001", max_value=80, places=3),  # 0 kWh would be all parking
    st.integers(1, 600),
    st.decimals(min_value="0.001", max_value=10, places=3),
    st.integers(0, 120),
)
def test_unrestricted_tariff_more_energy_or_time_never_costs_less(
    tariff: Tariff, kwh: Decimal, minutes: int, more_kwh: Decimal, more_minutes: int
) -> None:
    def cost(energy: Decimal, mins: int) -> Decimal:
        result = quote(tariff, start=T0, energy_kwh=energy, duration=timedelta(minutes=mins), tz=TZ)
        return result.totals.total_cost.excl_vat

    base = cost(kwh, minutes)
    assert cost(kwh + more_kwh, minutes) >= base
    assert cost(kwh, minutes + more_minutes) >= base


@SETTINGS
@given(tariffs(), sessions())
def test_totals_bounds_steps_and_sums(tariff: Tariff, session: Any) -> None:
    start, end, samples = session
    periods = build_charging_periods(tariff, samples, start=start, end=end, tz=TZ)
    result = _price(tariff, periods, end)
    totals = result.totals
    cost = totals.total_cost
    # min/max bounds
    if tariff.min_price is not None:
        assert cost.excl_vat >= tariff.min_price.excl_vat
    if tariff.max_price is not None:
        assert cost.excl_vat <= tariff.max_price.excl_vat
    # step_size never lowers a volume
    assert all(line.billed_volume >= line.volume for line in result.lines)
    # total = sum of the dimension totals (+ the min/max adjustment)
    parts = [
        totals.total_energy_cost,
        totals.total_time_cost,
        totals.total_parking_cost,
        totals.total_fixed_cost,
        totals.total_reservation_cost,
    ]
    adjustment = result.adjustment
    excl = sum((p.excl_vat for p in parts if p is not None), Decimal(0))
    assert cost.excl_vat == excl + (adjustment.excl_vat if adjustment else 0)
    if cost.incl_vat is not None and all(p is None or p.incl_vat is not None for p in parts):
        incl = sum((p.incl_vat for p in parts if p is not None and p.incl_vat is not None), Decimal(0))
        adj = adjustment.incl_vat if adjustment and adjustment.incl_vat is not None else 0
        assert cost.incl_vat == incl + adj
    # every line with a component names the element that priced it
    assert all((line.cost is None) == (line.element_index is None) for line in result.lines)


@SETTINGS
@given(tariffs(bounds=False), sessions())
def test_build_conserves_energy_and_time(tariff: Tariff, session: Any) -> None:
    start, end, samples = session
    periods = build_charging_periods(tariff, samples, start=start, end=end, tz=TZ)
    energy = sum((p.volume("ENERGY") or Decimal(0) for p in periods), Decimal(0))
    assert energy == samples[-1].energy_kwh
    hours = sum((p.volume("TIME") or p.volume("PARKING_TIME") or Decimal(0) for p in periods), Decimal(0))
    seconds = Decimal((end - start).total_seconds())
    assert abs(hours * 3600 - seconds) < Decimal("1e-15")
    assert periods[0].start_date_time == start
    assert all(a.start_date_time < b.start_date_time for a, b in pairwise(periods))
    # charging and parking never share a period
    assert all((p.volume("TIME") is None) != (p.volume("PARKING_TIME") is None) for p in periods)
