"""A light asyncio.Event for the live runtime's per-station flags.

asyncio.Event allocates a deque for its waiters at creation (a 64-slot block, ~0.7 KiB), and the
live runtime holds three events per station (poke, connected, booted), thousands of stations: a
Flag makes its waiters' list only while someone waits.
"""

from __future__ import annotations

import asyncio


class Flag:
    """asyncio.Event's is_set / set / clear / wait, with the same semantics: `set` wakes every
    waiter; a waiter woken after a `clear` still returns (as asyncio.Event's)."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> None:
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
