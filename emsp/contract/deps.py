"""What a contract router may ask FastAPI for: the current time and a way onto the core's thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from emsp.core_thread import CoreThread

T = TypeVar("T")


def now(request: Request) -> datetime:
    """The service clock's time (timezone-aware UTC); `Depends(now)` in an endpoint."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


class CoreRunner:
    """Runs an endpoint's database work where the core's work runs: on the core thread when the
    service has one (the core is not thread-safe), else inline on the event loop, like OCPI."""

    def __init__(self, thread: CoreThread | None) -> None:
        self.thread = thread

    async def __call__(self, work: Callable[[], T]) -> T:
        return await self.thread.call(work) if self.thread is not None else work()

    async def poll(self, look: Callable[[], T | None], timeout: float) -> T | None:
        """`look()` until it gives something (None after `timeout` s): with a core thread, again
        only once another core call has run; inline, every 10 ms."""
        if self.thread is not None:
            return await self.thread.poll(look, timeout=timeout)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while (found := look()) is None and loop.time() < give_up:
            await asyncio.sleep(0.01)
        return found


def core_runner(request: Request) -> CoreRunner:
    return CoreRunner(getattr(request.app.state, "core_thread", None))


Run = Annotated[CoreRunner, Depends(core_runner)]
