"""SIGTERM as Ctrl-C, for the CLI process only.

CI cancellation, docker stop and Kubernetes send SIGTERM, not SIGINT. Python's default for it is
to die at once: no "interrupted", no exit 130, a run's partial trace lost and a suite's worker
processes orphaned. Here SIGTERM takes whatever path SIGINT takes right now (asyncio's runner
cancels its main task first; elsewhere KeyboardInterrupt), so every command's interrupt handling
(partial trace kept, result files dropped, pools shut down, exit 130) covers both signals.
Installed by the entry point, never at import of library code.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _as_interrupt(_signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # Python's default_int_handler, or asyncio's that cancels its main task
        handler(signal.SIGINT, frame)
        return
    # SIGINT ignored (a background job) or left to the OS: still stop the way Ctrl-C would.
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM acts as SIGINT; the handler that was there before comes back after."""
    if threading.current_thread() is not threading.main_thread():  # signal.signal would raise
        yield
        return
    previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
