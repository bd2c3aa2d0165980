"""What an async test body logged, whatever logging another test left configured in this worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
import structlog.testing


def logs_of(main: Callable[[], Coroutine[Any, Any, None]]) -> list[dict[str, Any]]:
    """Run `main` and return its log events. capture_logs swaps the processors only: a filtering
    wrapper another test left configured in this worker (e.g. configure_run_logging(None): CRITICAL
    only) would drop the warnings first, so the defaults stand in while it runs."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        with structlog.testing.capture_logs() as logs:
            asyncio.run(main())
    finally:
        structlog.configure(**saved)
    return logs
