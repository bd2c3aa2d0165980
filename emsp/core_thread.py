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

Waiting without polling: `poll(fn)` re-runs `fn` (a read of core state, e.g. "is that deferred
answer there yet?") only after some other call has run on the thread since its last try, because
core state only changes in calls. A served eMSP with nothing to do runs nothing at all. `read(fn)`
is a call that changes nothing such waiters look for: it does not wake them.

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

# (function, its arguments, the caller's loop and future, whether it is a read: changes nothing)
_Item = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]", bool]
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
        # Calls (not reads) run so far (core thread), and as of the last batch settled (any thread).
        self._changes = 0
        self._settled_changes = 0
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()
        self._committer: _Committer | None = None
        if commit is not None:
            self._committer = _Committer(self, commit, max_queued, f"{name}-commit")
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the core thread and wait for it without blocking the loop."""
        return await self._submit(fn, args, read=False)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`call` for what changes no state a `poll` waits on (wakes none of them)."""
        return await self._submit(fn, args, read=True)

    async def poll(self, fn: Callable[..., T | None], *args: Any, timeout: float | None) -> T | None:
        """`fn(*args)` on the core thread until it returns something other than None; None once
        `timeout` seconds have passed (None: no limit). Between tries it waits, doing nothing, until
        another call has run on the thread (and its answers were released)."""
        loop = asyncio.get_running_loop()
        give_up = None if timeout is None else loop.time() + timeout
        while True:
            value, seen = await self._submit(self._probe, (fn, args), read=True)
            if value is not None:
                return value
            remaining = None if give_up is None else give_up - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            if not await self._changed_after(seen, remaining):
                return None  # the time is up

    def _probe(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, int]:
        return fn(*args), self._changes

    async def _changed_after(self, seen: int, timeout: float | None) -> bool:
        """Until a batch with a call after the `seen`-th has been settled (True) or `timeout`
        seconds have passed (False)."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        entry = (seen, loop, woken)
        with self._waiters_lock:
            if self._settled_changes > seen:
                return True
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(woken, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._waiters_lock, contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], *, read: bool) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((fn, args, loop, future, read))
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
                self._committer.submit(batch, outcomes, rows, self._changes)
            else:
                self.settle(batch, outcomes, self._changes)

    def _run_batch(self, batch: list[_Item]) -> tuple[list[_Outcome], list[Any]]:
        outcomes: list[_Outcome] = []
        try:
            with self._batch_scope():
                for fn, args, _loop, _future, read in batch:
                    if not read:
                        self._changes += 1
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

    def settle(self, batch: list[_Item], outcomes: list[_Outcome], changes: int) -> None:
        """Hand the answers to their loops: one wake-up per loop for the whole batch (each
        call_soon_threadsafe writes to the loop's self-pipe), not one per answer; then wake the
        pollers waiting for a change. Called by one thread only (the core's or the committer's)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for (_fn, _args, loop, future, _read), (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, ok, value))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, settled)
            except RuntimeError:  # the loop is closed: nobody awaits these any more
                self.dropped_answers += len(settled)
        with self._waiters_lock:
            self._settled_changes = changes
            due = [w for w in self._waiters if w[0] < changes]
            if not due:
                return
            self._waiters = [w for w in self._waiters if w[0] >= changes]
        for _seen, loop, woken in due:
            with contextlib.suppress(RuntimeError):  # a closed loop: that poller is gone
                loop.call_soon_threadsafe(_wake, woken)


_Job = tuple[list[_Item], list[_Outcome], list[Any], int]


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

    def submit(self, batch: list[_Item], outcomes: list[_Outcome], rows: list[Any], changes: int) -> None:
        self._slots.acquire()  # back-pressure: the core waits while too many batches are behind
        self._queue.put((batch, outcomes, rows, changes))

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
            rows = [row for _batch, _outcomes, batch_rows, _changes in jobs for row in batch_rows]
            failed: BaseException | None = None
            try:
                if rows:
                    self._commit(rows)
            except BaseException as exc:  # not durable: no answer that needs it may claim it was
                failed = exc
            for batch, outcomes, batch_rows, changes in jobs:
                if failed is not None and batch_rows:
                    outcomes = [(False, failed)] * len(batch)
                self._owner.settle(batch, outcomes, changes)
                self._slots.release()


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


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
