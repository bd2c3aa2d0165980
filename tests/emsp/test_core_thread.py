"""The core thread: calls run off the event loop, one at a time, with group commit after a batch."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest

from emsp.core_thread import CoreThread


def test_the_loop_keeps_running_while_the_core_blocks() -> None:
    release = threading.Event()
    thread = CoreThread()

    async def scenario() -> list[str]:
        seen: list[str] = []
        blocked = asyncio.ensure_future(thread.call(release.wait, 5.0))
        for _ in range(3):  # the loop is free: other connections would be served meanwhile
            await asyncio.sleep(0.01)
            seen.append("tick")
        assert not blocked.done()
        release.set()
        assert await blocked is True
        seen.append("released")
        return seen

    try:
        assert asyncio.run(scenario()) == ["tick", "tick", "tick", "released"]
    finally:
        thread.close()


def test_calls_waiting_together_share_one_commit_that_precedes_their_answers() -> None:
    log: list[str] = []
    gate = threading.Event()

    @contextlib.contextmanager
    def scope() -> Iterator[None]:
        log.append("(")
        yield
        log.append(")")

    thread = CoreThread(after_batch=lambda: log.append("commit"), batch_scope=scope)

    def work(name: str) -> str:
        if name == "first":
            gate.wait(5.0)  # keeps the thread busy while the others queue up
        log.append(name)
        return name

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(thread.call(work, "first"))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(thread.call(work, f"r{i}")) for i in range(3)]
        await asyncio.sleep(0.05)
        gate.set()
        answers = await asyncio.gather(first, *rest)
        # One scope and one commit for the three that waited together, inside the scope.
        assert log == ["(", "first", "commit", ")", "(", "r0", "r1", "r2", "commit", ")"]
        return answers

    try:
        assert asyncio.run(scenario()) == ["first", "r0", "r1", "r2"]
    finally:
        thread.close()


def test_a_failed_commit_fails_every_answer_of_its_batch() -> None:
    def fail() -> None:
        raise RuntimeError("database gone")

    thread = CoreThread(after_batch=fail)

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="database gone"):
            await thread.call(lambda: "answer")

    try:
        asyncio.run(scenario())
    finally:
        thread.close()


def test_an_exception_in_a_call_reaches_its_caller_only() -> None:
    thread = CoreThread()

    async def scenario() -> str:
        with pytest.raises(ZeroDivisionError):
            await thread.call(lambda: 1 // 0)
        return await thread.call(lambda: "still serving")

    try:
        assert asyncio.run(scenario()) == "still serving"
    finally:
        thread.close()


# ---- pipelined group commit: the core runs on while a committer makes batches durable


def test_pipelined_answers_wait_for_their_commit_while_the_core_runs_the_next_batch() -> None:
    committing = threading.Event()
    release = threading.Event()
    committed: list[list[str]] = []
    ran: list[str] = []
    pending: list[str] = []

    def commit(rows: list[str]) -> None:
        committing.set()
        assert release.wait(5.0)
        committed.append(rows)

    def detach() -> list[str]:
        rows = list(pending)
        pending.clear()
        return rows

    def work(name: str) -> str:
        ran.append(name)
        pending.append(f"record-{name}")
        return name

    thread = CoreThread(detach=detach, commit=commit)

    async def scenario() -> None:
        first = asyncio.ensure_future(thread.call(work, "a"))
        while not committing.is_set():
            await asyncio.sleep(0.005)
        second = asyncio.ensure_future(thread.call(work, "b"))
        while "b" not in ran:  # the core ran b while a's commit is still under way
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        assert not first.done() and not second.done()  # no answer before its record is durable
        release.set()
        assert await asyncio.gather(first, second) == ["a", "b"]

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        thread.close()
    assert committed == [["record-a"], ["record-b"]]


def test_pipelined_a_failed_commit_fails_the_answers_it_backed_and_the_next_commit_serves() -> None:
    failures = [RuntimeError("disk full")]
    stored: list[str] = []

    def commit(rows: list[str]) -> None:
        if failures:
            raise failures.pop()
        stored.extend(rows)

    pending: list[str] = []

    def detach() -> list[str]:
        rows = list(pending)
        pending.clear()
        return rows

    def work(name: str, record: bool) -> str:
        if record:
            pending.append(name)
        return name

    thread = CoreThread(detach=detach, commit=commit)

    async def scenario() -> None:
        with pytest.raises(RuntimeError, match="disk full"):
            await thread.call(work, "lost", True)
        assert await thread.call(work, "kept", True) == "kept"
        assert await thread.call(work, "nothing to store", False) == "nothing to store"

    try:
        asyncio.run(scenario())
    finally:
        thread.close()
    assert stored == ["kept"]


def test_answers_for_a_closed_loop_are_dropped_and_the_thread_serves_on() -> None:
    gate = threading.Event()
    thread = CoreThread()
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    thread._queue.put((gate.wait, (5.0,), loop, future, False))  # submitted from a loop that then closes
    loop.close()
    gate.set()

    async def later() -> str:  # a thread killed by the closed loop would never answer
        return await asyncio.wait_for(thread.call(lambda: "still serving"), 5.0)

    try:
        assert asyncio.run(later()) == "still serving"
        assert thread.dropped_answers == 1
    finally:
        thread.close()


# ---- waiting on core state without polling


def test_poll_looks_again_only_after_a_call_and_never_while_the_core_is_idle() -> None:
    state: dict[str, str] = {}
    tries = [0]

    def look() -> str | None:
        tries[0] += 1
        return state.get("answer")

    thread = CoreThread()

    async def scenario() -> None:
        assert await thread.poll(look, timeout=0.2) is None
        assert tries[0] == 1  # idle for 0.2 s: looked once, then slept until the time was up
        waiting = asyncio.ensure_future(thread.poll(look, timeout=5.0))
        await asyncio.sleep(0.05)
        await thread.read(lambda: None)  # a read changes nothing: no poller wakes for it
        await thread.call(lambda: None)  # a call may have: the poller looks again
        await asyncio.sleep(0.05)
        assert not waiting.done() and tries[0] == 3
        await thread.call(state.__setitem__, "answer", "there")
        assert await waiting == "there" and tries[0] == 4

    try:
        asyncio.run(scenario())
    finally:
        thread.close()


def test_a_pipelined_poller_wakes_once_the_changing_batch_is_committed() -> None:
    state: dict[str, str] = {}
    thread = CoreThread(detach=lambda: ["row"], commit=lambda rows: None)

    async def scenario() -> str | None:
        waiting = asyncio.ensure_future(thread.poll(state.get, "k", timeout=5.0))
        await asyncio.sleep(0.05)
        await thread.call(state.__setitem__, "k", "v")
        return await waiting

    try:
        assert asyncio.run(scenario()) == "v"
    finally:
        thread.close()
