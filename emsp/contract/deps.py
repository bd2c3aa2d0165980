"""What a contract router may ask FastAPI for: the current time (the service's clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Request


def now(request: Request) -> datetime:
    """The service clock's time (timezone-aware UTC); `Depends(now)` in an endpoint."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()
