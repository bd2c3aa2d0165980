"""A visit's quote and fraud mark are kept per visit all run long under an int key: two visits share
a key exactly when their truth keys' texts (station/connector/format_utc of the plug-in) are equal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from world_helpers import simulated_world

from bench.world import World
from emsp.timeutil import format_utc

T0 = datetime(2026, 3, 2, 7, 5, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = simulated_world("smoke")
    yield built
    built.emsp.db.engine.dispose()


def _visits(world: World) -> list[tuple[str, int, datetime]]:
    first, last = world.places[0].station_id, world.places[-1].station_id
    instants = [
        T0,
        T0 + timedelta(microseconds=999),  # the same millisecond: the same text
        T0 + timedelta(milliseconds=1),
        T0 + timedelta(seconds=1),
        T0.replace(microsecond=0) - timedelta(microseconds=1),  # .999 of the second before
        datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9998, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    pairs = [(station, connector) for station in (first, last) for connector in (1, 2, 13)]
    return [(station, connector, at) for station, connector in pairs for at in instants]


def test_visit_keys_are_equal_exactly_when_the_truth_texts_are(world: World) -> None:
    assert len(world.places) > 1
    visits = _visits(world)
    texts = [f"{station}/{connector}/{format_utc(at)}" for station, connector, at in visits]
    keys = [world.visit_key(station, connector, at) for station, connector, at in visits]
    assert all(type(key) is int for key in keys)
    for text, key in zip(texts, keys, strict=True):
        assert [t == text for t in texts] == [k == key for k in keys]


def test_a_quote_reads_back_as_the_decimal_quoted(world: World) -> None:
    from decimal import Decimal

    for quoted in ("12.34", "0.00", "1E+2", "-0.5000", "123456789.123456789"):
        assert str(Decimal(str(Decimal(quoted)))) == quoted
