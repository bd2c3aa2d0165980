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
