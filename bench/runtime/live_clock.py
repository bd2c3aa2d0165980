"""Scenario time for the `live` runtime: the one clock in the bench that reads the wall clock."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Protocol


class Signal(Protocol):
    """asyncio.Event's is_set and wait (a live Flag's too)."""

    def is_set(self) -> bool: ...
    async def wait(self) -> object: ...


class ScaledClock:
    """Scenario time = start + wall time elapsed x speed, whole milliseconds."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed = start, speed
        self._t0 = time.monotonic()
        self._held = False

    def hold(self) -> None:
        """Scenario time stands still at its start until restart()."""
        self._held = True

    def restart(self) -> None:
        self._t0 = time.monotonic()
        self._held = False

    def now(self) -> datetime:
        if self._held:
            return self.start
        elapsed_ms = int((time.monotonic() - self._t0) * self.speed * 1000)
        return self.start + timedelta(milliseconds=elapsed_ms)

    def wall_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(self.wall_seconds_until(moment))

    async def wait_until(self, flag: Signal, moment: datetime) -> bool:
        """Until `flag` is set (True) or scenario time reaches `moment` (False, flag still unset)."""
        if flag.is_set():
            return True
        try:
            await asyncio.wait_for(flag.wait(), self.wall_seconds_until(moment))
        except TimeoutError:
            return flag.is_set()
        return True
