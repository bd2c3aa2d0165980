"""Structured logs of a run: JSON lines in the run directory, correlation ids bound by the models.

Configured once per run by the composition root; models only ever call structlog.get_logger().
No wall-clock timestamp is added: events carry scenario time (`at`) where it matters, which keeps
`sim` logs reproducible too.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import structlog


def _fallback(value: Any) -> Any:
    """What structlog's JSONRenderer writes of a value JSON cannot hold: its `__structlog__()`,
    else its repr."""
    method = getattr(value, "__structlog__", None)
    return method() if method is not None else repr(value)


# The text of structlog's JSONRenderer(sort_keys=True) (json.dumps with these options), from an
# encoder built once: json.dumps with options builds a new one for every line, and the eMSP logs a
# line per OCPI request.
_encode = json.JSONEncoder(sort_keys=True, default=_fallback).encode


def render_json(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> str:
    return _encode(event)


class _LineWriter:
    """A structlog logger writing each line to `file` without flushing it: structlog's WriteLogger
    flushes (a write system call) after every line. The file's own buffer goes out when it is full
    and when the run flushes or closes it at its end (also on failure or interruption)."""

    def __init__(self, file: IO[str]) -> None:
        self._write = file.write
        self._lock = threading.Lock()  # the live runtime logs from more than one thread

    def __call__(self, *_args: Any) -> _LineWriter:
        return self  # as structlog's logger_factory: every logger shares this writer

    def msg(self, message: str) -> None:
        with self._lock:
            self._write(message + "\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def configure_run_logging(path: Path | None) -> IO[str] | None:
    """Send structlog events to `path` (or drop them when None); warnings also reach stderr."""
    handle = path.open("w", encoding="utf-8") if path is not None else None
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,
        render_json,
    ]
    if handle is None:
        structlog.configure(
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
            cache_logger_on_first_use=False,
        )
        return None
    structlog.configure(
        processors=processors,
        logger_factory=_LineWriter(handle),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )
    return handle


@contextmanager
def logs_dropped() -> Iterator[None]:
    """Drop structlog events inside the block (a benchmark measures the models, not log I/O), then
    give the caller its own logging back: a caller in the same process (a test) keeps its warnings."""
    caller_logging = structlog.get_config()
    configure_run_logging(None)
    try:
        yield
    finally:
        structlog.configure(**caller_logging)
