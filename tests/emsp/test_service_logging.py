"""The served eMSP's logs: JSON lines written off the request path, complete and in order."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator

import pytest
import structlog

from emsp.observability import LineBuffer, configure_service_logging


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


def test_every_line_logged_from_two_threads_is_in_the_file_in_order(restore_structlog: None) -> None:
    file = io.StringIO()
    buffer = configure_service_logging(file)
    log = structlog.get_logger("emsp").bind(request_id="r-1")

    def emit(thread: str) -> None:
        for i in range(2000):
            log.info("ocpi_request", thread=thread, n=i)

    threads = [threading.Thread(target=emit, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.warning("done", detail=object())  # not JSON: logged as its repr
    buffer.close()
    lines = [json.loads(line) for line in file.getvalue().splitlines()]
    assert len(lines) == 4001
    for name in ("a", "b"):
        assert [e["n"] for e in lines if e.get("thread") == name] == list(range(2000))
    first = lines[0]
    assert first["event"] == "ocpi_request" and first["level"] == "info" and first["request_id"] == "r-1"
    assert lines[-1]["event"] == "done" and lines[-1]["detail"].startswith("<object object")


def test_lines_wait_in_memory_until_the_writer_flushes() -> None:
    file = io.StringIO()
    buffer = LineBuffer(file, interval=3600)  # the writer thread would not wake during this test
    try:
        buffer.info("one")
        buffer.error("two")
        assert file.getvalue() == ""  # the request path only appended to memory
        buffer.flush()
        assert file.getvalue() == "one\ntwo\n"
        buffer.info("three")
    finally:
        buffer.close()
    assert file.getvalue() == "one\ntwo\nthree\n"  # close writes what is left


def test_an_exception_is_logged_with_its_traceback(restore_structlog: None) -> None:
    file = io.StringIO()
    buffer = configure_service_logging(file)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("emsp").exception("internal_error")
    buffer.close()
    entry = json.loads(file.getvalue())
    assert entry["event"] == "internal_error" and entry["level"] == "error"
    assert "ValueError: boom" in entry["exception"]


class _Stuck(io.StringIO):
    """A log destination that blocks (a pipe nobody reads) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(5.0)
        return super().write(text)


def test_a_stuck_log_keeps_a_bounded_buffer_and_says_how_many_lines_it_dropped() -> None:
    file = _Stuck()
    buffer = LineBuffer(file, interval=0.001, max_lines=100)
    try:
        for i in range(1000):  # the writer is stuck on its first write meanwhile, or never ran
            buffer.info(f"line {i}")
        assert len(buffer._lines) <= 100
        dropped = buffer.dropped
        assert dropped >= 1000 - 100 - 100  # at most one write's worth left before it got stuck
    finally:
        file.release.set()
        buffer.close()
    lines = file.getvalue().splitlines()
    notice = [json.loads(line) for line in lines if line.startswith("{")]
    assert notice == [
        {"dropped": dropped, "event": "log_lines_dropped", "level": "warning", "max_buffered_lines": 100}
    ]
    assert len(lines) == 1000 - dropped + 1  # every line not dropped is there, plus the notice
    kept = [line for line in lines if not line.startswith("{")]
    assert kept == sorted(kept, key=lambda line: int(line.split()[1]))  # in order


def test_the_writer_wakes_for_a_line_without_a_close() -> None:
    file = io.StringIO()
    buffer = LineBuffer(file, interval=0.001)
    try:
        buffer.info("one")
        for _ in range(500):
            if file.getvalue():
                break
            threading.Event().wait(0.01)
        assert file.getvalue() == "one\n"
    finally:
        buffer.close()


class _CloseDuringClear(threading.Event):
    """The writer's wake-up event, with `close()` landing right before the writer clears it: the
    interleaving that left the writer waiting for ever and `close()` joining it for ever."""

    def __init__(self, buffer: LineBuffer) -> None:
        super().__init__()
        self.buffer: LineBuffer | None = buffer

    def clear(self) -> None:
        buffer, self.buffer = self.buffer, None
        if buffer is not None:  # once: close() sets stop and this event, then the writer clears it
            buffer._stop.set()
            super().set()
        super().clear()


class _RacyLineBuffer(LineBuffer):
    """A LineBuffer whose wake-up event is `_CloseDuringClear` from the start (its writer thread
    starts in __init__ and waits on the event it finds there)."""

    @property  # type: ignore[override]
    def _has_lines(self) -> threading.Event:
        return self._wake

    @_has_lines.setter
    def _has_lines(self, _event: threading.Event) -> None:
        self._wake = _CloseDuringClear(self)


def test_close_between_the_writers_wait_and_its_clear_still_stops_the_writer() -> None:
    file = io.StringIO()
    buffer = _RacyLineBuffer(file, interval=0.001)
    buffer.msg("a line")
    buffer._thread.join(timeout=30)  # a bound on a hang, not a timing: the fixed writer returns at once
    stuck = buffer._thread.is_alive()
    buffer.close()  # sets the event again: frees a stuck writer, so a failure does not hang the run
    assert not stuck
    assert file.getvalue() == "a line\n"
