"""Links of the `live` runtime: the scenario's links (and timeline `link` windows) on real traffic.

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
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from bench.runtime.link_windows import Window
from bench.scenario import LinkSpec

T = TypeVar("T")


RTO_MS = 200  # as sim's Link: TCP's minimum retransmission timeout, doubling per loss
MAX_RTO_MS = 64 * RTO_MS


class LiveLink:
    """One direction of one link: when does a message sent now arrive (event-loop time)?

    The spec in force is read at the scenario instant of sending (`now`), so a timeline `link`
    window changes the link exactly as sim's Link does; the draws (jitter, loss, duplicate,
    reorder) follow sim's Link.send, only the clock differs."""

    __slots__ = ("_last_arrival", "_now", "_rng", "_spec", "_speed", "_windows")  # two per station

    def __init__(
        self,
        spec: LinkSpec,
        rng: random.Random,
        speed: float,
        *,
        windows: Sequence[Window] = (),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._spec, self._rng, self._speed = spec, rng, speed
        self._windows, self._now = tuple(windows), now
        self._last_arrival = 0.0

    def spec_now(self) -> LinkSpec:
        if self._windows and self._now is not None:
            now = self._now()
            for start, end, spec in self._windows:
                if start <= now < end:
                    return spec
        return self._spec

    def delay_ms(self, spec: LinkSpec | None = None) -> float:
        """One draw of this link's one-way delay, in scenario milliseconds (loss: retransmissions)."""
        spec = spec or self.spec_now()
        delay = spec.latency_ms + (self._rng.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0.0)
        rto = RTO_MS
        while spec.loss and self._rng.random() < spec.loss and rto <= MAX_RTO_MS:
            delay += rto  # a lost segment: TCP resends it after the timeout, doubling it each time
            rto *= 2
        return delay

    def arrival(self, *, fifo: bool = True) -> float:
        """Event-loop time a message sent now arrives; `fifo=False`: a request on its own connection
        (reorder), which does not wait for the ones sent before it."""
        now = asyncio.get_running_loop().time()
        arrival = now + self.delay_ms() / 1000 / self._speed
        if fifo:
            arrival = max(arrival, self._last_arrival)
            self._last_arrival = arrival
        return arrival

    def reorders(self) -> bool:
        """Does the next request travel on its own connection (may overtake earlier ones)?"""
        spec = self.spec_now()
        return bool(spec.reorder) and self._rng.random() < spec.reorder

    def duplicates(self) -> bool:
        """Is the next request delivered twice (a client retry whose first answer was lost)?"""
        spec = self.spec_now()
        return bool(spec.duplicate) and self._rng.random() < spec.duplicate

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
        # Only while messages wait: an empty deque still holds a 64-slot block (~0.7 KiB), and
        # the runtime holds two lines per station, nearly always empty.
        self._items: deque[tuple[float, T]] | None = None
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._in_hand = 0
        self.delivered = 0

    def put(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
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
        return len(self._items) if self._items is not None else 0

    def pending(self) -> int:
        """Messages not yet delivered, the one being delivered included."""
        return self.qsize() + self._in_hand

    async def pump(self) -> None:
        while True:
            while not self._items:
                self._items = None
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


class FrameLine:
    """A DelayLine for OCPP frames onto a WebSocket end, driven by the event loop's timers: no pump
    task (with its coroutine and waiter) per direction of each of thousands of stations.

    Same order and timing as DelayLine's pump: each frame leaves at its link's arrival time, never
    before the frame put before it, and a hold under MIN_SLEEP_S is not slept; frames due together
    leave in one callback, in order. `send` writes at once (a WebSocket end in this process, whose
    peer reads everything as it comes: no back-pressure to wait for)."""

    __slots__ = ("_closed", "_flushed", "_items", "_send", "_timer", "delivered", "link")

    def __init__(self, link: LiveLink, send: Callable[[str], None]) -> None:
        self.link = link
        self._send = send
        self._items: deque[tuple[float, str]] | None = None  # only while frames wait (see DelayLine)
        self._timer: asyncio.Handle | None = None  # only while frames wait
        self._closed = False
        self._flushed: asyncio.Future[None] | None = None  # only while someone waits for the line
        self.delivered = 0

    def put(self, frame: str) -> None:
        if self._closed and self._timer is None:
            return  # as DelayLine, whose pump has returned: closed and emptied, it delivers no more
        if self._items is None:
            self._items = deque()
        self._items.append((self.link.arrival(), frame))
        if self._timer is None:
            self._schedule()

    def close(self) -> None:
        """Deliver what is queued; nothing put afterwards once the line has emptied."""
        self._closed = True

    async def flushed(self) -> None:
        """Until every frame queued has left (at once if none waits)."""
        if self._timer is None:
            return
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._flushed)

    def pending(self) -> int:
        """Frames not yet delivered."""
        return len(self._items) if self._items is not None else 0

    def _schedule(self) -> None:
        assert self._items
        loop = asyncio.get_running_loop()
        at = self._items[0][0]
        if at - loop.time() >= MIN_SLEEP_S:
            self._timer = loop.call_at(at, self._deliver)
        else:
            self._timer = loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        self._timer = None
        items = self._items
        now = asyncio.get_running_loop().time()
        while items and items[0][0] - now < MIN_SLEEP_S:
            self._send(items.popleft()[1])
            self.delivered += 1
        if items:
            self._schedule()
            return
        self._items = None
        if self._flushed is not None and not self._flushed.done():
            self._flushed.set_result(None)
        self._flushed = None
