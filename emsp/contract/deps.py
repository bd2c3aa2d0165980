"""What a contract router may ask FastAPI for: the current time and a way onto the core's thread."""

from __future__ import annotations

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


def core_runner(request: Request) -> CoreRunner:
    return CoreRunner(getattr(request.app.state, "core_thread", None))


Run = Annotated[CoreRunner, Depends(core_runner)]
