"""A live station's wakeups on the event loop's timers (bench/runtime/live_stations.StationWakeups):
each due wakeup runs once, in order, a poke re-reads a moved deadline, and the wait ends when the
run stops or the station's line should change, leaving no timer behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_stations import StationSide, StationWakeups

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class _Station:
    """Deadlines in scenario seconds from START; a wakeup sends one frame naming those it served."""

    def __init__(self, deadlines: list[float]) -> None:
        self.deadlines = sorted(START + timedelta(seconds=s) for s in deadlines)

    def next_wakeup(self) -> datetime | None:
        return self.deadlines[0] if self.deadlines else None

    def on_wakeup(self, now: datetime) -> list[str]:
        due = [d for d in self.deadlines if d <= now]
        self.deadlines = self.deadlines[len(due) :]
        return [" ".join(f"{(d - START).total_seconds():g}" for d in due)] if due else []


class _World:
    def __init__(self, station: _Station) -> None:
        self.stations = {"CS-1": station}


class _Side(StationSide):
    def __init__(self, station: _Station) -> None:
        self.world = _World(station)  # type: ignore[assignment]
        self.clock = ScaledClock(START, 200.0)  # a scenario second is 5 wall ms
        self._want_online = {"CS-1": True}
        self._cut: set[str] = set()
        self._wakeups = {}
        self.sent: list[str] = []

    def station_emit(self, station_id: str, frames: list[str]) -> None:
        self.sent += frames
        self._poke(station_id)  # as the runtime's: what a station sent may move its next wakeup


async def _wait(side: _Side, stop: asyncio.Event, online: bool) -> StationWakeups:
    wakeups = side._station_timer("CS-1", stop, online=online)
    try:
        await wakeups.done
    finally:
        wakeups.close()
    return wakeups


@pytest.mark.parametrize(
    ("deadlines", "moved_to", "ends_by", "served", "grouping"),
    [
        # Each once, in order (a timer late on a loaded machine may serve two in one wakeup).
        ([1, 2, 3], None, "stop", ["1", "2", "3"], False),
        ([1, 1, 2], None, "stop", ["1 1", "2"], True),  # due at one instant: one wakeup
        ([], None, "stop", [], True),  # none: polls the line's state until the stop
        ([20], 1, "stop", ["1", "20"], False),  # a poke re-reads the next wakeup, moved earlier
        ([1, 60], None, "offline", ["1"], True),  # the line should change: the wait ends before 60
    ],
)
def test_wakeups_run_when_due_and_the_wait_ends_on_stop_or_a_line_change(
    deadlines: list[float], moved_to: float | None, ends_by: str, served: list[str], grouping: bool
) -> None:
    async def scenario() -> tuple[list[str], bool, int]:
        station = _Station(deadlines)
        side = _Side(station)
        stop = asyncio.Event()
        waiting = asyncio.ensure_future(_wait(side, stop, online=True))
        await asyncio.sleep(0)
        if moved_to is not None:
            station.deadlines.insert(0, START + timedelta(seconds=moved_to))
            side._poke("CS-1")
        while len(" ".join(side.sent).split()) < len(" ".join(served).split()):  # no timing asserted
            await asyncio.sleep(0.005)
        if ends_by == "stop":
            stop.set()
        else:
            side._want_online["CS-1"] = False
        side._poke("CS-1")
        wakeups = await waiting
        return side.sent, wakeups._handle is None, len(side._wakeups)

    sent, no_timer, registered = asyncio.run(scenario())
    assert (sent if grouping else " ".join(sent).split()) == (
        served if grouping else " ".join(served).split()
    )
    assert (no_timer, registered) == (True, 0)


def test_a_wait_already_over_ends_at_once_and_a_cancelled_one_leaves_no_timer() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        side = _Side(_Station([100]))
        stop = asyncio.Event()
        stop.set()
        over = side._station_timer("CS-1", stop, online=True)
        at_once = over.done.done()
        over.close()
        waiting = asyncio.ensure_future(_wait(side, asyncio.Event(), online=True))
        await asyncio.sleep(0.002)
        wakeups = side._wakeups["CS-1"]
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return at_once, wakeups._handle is None, len(side._wakeups)

    assert asyncio.run(scenario()) == (True, True, 0)
