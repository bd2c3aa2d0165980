"""One thread for every call into the eMSP core, so its database work never blocks the event loop.

The core is sans-IO and not thread-safe (one SQLAlchemy session per request scope, in-memory
caches), and its handlers block on the database. Running them on the event loop stalls every other
connection for the length of each query; running them in a thread pool would race. A single
dedicated thread does neither: the loop keeps accepting, reading and writing while the thread runs
one core call at a time, in the order they were submitted.

Group commit: the thread takes every call already waiting (up to `max_batch`), runs them one after
the other, then runs `after_batch` (the core writes what it deferred, e.g. authorization records,
in one transaction) and only then hands the results back. No answer leaves before what it depends
on is committed, and under load many requests share one commit. If `after_batch` fails, every call
of the batch fails with its error: none of their answers is sent as if it had been recorded.
`batch_scope` wraps a batch (the core's database scope: one connection and session for the batch,
each request still its own transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

T = TypeVar("T")

_Item = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class CoreThread:
    def __init__(
        self,
        *,
        after_batch: Callable[[], None] | None = None,
        batch_scope: Callable[[], AbstractContextManager[Any]] | None = None,
        max_batch: int = 64,
        name: str = "emsp-core",
    ) -> None:
        self._after_batch = after_batch
        self._batch_scope = batch_scope or contextlib.nullcontext
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the core thread and wait for it without blocking the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return await future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            outcomes = self._run_batch(batch)
            # One wake-up per event loop for the whole batch (each call_soon_threadsafe writes to
            # the loop's self-pipe), not one per answer.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
            for (_fn, _args, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((future, ok, value))
            for loop, settled in by_loop.items():
                loop.call_soon_threadsafe(_settle_all, settled)

    def _run_batch(self, batch: list[_Item]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with self._batch_scope():
                for fn, args, _loop, _future in batch:
                    try:
                        outcomes.append((True, fn(*args)))
                    except BaseException as exc:  # handed to the awaiting coroutine, never lost here
                        outcomes.append((False, exc))
                if self._after_batch is not None:
                    self._after_batch()
        except BaseException as exc:  # the commit (or the scope) failed: no answer of the batch stands
            return [(False, exc)] * len(batch)
        return outcomes


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        _settle(future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():  # the client went away; the work was done all the same
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
