"""The fraud rules as pure functions (emsp/services/FRAUD.md): thresholds and their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emsp.services.fraud import (
    FLAG,
    REFUSE,
    FraudConfig,
    Seen,
    authorization_rate,
    blocked_retries,
    distance_km,
    energy_above_battery,
    impossible_travel,
    overlaps,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
UTRECHT = (52.090736, 5.121420)
AMSTERDAM = (52.3676, 4.9041)
MUNICH = (48.140232, 11.558335)
CFG = FraudConfig()


def seen(at: datetime, coords: tuple[float, float] | None = UTRECHT, location: str = "LOC") -> Seen:
    return Seen(at, "cpo-a", location, coords, None)


def test_distance_is_the_great_circle() -> None:
    assert distance_km(UTRECHT, UTRECHT) == 0
    assert 33 < distance_km(UTRECHT, AMSTERDAM) < 37
    assert 620 < distance_km(UTRECHT, MUNICH) < 650  # about 635 km
    assert distance_km(UTRECHT, MUNICH) == pytest.approx(distance_km(MUNICH, UTRECHT))
    assert distance_km((0.0, 0.0), (0.0, 180.0)) == pytest.approx(20015.1, rel=1e-3)  # antipodes


# Exactly 120 km straight north (one degree of latitude is 111.195 km on this Earth radius).
DEG_120KM = 120 / 111.19508


@pytest.mark.parametrize(
    ("earlier", "before", "here", "expected"),
    [
        ("same place, same instant", timedelta(0), UTRECHT, None),
        ("same place, a minute later", timedelta(minutes=1), UTRECHT, None),
        ("Amsterdam 36 km, 30 min later (72 km/h)", timedelta(minutes=30), AMSTERDAM, None),
        ("Amsterdam 36 km, 10 min later (216 km/h)", timedelta(minutes=10), AMSTERDAM, REFUSE),
        ("Munich 635 km, 2 h later", timedelta(hours=2), MUNICH, REFUSE),
        ("Munich 635 km, 6 h later", timedelta(hours=6), MUNICH, None),
        ("Munich, 25 h later: beyond the horizon", timedelta(hours=25), MUNICH, None),
        ("exactly at the limit is possible", timedelta(hours=1), (UTRECHT[0] + DEG_120KM, UTRECHT[1]), None),
        ("just above the limit", timedelta(minutes=59), (UTRECHT[0] + DEG_120KM, UTRECHT[1]), REFUSE),
        ("within the slack at the same instant", timedelta(0), (UTRECHT[0] + 0.008, UTRECHT[1]), None),
        ("beyond the slack at the same instant", timedelta(0), (UTRECHT[0] + 0.02, UTRECHT[1]), REFUSE),
        ("no coordinates here", timedelta(minutes=1), None, None),
    ],
)
def test_impossible_travel(
    earlier: str, before: timedelta, here: tuple[float, float] | None, expected: str | None
) -> None:
    verdict = impossible_travel([seen(T0 - before)], here, T0, CFG)
    assert (verdict.decision if verdict else None) == expected, earlier
    if verdict is not None:
        assert verdict.rule == "impossible_travel" and verdict.about is not None


def test_impossible_travel_ignores_earlier_places_without_coordinates() -> None:
    assert impossible_travel([seen(T0 - timedelta(minutes=1), None)], MUNICH, T0, CFG) is None


def test_time_zones_do_not_matter_only_instants() -> None:
    """The same instants written in other offsets decide the same (aware datetimes compare as UTC)."""
    cest = timezone(timedelta(hours=2))
    earlier = seen((T0 - timedelta(minutes=10)).astimezone(cest))
    assert impossible_travel([earlier], AMSTERDAM, T0, CFG) is not None
    assert impossible_travel([earlier], AMSTERDAM, T0.astimezone(timezone(timedelta(hours=-5))), CFG)
    later = seen((T0 - timedelta(minutes=40)).astimezone(cest))
    assert impossible_travel([later], AMSTERDAM, T0.astimezone(cest), CFG) is None


def test_the_speed_limit_is_configurable() -> None:
    slow = FraudConfig(max_speed_kmh=50)
    assert impossible_travel([seen(T0 - timedelta(minutes=30))], AMSTERDAM, T0, slow) is not None
    assert impossible_travel([seen(T0 - timedelta(minutes=30))], AMSTERDAM, T0, CFG) is None


@pytest.mark.parametrize(
    ("allowed_in_last_hour", "limit", "refused"),
    [(0, 6, False), (5, 6, False), (6, 6, True), (7, 6, True), (1, 1, True), (0, 1, False)],
)
def test_authorization_rate(allowed_in_last_hour: int, limit: int, refused: bool) -> None:
    history = [seen(T0 - timedelta(minutes=5 * i + 1)) for i in range(allowed_in_last_hour)]
    verdict = authorization_rate(history, T0, FraudConfig(max_authorizations_per_hour=limit))
    assert (verdict is not None) == refused
    if verdict is not None:
        assert verdict.decision == REFUSE and verdict.rule == "authorization_rate"


def test_authorization_rate_counts_only_the_last_hour() -> None:
    history = [seen(T0 - timedelta(hours=1))] * 6 + [seen(T0 - timedelta(minutes=59))] * 5
    assert authorization_rate(history, T0, CFG) is None  # exactly an hour ago is out of the window


@pytest.mark.parametrize(
    ("refusals", "limit", "flagged"),
    [([0], 3, False), ([0, 10], 3, False), ([0, 10, 20], 3, True), ([0, 70, 80], 3, False)],
)
def test_blocked_retries(refusals: list[int], limit: int, flagged: bool) -> None:
    now = T0 + timedelta(minutes=max(refusals))
    at = [T0 + timedelta(minutes=m) for m in refusals]
    verdict = blocked_retries(at, now, FraudConfig(blocked_retries=limit))
    assert (verdict is not None) == flagged
    if verdict is not None:
        assert verdict.decision == FLAG


@pytest.mark.parametrize(
    ("kwh", "battery", "flagged"),
    [
        ("77", "77", False),  # a full battery from empty is possible
        ("77.001", "77", True),
        ("150", None, False),  # the ceiling
        ("150.5", None, True),
        ("10", None, False),
    ],
)
def test_energy_above_battery(kwh: str, battery: str | None, flagged: bool) -> None:
    limit = None if battery is None else Decimal(battery)
    verdict = energy_above_battery(Decimal(kwh), limit, CFG)
    assert (verdict is not None) == flagged


@pytest.mark.parametrize(
    ("a", "b", "overlapping"),
    [
        ((0, 60), (60, 90), False),  # back to back
        ((0, 60), (59, 90), True),
        ((0, None), (120, 130), True),  # an open session never ends
        ((30, 40), (0, 60), True),  # inside
        ((70, 80), (0, 60), False),
    ],
)
def test_overlaps(a: tuple[int, int | None], b: tuple[int, int | None], overlapping: bool) -> None:
    def t(m: int | None) -> datetime | None:
        return None if m is None else T0 + timedelta(minutes=m)

    start_a, start_b = t(a[0]), t(b[0])
    assert start_a is not None and start_b is not None
    assert overlaps(start_a, t(a[1]), start_b, t(b[1])) == overlapping
    assert overlaps(start_b, t(b[1]), start_a, t(a[1])) == overlapping


def test_config_refuses_nonsense() -> None:
    for bad in ({"max_speed_kmh": 0}, {"max_authorizations_per_hour": 0}, {"max_session_kwh": Decimal(0)}):
        with pytest.raises(ValueError):
            FraudConfig(**bad)  # type: ignore[arg-type]


# An honest single driver: visits that never overlap, between places reachable at the speed limit.
coords = st.tuples(st.floats(50.0, 54.0), st.floats(3.0, 8.0))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coords, st.integers(20, 240)), min_size=1, max_size=20))
def test_an_honest_history_within_the_speed_limit_is_never_refused(
    visits: list[tuple[tuple[float, float], int]],
) -> None:
    """Each visit starts after the previous one plus the travel time at the speed limit (and a
    stay of at least 20 minutes, so at most 3 an hour): no rule refuses any of them."""
    history: list[Seen] = []
    now = T0
    place = visits[0][0]
    for where, stay_min in visits:
        travel_h = distance_km(place, where) / CFG.max_speed_kmh
        now += timedelta(minutes=stay_min) + timedelta(hours=travel_h) + timedelta(seconds=1)
        assert impossible_travel(reversed(history), where, now, CFG) is None
        assert authorization_rate(history, now, CFG) is None
        history.append(seen(now, where))
        history = history[-CFG.history_size :]
        place = where
