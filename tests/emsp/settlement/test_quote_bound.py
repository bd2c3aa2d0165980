"""quote_bound: the quote is the most the planned visit can cost, however fast the EV charges.

Before it, a quote spread the energy over the whole stay (no parking): a tariff whose PARKING_TIME
is dearer than its TIME (a blocking fee) billed visits above their quote although nothing changed
(review9 M2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from emsp.settlement.tariff import Tariff, parse_tariff, quote
from emsp.settlement.tariff.bound import quote_bound

START = datetime(2026, 3, 2, 6, 50, tzinfo=UTC)  # a Monday, 07:50 in Amsterdam
AMS = "Europe/Amsterdam"


def _tariff(tariff_id: str, elements: list[dict[str, Any]]) -> Tariff:
    return parse_tariff(
        {
            "country_code": "DE", "party_id": "CPA", "id": tariff_id, "currency": "EUR",
            "elements": elements, "last_updated": "2026-03-01T00:00:00Z",
        }
    )  # fmt: skip


def _component(kind: str, price: str, step: int = 1) -> dict[str, Any]:
    return {"type": kind, "price": Decimal(price), "vat": Decimal(19), "step_size": step}


BLOCKING = _tariff(
    "BLK", [{"price_components": [_component("ENERGY", "0.35"), _component("PARKING_TIME", "12.00", 60)]}]
)
# No parking price, no restriction (the built-ins' tariff): the energy spread over the stay is the most.
CHARGING_TIME = _tariff(
    "STD", [{"price_components": [_component("ENERGY", "0.35"), _component("TIME", "2.00", 60)]}]
)
AFTER_30_MIN = {"min_duration": 1800}
MORNING = {"start_time": "07:30", "end_time": "08:15"}
# Charging time costs before 30 min, parking after: the dearest visit charges for exactly 30 min.
LATE_FEE = _tariff(
    "LATE",
    [
        {"price_components": [_component("ENERGY", "0.25")]},
        {"price_components": [_component("PARKING_TIME", "6.00", 60)], "restrictions": AFTER_30_MIN},
        {"price_components": [_component("TIME", "3.00", 300)], "restrictions": MORNING},
        {"price_components": [_component("TIME", "1.10")]},
    ]
)  # fmt: skip


# What step_size may add between two charging times tried: one step at the dearest price, incl. VAT.
# Only where both TIME and PARKING_TIME are priced (BLOCKING has no TIME: its cost falls with the
# charging time, staircase and all, so the fastest charge is the most).
PARKING_STEP = {"BLK": Decimal(0), "LATE": Decimal("0.119"), "STD": Decimal(0)}  # 60 s at 6.00 per hour
TIME_STEP = {
    "BLK": Decimal(0),
    "LATE": Decimal("0.2975"),
    "STD": Decimal(0),
}  # the dearest TIME step: 300 s at 3.00


def _total(tariff: Tariff, power_kw: Decimal | None, energy: Decimal, stay: timedelta) -> Decimal:
    result = quote(tariff, start=START, energy_kwh=energy, duration=stay, power_kw=power_kw, tz=AMS)
    assert result.totals.total_cost is not None
    assert result.totals.total_cost.incl_vat is not None
    return result.totals.total_cost.incl_vat


def _bound(tariff: Tariff, energy: Decimal, stay: timedelta, max_power: Decimal | None) -> Decimal:
    total = quote_bound(tariff, start=START, energy_kwh=energy, duration=stay, max_power_kw=max_power, tz=AMS)
    assert total is not None
    assert total.incl_vat is not None
    return total.incl_vat


@pytest.mark.parametrize("tariff", [BLOCKING, LATE_FEE, CHARGING_TIME], ids=["blocking", "late-fee", "time"])
@pytest.mark.parametrize(("energy", "minutes"), [("4", 15), ("10", 60), ("20", 60), ("6", 90)])
def test_no_constant_power_visit_costs_more_than_the_quote(tariff: Tariff, energy: str, minutes: int) -> None:
    """Every EV that charges from plug-in at a power up to the connector's, then parks, is billed
    at most the quote (22 kW connector; the powers between the spread and 22 kW, 0.1 kW apart)."""
    kwh, stay, evse = Decimal(energy), timedelta(minutes=minutes), Decimal(22)
    bound = _bound(tariff, kwh, stay, evse)
    slowest = kwh / Decimal(minutes) * 60
    powers = [Decimal(p) / 10 for p in range(int(slowest * 10) + 1, 221)]
    assert powers
    dearest = max(_total(tariff, None, kwh, stay), *(_total(tariff, p, kwh, stay) for p in powers))
    assert dearest <= bound <= dearest + PARKING_STEP[tariff.id] + TIME_STEP[tariff.id]


def test_a_blocking_fee_is_quoted_for_the_parking_after_a_fast_charge() -> None:
    # 10 kWh at 22 kW: 27.3 min charging, 33 min parked at 12.00/h = 6.60 + 3.50 energy, +19 % VAT.
    stay = timedelta(hours=1)
    assert _total(BLOCKING, None, Decimal(10), stay) == Decimal("4.165")  # the old quote: no parking
    fast = _total(BLOCKING, Decimal(22), Decimal(10), stay)
    assert fast == Decimal("12.019")
    assert _bound(BLOCKING, Decimal(10), stay, Decimal(22)) == fast + PARKING_STEP["BLK"]


def test_the_dearest_charging_time_may_lie_between_the_extremes() -> None:
    kwh, stay = Decimal(4), timedelta(minutes=60)
    both_ends = max(_total(LATE_FEE, None, kwh, stay), _total(LATE_FEE, Decimal(22), kwh, stay))
    thirty_minutes = _total(LATE_FEE, Decimal(8), kwh, stay)  # 4 kWh at 8 kW: charging until 30 min
    assert thirty_minutes > both_ends
    assert (
        _bound(LATE_FEE, kwh, stay, Decimal(22)) == thirty_minutes + PARKING_STEP["LATE"] + TIME_STEP["LATE"]
    )


def test_without_the_connectors_power_any_power_is_possible() -> None:
    stay = timedelta(hours=1)
    unknown = _bound(BLOCKING, Decimal(10), stay, None)
    assert (
        unknown
        >= _bound(BLOCKING, Decimal(10), stay, Decimal(350))
        > _bound(BLOCKING, Decimal(10), stay, Decimal(22))
    )
    assert _bound(BLOCKING, Decimal(0), stay, Decimal(22)) == Decimal("14.28")  # parked all hour


def test_with_no_parking_price_and_no_restriction_the_spread_is_the_quote() -> None:
    stay = timedelta(minutes=50)
    spread = _total(CHARGING_TIME, None, Decimal("12.5"), stay)
    assert _bound(CHARGING_TIME, Decimal("12.5"), stay, Decimal(22)) == spread


def _quarter_hours() -> Tariff:
    """A dynamic time-of-use tariff: 96 quarter-hours on weekdays, each its own energy price; parking
    dearer than charging time (review11 P2)."""
    elements: list[dict[str, Any]] = []
    for q in range(96):
        start, end = q * 15, (q + 1) * 15 % 1440
        restrictions = {
            "start_time": f"{start // 60:02d}:{start % 60:02d}",
            "end_time": f"{end // 60:02d}:{end % 60:02d}",
            "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        }
        components = [
            _component("ENERGY", str(Decimal("0.30") + Decimal(q) / 100)),
            _component("TIME", "1.00", 60),
            _component("PARKING_TIME", "2.00", 60),
        ]
        elements.append({"price_components": components, "restrictions": restrictions})
    elements.append({"price_components": [_component("ENERGY", "0.50")]})
    return _tariff("TOU", elements)


def test_many_clock_limits_over_a_long_stay_cost_a_few_pricings_and_stay_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each charging time tried prices the whole visit: a quarter-hour tariff over a day was 87
    pricings (0.8 s, in the driver's path). Past MAX_CHARGING_TIMES the coarse bound is used, and
    no constant-power visit costs more."""
    from emsp.settlement.tariff import bound

    tariff, kwh, stay, evse = _quarter_hours(), Decimal(30), timedelta(hours=24), Decimal(11)
    calls: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return quote(*args, **kwargs)

    monkeypatch.setattr(bound, "quote", counted)
    cap = _bound(tariff, kwh, stay, evse)
    assert len(calls) <= 2
    monkeypatch.undo()
    slowest = kwh / 24
    powers = [slowest + (evse - slowest) * k / 40 for k in range(1, 41)]  # to the connector's 11 kW
    dearest = max(_total(tariff, None, kwh, stay), *(_total(tariff, p, kwh, stay) for p in powers))
    assert dearest <= cap <= 2 * dearest  # coarse, but a bound


def test_the_coarse_bound_covers_steps_rounded_per_period() -> None:
    """A CPO reading step_size per period rounds each period up: the coarse bound counts a step per
    limit the stay crosses, so no constant-power visit costs more under that reading either."""
    from dataclasses import replace

    from emsp.settlement.tariff.policy import DEFAULT_POLICY
    from emsp.settlement.tariff.reading import Reading

    policy = replace(DEFAULT_POLICY, reading=Reading(step_size="per_period"))
    tariff, kwh, stay, evse = _quarter_hours(), Decimal(30), timedelta(hours=12), Decimal(11)
    cap = quote_bound(
        tariff, start=START, energy_kwh=kwh, duration=stay, max_power_kw=evse, tz=AMS, policy=policy
    )
    assert cap is not None and cap.incl_vat is not None
    slowest = kwh / 12
    powers = [None, *(slowest + (evse - slowest) * k / 20 for k in range(1, 21))]
    costs = [
        quote(
            tariff, start=START, energy_kwh=kwh, duration=stay, power_kw=p, tz=AMS, policy=policy
        ).totals.total_cost
        for p in powers
    ]
    assert all(c is not None and c.incl_vat is not None and c.incl_vat <= cap.incl_vat for c in costs)
