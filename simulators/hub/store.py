"""Store-and-forward: a FIFO per receiver for messages it could not take, retried with backoff.

While a receiver's queue holds anything, new messages for it join the queue too, and the queue
sends one message at a time (head of line): nothing overtakes, so per-object order survives (a
Session's PUT before its updates, a CDR after its Session). A failed attempt puts the message
back at the head and waits the next backoff step; an answer sends the next one at once.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulators.hub.envelope import Party
from simulators.hub.persona import StoreAndForward
from simulators.hub.transform import Forward

# Calls (besides GETs) whose caller waits for the receiver's own answer, per module and the
# receiving party's interface: a real-time authorization (tokens Sender, POST .../authorize), a
# Session's charging preferences (sessions Sender, PUT), a command or a charging profile request to
# the CPO (its Receiver interface answers at once; only the result comes later, as a push).
REAL_TIME = frozenset(
    {("tokens", "SENDER"), ("sessions", "SENDER"), ("commands", "RECEIVER"), ("chargingprofiles", "RECEIVER")}
)


@dataclass(slots=True)
class Message:
    """One message the hub accepted for one receiver (a broadcast makes one per receiver)."""

    seq: int  # the order the hub accepted messages in: a held message keeps its place by it
    sender: Party  # OCPI-from of the hop (the sender, or the hub itself for a broadcast)
    receiver: Party
    forward: Forward
    correlation_id: str
    headers: dict[str, str]  # what of the sender's headers the hub passes on
    request_in: str = ""  # the sender's X-Request-ID
    attempts: int = 0
    held_since: datetime | None = None
    uncertain: bool = False  # an earlier attempt timed out: it may have reached the receiver already


@dataclass(slots=True)
class _Queue:
    items: list[Message] = field(default_factory=list)
    in_flight: Message | None = None
    retry_at: datetime | None = None
    step: int = 0


class ForwardStore:
    def __init__(self, config: StoreAndForward) -> None:
        self._modules = frozenset(config.modules)
        self._backoff = [timedelta(seconds=s) for s in config.backoff_s]
        self._max_attempts = config.max_attempts
        self._queues: dict[str, _Queue] = {}  # receiving connection id -> its queue

    def takes(self, method: str, module: str, interface: str) -> bool:
        """Only pushes of the persona's modules are stored; a GET or a real-time call cannot wait:
        its caller needs the answer now (an authorization held for later is a refusal the hub
        hides), so the hub answers it at once with its own error (4003/4002)."""
        return method != "GET" and (module, interface) not in REAL_TIME and module in self._modules

    def holding(self, connection_id: str) -> bool:
        queue = self._queues.get(connection_id)
        return queue is not None and (bool(queue.items) or queue.in_flight is not None)

    def hold(self, connection_id: str, message: Message, now: datetime, *, reachable: bool = False) -> None:
        """Queue a message. Nothing queued before: an unreachable receiver is retried after the
        first backoff step; a `reachable` one (the message only waits its turn) as soon as it may."""
        queue = self._queues.setdefault(connection_id, _Queue())
        if message.held_since is None:
            message.held_since = now
        bisect.insort(queue.items, message, key=lambda item: item.seq)
        if queue.in_flight is None and queue.retry_at is None:
            queue.retry_at = now if reachable else now + self._backoff[queue.step]

    def kick(self, connection_id: str, now: datetime) -> None:
        """The receiver is back (it called us, or answered a probe): retry now, from the first step."""
        queue = self._queues.get(connection_id)
        if queue is not None and queue.in_flight is None and queue.items:
            queue.retry_at, queue.step = now, 0

    def due(self, now: datetime, busy: set[str]) -> list[tuple[str, Message]]:
        """The heads to send now, one per receiver whose backoff is over (each becomes in flight).
        A `busy` receiver still has messages in flight outside the queue: those settle first."""
        out = []
        for connection_id, queue in self._queues.items():
            ready = queue.retry_at is not None and queue.retry_at <= now and connection_id not in busy
            if ready and queue.in_flight is None and queue.items:
                out.append((connection_id, self._send_head(queue)))
        return out

    def delivered(self, connection_id: str) -> Message | None:
        """The receiver answered the message in flight: the next one goes out at once (or None)."""
        queue = self._queues[connection_id]
        queue.in_flight, queue.step, queue.retry_at = None, 0, None
        return self._send_head(queue) if queue.items else None

    def failed(self, connection_id: str, now: datetime) -> Message | None:
        """The message in flight did not get through: back to the head, back off. Returns it when it
        has used up its attempts instead (the caller records it as dropped)."""
        queue = self._queues[connection_id]
        stored, queue.in_flight = queue.in_flight, None
        if stored is None:
            return None
        if self._max_attempts is not None and stored.attempts >= self._max_attempts:
            dropped = stored
        else:
            dropped = None
            bisect.insort(queue.items, stored, key=lambda item: item.seq)
        queue.step = min(queue.step + 1, len(self._backoff) - 1)
        queue.retry_at = now + self._backoff[queue.step] if queue.items else None
        return dropped

    def give_up(self, connection_id: str, now: datetime) -> None:
        """Drop the message in flight (the caller records why); the rest waits one backoff step."""
        queue = self._queues[connection_id]
        queue.in_flight = None
        queue.retry_at = now + self._backoff[queue.step] if queue.items else None

    def in_flight(self, connection_id: str) -> Message | None:
        queue = self._queues.get(connection_id)
        return None if queue is None else queue.in_flight

    def next_wakeup(self, busy: set[str]) -> datetime | None:
        times = [
            q.retry_at
            for connection_id, q in self._queues.items()
            if q.retry_at is not None and q.in_flight is None and connection_id not in busy
        ]
        return min(times, default=None)

    def queued(self, connection_id: str) -> int:
        queue = self._queues.get(connection_id)
        return 0 if queue is None else len(queue.items) + (queue.in_flight is not None)

    @staticmethod
    def _send_head(queue: _Queue) -> Message:
        stored = queue.items.pop(0)
        stored.attempts += 1
        queue.in_flight, queue.retry_at = stored, None
        return stored
