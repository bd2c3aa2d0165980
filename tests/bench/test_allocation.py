"""Connector allocation and the ranked set under it: the k-th member, open stations only, each bay once."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.demand import CHOICE_BITS
from bench.ranked import RankedSet
from bench.runtime.allocation import ConnectorAllocator
from bench.world import StationPlace


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 70), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 69)), max_size=120))
def test_the_kth_member_is_the_kth_of_the_sorted_members(size: int, ops: list[tuple[bool, int]]) -> None:
    ranked, model = RankedSet(size, full=False), set()
    for add, value in ops:
        value %= size
        (ranked.add if add else ranked.discard)(value)
        (model.add if add else model.discard)(value)
        assert ranked.count == len(model)
        assert [ranked.kth(k) for k in range(len(model))] == sorted(model)
        assert all((v in ranked) == (v in model) for v in range(size))


PLACES = [StationPlace("A", "cpo", 2), StationPlace("B", "cpo", 1), StationPlace("C", "cpo", 2)]


def test_drivers_fill_every_connector_once_and_then_find_none() -> None:
    allocator, rng = ConnectorAllocator(PLACES), random.Random(5)
    keys = [allocator.take(rng.getrandbits(CHOICE_BITS)) for _ in range(5)]
    assert sorted(k for k in keys if k is not None) == [("A", 1), ("A", 2), ("B", 1), ("C", 1), ("C", 2)]
    assert allocator.take(0) is None
    allocator.release(("B", 1))
    assert allocator.take(2**CHOICE_BITS - 1) == ("B", 1)  # the only open station, whatever the draw


def test_the_draw_picks_among_open_stations_in_order_and_skips_offline_ones() -> None:
    allocator = ConnectorAllocator(PLACES)
    assert allocator.take(0) == ("A", 1)  # lowest draw: first open station, lowest free connector
    assert allocator.take(2**CHOICE_BITS - 1) == ("C", 1)  # highest draw: last open station
    allocator.set_online("C", False)
    assert {allocator.take(2**CHOICE_BITS - 1), allocator.take(2**CHOICE_BITS - 1)} == {("B", 1), ("A", 2)}
    assert allocator.take(0) is None  # C still has a free connector but is shown offline
    allocator.set_online("C", True)
    assert allocator.take(0) == ("C", 2)
