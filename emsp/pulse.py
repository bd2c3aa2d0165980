"""A wakeup for coroutines waiting on a sans-IO party that is driven from the same event loop.

Whoever calls into the party pulses afterwards; waiters then look again. Used where a deferred
answer is awaited inline (no core thread to tell them): before, such a waiter looked every 5 ms,
200 wakeups a second for each answer in flight (a hub's forwards waiting on a slow partner)."""

from __future__ import annotations

import asyncio


class Pulse:
    def __init__(self) -> None:
        self._next: asyncio.Future[None] | None = None

    def pulse(self) -> None:
        """Wake everyone waiting now; later waiters wait for the next pulse."""
        woken, self._next = self._next, None
        if woken is not None and not woken.done():
            woken.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """Until the next pulse (True) or `timeout` seconds (False)."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        try:
            # shielded: one waiter timing out must not cancel the future the others wait on
            await asyncio.wait_for(asyncio.shield(self._next), max(timeout, 0.0))
        except TimeoutError:
            return False
        return True
