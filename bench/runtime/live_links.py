"""Links of the `live` runtime: the scenario's latency and jitter applied to real traffic.

In the manner of Toxiproxy's latency toxic, every message crossing a link is held before it goes
on the wire: latency + uniform jitter, in *scenario* milliseconds, so the hold lasts
latency / speed wall seconds (live_clock). A link is FIFO per direction like the TCP connection it
models (a message never overtakes the one sent before it), exactly as the `sim` runtime's Link.

The hold happens in the sending party's process, in front of its socket: no extra sockets or
proxy connections per station (the live runtime must hold thousands of them), and the runtime
knows each message's hold, so an authorization's latency can be reported as the link's scenario
delays plus the real time the partner took to answer (the part a faster clock cannot compress).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bench.scenario import LinkSpec

T = TypeVar("T")


class LiveLink:
    """One direction of one link: when does a message sent now arrive (event-loop time)?"""

    def __init__(self, spec: LinkSpec, rng: random.Random, speed: float) -> None:
        self._spec, self._rng, self._speed = spec, rng, speed
        self._last_arrival = 0.0

    def delay_ms(self) -> float:
        """One draw of this link's one-way delay, in scenario milliseconds."""
        spec = self._spec
        return spec.latency_ms + (self._rng.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0.0)

    def arrival(self) -> float:
        now = asyncio.get_running_loop().time()
        arrival = max(now + self.delay_ms() / 1000 / self._speed, self._last_arrival)
        self._last_arrival = arrival
        return arrival

    def scenario_ms(self, wall_seconds: float) -> float:
        return wall_seconds * self._speed * 1000


# The event loop's timers cannot wait less than about a millisecond (epoll's resolution); a
# shorter hold is already covered by the time the runtime takes to deliver the message, whereas
# sleeping would overshoot it many times over (and `speed` magnifies the overshoot).
MIN_SLEEP_S = 0.001


async def sleep_until(loop_time: float) -> None:
    delay = loop_time - asyncio.get_running_loop().time()
    if delay >= MIN_SLEEP_S:
        await asyncio.sleep(delay)


class DelayLine(Generic[T]):
    """Messages held for their link's delay, then delivered one at a time in the order sent.

    A deque and one future while the pump waits, not an asyncio.Queue (three deques and an Event):
    the runtime holds two of these per station, thousands of stations at once."""

    __slots__ = ("_closed", "_deliver", "_in_hand", "_items", "_waiter", "delivered", "link")

    def __init__(self, link: LiveLink, deliver: Callable[[T], Awaitable[None]]) -> None:
        self.link = link
        self._deliver = deliver
        self._items: deque[tuple[float, T]] = deque()
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._in_hand = 0
        self.delivered = 0

    def put(self, item: T) -> None:
        self._items.append((self.link.arrival(), item))
        self._wake()

    def close(self) -> None:
        """Deliver what is queued, then stop the pump."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def qsize(self) -> int:
        return len(self._items)

    def pending(self) -> int:
        """Messages not yet delivered, the one being delivered included."""
        return self.qsize() + self._in_hand

    async def pump(self) -> None:
        while True:
            while not self._items:
                if self._closed:
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            at, item = self._items.popleft()
            self._in_hand = 1
            try:
                await sleep_until(at)
                await self._deliver(item)
            finally:
                self._in_hand = 0
            self.delivered += 1
