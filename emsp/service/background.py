"""What a served eMSP runs beside its requests: the outbox drain (and the NATS stream), and on
PostgreSQL the listener that keeps its caches coherent with other processes on the same database.

Use as the app's lifespan, or around `uvicorn.Server.serve()`:

    async with background(core, clock, run=core_thread.call, bus_url="nats://127.0.0.1:4222"):
        await server.serve()

The core must be built with `EmspSettings(inline_drain=False)`: answers no longer wait for handlers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from emsp.core import EmspCore
from emsp.nats_stream import DEFAULT_PREFIX, DEFAULT_STREAM, JetStreamPublisher
from emsp.outbox_worker import OutboxWorker
from emsp.storage.pg_notify import ChangeListener


@asynccontextmanager
async def background(
    core: EmspCore,
    clock: Callable[[], datetime],
    *,
    run: Callable[..., Awaitable[Any]] | None = None,
    bus_url: str | None = None,
    stream: str = DEFAULT_STREAM,
    subject_prefix: str = DEFAULT_PREFIX,
    idle_seconds: float = 0.5,
) -> AsyncIterator[OutboxWorker]:
    """`run`: how to call into the core off the event loop (the service's core thread's `call`)."""
    if core.settings.inline_drain:
        raise ValueError("a served core drains in the background: build it with inline_drain=False")
    publisher = JetStreamPublisher(bus_url, stream=stream, prefix=subject_prefix) if bus_url else None
    worker = OutboxWorker(core, clock, runner=run, publisher=publisher, idle_seconds=idle_seconds)
    listener = None
    if core.db.engine.dialect.name == "postgresql":
        listener = ChangeListener(core.db.engine, core.on_external_change)
        listener.start()
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
        if listener is not None:
            listener.stop()
