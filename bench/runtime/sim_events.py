"""Cheap scheduled calls on the `sim` runtime's simpy clock (one or more per message of a run), and
the loop that runs them.

Both kinds of entry go into simpy's own event queue as (time, priority NORMAL, next event id, item),
exactly where `env.timeout(delay)` would put its event, so everything runs in the same order as
with Timeouts. `run_until` is `env.run(until=...)`'s loop with one shortcut: a plain call
(`call_at`) is made directly, without an event, its callbacks list or a wrapper taking the event.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
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


class _Call:
    """A queue entry `run_until` calls directly (no event is passed: nothing waits on it). It also
    reads as an event to simpy's own `step` (env.run), only more slowly."""

    __slots__ = ("action",)
    _ok = True

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action

    @property
    def callbacks(self) -> list[Callable[[Any], None]] | None:
        return [lambda _event: self.action()]

    @callbacks.setter
    def callbacks(self, _value: object) -> None:
        pass  # step() clears it once taken; nothing else reads it


def call_after(env: simpy.Environment, delay: int, action: Callable[[Any], None]) -> None:
    """Run `action(event)` `delay` ms from now: env.timeout(delay).callbacks.append(action), cheaper."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    env.schedule(_Due(action), NORMAL, delay)  # type: ignore[arg-type]  # duck-typed as simpy reads it


def call_at(env: simpy.Environment, delay: int, action: Callable[[], None]) -> None:
    """Run `action()` `delay` ms from now, in the place call_after(env, delay, ...) would take."""
    if delay < 0:
        raise ValueError(f"Negative delay {delay}")
    queue: list[tuple[Any, ...]] = env._queue  # holds _Call entries too
    heappush(queue, (env._now + delay, NORMAL, next(env._eid), _Call(action)))


def run_until(env: simpy.Environment, until: int) -> None:
    """env.run(until=until): process every entry due before `until`, then stand at `until`. (simpy
    queues its own stop event at `until` ahead of every NORMAL entry of that instant, so nothing
    of that instant runs; an entry there can only be NORMAL, as every entry made while running is
    due at or after an instant before `until`.)"""
    if until <= env._now:
        raise ValueError(f"until ({until}) must be greater than the current simulation time")
    queue: list[tuple[Any, ...]] = env._queue  # holds _Call entries too
    event: Any
    while queue and queue[0][0] < until:
        env._now, _, _, event = heappop(queue)
        if type(event) is _Call:
            event.action()
            continue
        # simpy's Environment.step for any other event (Timeouts and processes: the ticker's)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks or ():
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
    env._now = until
