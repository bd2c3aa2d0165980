"""A driver at a station that has not booted waits for it up to their patience, as in sim, in the
live runtime and against an external CSMS (one that never admits the station, say): then they give
up, free the bay and count as unserved. One still waiting when the run ends is not counted (sim's
run stops before their give-up). Everything is judged on the runtime's own scenario clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bench.runtime.external_run import ExternalCsmsRuntime
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_flag import Flag
from bench.runtime.live_stations import StationSide

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PATIENCE = timedelta(minutes=20)
# 20 scenario minutes are 20 wall ms; a run ending 10 scenario days later is 14 wall seconds away.
SPEED = 60_000.0
BAY = ("CS-1", 1)


@dataclass
class _Bays:
    """The allocator as a driver meets it: one free bay, and what was given back."""

    released: list[tuple[str, int]] = field(default_factory=list)

    def take(self, choice: int, stations: Any = ()) -> tuple[str, int]:
        return BAY

    def release(self, key: tuple[str, int]) -> None:
        self.released.append(key)


def _world() -> Any:
    arrival = SimpleNamespace(at=START, station_choice=0, stations=())
    demand = SimpleNamespace(patience_minutes=int(PATIENCE.total_seconds() // 60))
    scenario = SimpleNamespace(demand=demand)
    return SimpleNamespace(arrivals=[arrival], scenario=scenario, stations={"CS-1": None})


class _Live(StationSide):
    """The live runtime's driver, at a station whose boot never comes."""

    def __init__(self, clock: ScaledClock) -> None:
        self.world, self.clock, self._allocator = _world(), clock, _Bays()  # type: ignore[assignment]
        self._booted = {"CS-1": Flag()}
        self._unserved = 0


class _External(ExternalCsmsRuntime):
    """The external-CSMS runtime's driver, at a station the CSMS never lets in."""

    def __init__(self, clock: ScaledClock) -> None:
        self.world, self.clock, self._allocator = _world(), clock, _Bays()  # type: ignore[assignment]
        self.links = {"CS-1": SimpleNamespace(booted=asyncio.Event())}  # type: ignore[dict-item]
        self.unserved = 0


def _unserved(runtime: _Live | _External) -> int:
    return runtime._unserved if isinstance(runtime, _Live) else runtime.unserved


def _give_up(kind: type[_Live | _External], until: datetime) -> tuple[datetime, int, list[tuple[str, int]]]:
    """Run the one driver to its end: the scenario instant it ended, the unserved count, the bays freed."""

    async def run() -> tuple[datetime, int, list[tuple[str, int]]]:
        clock = ScaledClock(START, SPEED)
        runtime = kind(clock)
        await runtime._driver(0, until)
        bays = runtime._allocator
        assert isinstance(bays, _Bays)
        return clock.now(), _unserved(runtime), bays.released

    return asyncio.run(run())


@pytest.mark.parametrize("kind", [_Live, _External], ids=["live", "external-csms"])
def test_a_driver_gives_up_on_an_unbooted_station_after_their_patience(kind: type[_Live | _External]) -> None:
    until = START + timedelta(days=10)
    ended, unserved, released = _give_up(kind, until)
    # Not before their patience ran out (the clock's timers never fire early), and long before the
    # run's end, which is where the driver used to give up.
    assert START + PATIENCE <= ended < until
    assert unserved == 1
    assert released == [BAY]


@pytest.mark.parametrize("kind", [_Live, _External], ids=["live", "external-csms"])
def test_a_driver_still_waiting_when_the_run_ends_is_not_counted(kind: type[_Live | _External]) -> None:
    until = START + PATIENCE / 4
    ended, unserved, released = _give_up(kind, until)
    assert ended >= until
    assert unserved == 0  # as sim: the run stopped before their give-up
    assert released == [BAY]


def test_the_clock_waits_for_a_flag_up_to_a_scenario_instant() -> None:
    async def run() -> tuple[bool, bool, datetime]:
        clock = ScaledClock(START, SPEED)
        flag, never = Flag(), Flag()
        asyncio.get_running_loop().call_soon(flag.set)
        came = await clock.wait_until(flag, START + timedelta(days=10))
        moment = START + timedelta(minutes=5)
        missed = await clock.wait_until(never, moment)
        return came, missed, clock.now()

    came, missed, now = asyncio.run(run())
    assert came is True
    assert missed is False and now >= START + timedelta(minutes=5)
