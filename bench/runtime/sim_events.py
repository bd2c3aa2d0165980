"""Cheap scheduled calls on the `sim` runtime's simpy clock (one or more per message of a run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import NORMAL


class _Due:
    """What simpy's `step` needs of a scheduled event (its callbacks, and `_ok`), without the rest
    of a `Timeout`: one is made per message. `Environment.schedule` gives it the same place in the
    event queue (time, priority NORMAL, next event id) as a Timeout of the same delay, so the run
    processes everything in the same order."""

    __slots__ = ("callbacks",)
    _ok = True

    def __init__(self, action: Callable[[Any], None]) -> None:
        self.callbacks: list[Callable[[Any], None]] | None = [action]


def call_after(env: simpy.Environment, delay: int, action: Callable[[Any], None]) -> None:
    """Run `action(event)` `delay` ms from now: env.timeout(delay).callbacks.append(action), cheaper."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    env.schedule(_Due(action), NORMAL, delay)  # type: ignore[arg-type]  # duck-typed as simpy reads it
