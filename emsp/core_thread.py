"""One thread for every call into the eMSP core, so its database work never blocks the event loop.

The core is sans-IO and not thread-safe (one SQLAlchemy session per request scope, in-memory
caches), and its handlers block on the database. Running them on the event loop stalls every other
connection for the length of each query; running them in a thread pool would race. A single
dedicated thread does neither: the loop keeps accepting, reading and writing while the thread runs
one core call at a time, in the order they were submitted.

Group commit: the thread takes every call already waiting (up to `max_batch`), runs them one after
the other inside `batch_scope` (the core's database scope: one connection and session for the batch,
each request still its own transaction), then makes durable what the calls deferred (e.g. their
authorization records, one INSERT for the batch). No answer leaves before what it depends on is
committed, and under load many requests share one commit. If that commit fails, every call of the
batch fails with its error: none of their answers is sent as if it had been recorded.

Two ways to commit what a batch deferred:

- `after_batch`: on the core thread, inside the batch's scope, before the next batch starts.
- pipelined (`detach` and `commit`): at the end of the batch the core thread detaches what it
  deferred (`detach()`: plain rows, no core state) and goes on with the next batch at once. A
  committer thread writes them (`commit(rows)`, a connection of its own) and only then releases
  the batch's answers. While it commits, the batches finished meanwhile queue up; its next commit
  takes them all (one transaction for several batches: group commit again, one level down). On
  PostgreSQL a commit is a network round trip and a WAL flush, which no longer idles the core.
  Answers leave in the order their batches ran; at most `max_queued` batches wait for a commit
  (then the core thread waits: back-pressure).

An event loop that has closed meanwhile (its server stopped) cannot take answers any more; they
are dropped, and the thread serves on.
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
_Outcome = tuple[bool, Any]  # (ok, value or exception)


class CoreThread:
    def __init__(
        self,
        *,
        after_batch: Callable[[], None] | None = None,
        batch_scope: Callable[[], AbstractContextManager[Any]] | None = None,
        detach: Callable[[], list[Any]] | None = None,
        commit: Callable[[list[Any]], None] | None = None,
        max_batch: int = 64,
        max_queued: int = 256,
        name: str = "emsp-core",
    ) -> None:
        if (detach is None) != (commit is None):
            raise ValueError("pipelined group commit needs both `detach` and `commit`")
        self._after_batch = after_batch
        self._batch_scope = batch_scope or contextlib.nullcontext
        self._detach = detach
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self.dropped_answers = 0  # answers whose event loop had closed (nobody waited any more)
        self._committer: _Committer | None = None
        if commit is not None:
            self._committer = _Committer(self, commit, max_queued, f"{name}-commit")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the core thread and wait for it without blocking the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, loop, future))
        return await future

    def close(self) -> None:
        """Finish what was submitted (and its commits), then stop both threads."""
        self._queue.put(None)
        self._thread.join()
        if self._committer is not None:
            self._committer.close()

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
            outcomes, rows = self._run_batch(batch)
            if self._committer is not None:
                self._committer.submit(batch, outcomes, rows)
            else:
                self.settle(batch, outcomes)

    def _run_batch(self, batch: list[_Item]) -> tuple[list[_Outcome], list[Any]]:
        outcomes: list[_Outcome] = []
        try:
            with self._batch_scope():
                for fn, args, _loop, _future in batch:
                    try:
                        outcomes.append((True, fn(*args)))
                    except BaseException as exc:  # handed to the awaiting coroutine, never lost here
                        outcomes.append((False, exc))
                if self._after_batch is not None:
                    self._after_batch()
                rows = self._detach() if self._detach is not None else []
        except BaseException as exc:  # the commit (or the scope) failed: no answer of the batch stands
            return [(False, exc)] * len(batch), []
        return outcomes, rows

    def settle(self, batch: list[_Item], outcomes: list[_Outcome]) -> None:
        """Hand the answers to their loops: one wake-up per loop for the whole batch (each
        call_soon_threadsafe writes to the loop's self-pipe), not one per answer."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_fn, _args, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop is closed: nobody awaits these any more
                self.dropped_answers += len(settled)


_Job = tuple[list[_Item], list[_Outcome], list[Any]]


class _Committer:
    """The pipelined half of group commit: writes the rows of every batch queued since its last
    commit in one transaction, then settles those batches in order."""

    def __init__(
        self, owner: CoreThread, commit: Callable[[list[Any]], None], max_queued: int, name: str
    ) -> None:
        self._owner = owner
        self._commit = commit
        self._slots = threading.BoundedSemaphore(max_queued)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, batch: list[_Item], outcomes: list[_Outcome], rows: list[Any]) -> None:
        self._slots.acquire()  # back-pressure: the core waits while too many batches are behind
        self._queue.put((batch, outcomes, rows))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while True:  # everything queued meanwhile shares this commit
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
            rows = [row for _batch, _outcomes, batch_rows in jobs for row in batch_rows]
            failed: BaseException | None = None
            try:
                if rows:
                    self._commit(rows)
            except BaseException as exc:  # not durable: no answer that needs it may claim it was
                failed = exc
            for batch, outcomes, batch_rows in jobs:
                if failed is not None and batch_rows:
                    outcomes = [(False, failed)] * len(batch)
                self._owner.settle(batch, outcomes)
                self._slots.release()


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
