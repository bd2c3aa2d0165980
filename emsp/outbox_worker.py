"""The outbox drain of a served eMSP: a background task that never blocks the event loop.

Database work runs off the loop: on the core's own thread when the service has one (`runner=
core_thread.call`, so the core stays single-threaded, in bounded batches between requests), else in a
worker thread (`asyncio.to_thread`). The task wakes up when a request commits
events (the outbox's doorbell) and otherwise polls, so rows written by another process on the same
database, retries that come due and rows left over by a crash are all picked up. With a publisher
(NATS JetStream), every row is also sent to the external stream, in order, until it is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from emsp.outbox import Outbox


class Drainable(Protocol):
    @property
    def bus(self) -> Outbox: ...
    @property
    def log(self) -> Any: ...

    def drain_outbox(self, now: datetime, limit: int | None = None, *, force: bool = False) -> int: ...


class Publisher(Protocol):
    async def publish_pending(self, outbox: Outbox, limit: int) -> int: ...
    async def close(self) -> None: ...


class OutboxWorker:
    def __init__(
        self,
        core: Drainable,
        clock: Callable[[], datetime],
        *,
        publisher: Publisher | None = None,
        runner: Callable[..., Awaitable[Any]] | None = None,
        batch: int = 20,
        idle_seconds: float = 0.5,
    ) -> None:
        self.core = core
        self.runner: Callable[..., Awaitable[Any]] = runner if runner is not None else asyncio.to_thread
        self.clock = clock
        self.publisher = publisher
        self.batch = batch
        self.idle_seconds = idle_seconds
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()

        def ring() -> None:  # called from the request's thread
            loop.call_soon_threadsafe(wake.set)

        self.core.bus.wakeup = ring
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        self.core.bus.wakeup = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.publisher is not None:
            await self.publisher.close()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            busy = await self.step()
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    def _drain(self, now: datetime) -> int:
        return self.core.drain_outbox(now, self.batch, force=True)

    async def step(self) -> bool:
        """One round: drain a batch, publish a batch. True when either had a full batch (go on)."""
        done = await self.runner(self._drain, self.clock())
        sent = 0
        if self.publisher is not None:
            try:
                sent = await self.publisher.publish_pending(self.core.bus, self.batch)
            except Exception:  # the stream is down: rows stay unpublished, the next round retries
                self.core.log.exception("event_stream_publish_failed")
        return done >= self.batch or sent >= self.batch
