"""Structured logs of a run: JSON lines in the run directory, correlation ids bound by the models.

Configured once per run by the composition root; models only ever call structlog.get_logger().
No wall-clock timestamp is added: events carry scenario time (`at`) where it matters, which keeps
`sim` logs reproducible too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import structlog


def configure_run_logging(path: Path | None) -> IO[str] | None:
    """Send structlog events to `path` (or drop them when None); warnings also reach stderr."""
    handle = path.open("w", encoding="utf-8") if path is not None else None
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(sort_keys=True),
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
        logger_factory=structlog.WriteLoggerFactory(file=handle),
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
