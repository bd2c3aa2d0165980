"""In-process event bus (design principle 8).

Inbound OCPI becomes canonical events. Each partner has its own bounded FIFO queue, so events of
one session (always from one partner) keep their order, and a partner that floods us fills only
its own queue. Every (handler, event) effect is applied at most once: the handler runs in a unit
of work that also records its idempotency key, so a replayed event is a no-op.

This slice drains synchronously (the core calls `drain()` at the end of `handle()`), which keeps
runs deterministic. An async drain later is one worker per partner queue calling `drain_partner`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from emsp.model import CdrInfo, PartyRef, SessionInfo
from emsp.timeutil import format_utc

# ---- canonical events ----


@dataclass(frozen=True, slots=True)
class LocationUpserted:
    partner: str
    party: PartyRef
    location_id: str
    last_updated: datetime

    @property
    def idempotency_key(self) -> str:
        return f"location:{self.party.key()}:{self.location_id}:{format_utc(self.last_updated)}"


@dataclass(frozen=True, slots=True)
class TariffUpserted:
    partner: str
    party: PartyRef
    tariff_id: str
    last_updated: datetime

    @property
    def idempotency_key(self) -> str:
        return f"tariff:{self.party.key()}:{self.tariff_id}:{format_utc(self.last_updated)}"


@dataclass(frozen=True, slots=True)
class TariffDeleted:
    partner: str
    party: PartyRef
    tariff_id: str
    at: datetime

    @property
    def idempotency_key(self) -> str:
        return f"tariff-deleted:{self.party.key()}:{self.tariff_id}:{format_utc(self.at)}"


@dataclass(frozen=True, slots=True)
class SessionUpserted:
    partner: str
    session: SessionInfo
    created: bool  # first time we saw this session

    @property
    def idempotency_key(self) -> str:
        s = self.session
        return f"session:{s.party.key()}:{s.session_id}:{format_utc(s.last_updated)}"


@dataclass(frozen=True, slots=True)
class CdrReceived:
    partner: str
    cdr: CdrInfo

    @property
    def idempotency_key(self) -> str:
        # A CDR never changes (OCPI 2.2.1 CDRs, flow and lifecycle): party + id identifies it.
        return f"cdr:{self.cdr.party.key()}:{self.cdr.cdr_id}"


Event = LocationUpserted | TariffUpserted | TariffDeleted | SessionUpserted | CdrReceived
Handler = Callable[[Any, Session], None]


class UnitOfWork(Protocol):
    def run_once(self, key: str, effect: Callable[[Session], None]) -> bool:
        """Apply `effect` and remember `key` atomically; False if `key` was already applied."""
        ...


class QueueFull(Exception):
    """The partner's queue is at its bound: refuse the request (transient), lose nothing."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    handler: str
    event: Event
    error: str


@dataclass
class Bus:
    uow: UnitOfWork
    max_pending_per_partner: int = 1000
    _handlers: dict[type, list[tuple[str, Handler]]] = field(default_factory=dict)
    _queues: dict[str, deque[Event]] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    on_error: Callable[[str, Event, Exception], None] | None = None

    def subscribe(self, event_type: type, name: str, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append((name, handler))

    def has_capacity(self, partner: str, count: int = 1) -> bool:
        return len(self._queues.get(partner, ())) + count <= self.max_pending_per_partner

    def pending(self, partner: str) -> int:
        return len(self._queues.get(partner, ()))

    def publish(self, event: Event) -> None:
        if not self.has_capacity(event.partner):
            raise QueueFull(event.partner)
        self._queues.setdefault(event.partner, deque()).append(event)

    def drain_partner(self, partner: str, max_events: int | None = None) -> int:
        queue = self._queues.get(partner)
        done = 0
        while queue and (max_events is None or done < max_events):
            self._dispatch(queue.popleft())
            done += 1
        return done

    def drain(self) -> int:
        """Round-robin over partners in sorted order (deterministic), one event per turn."""
        done = 0
        while True:
            busy = sorted(p for p, q in self._queues.items() if q)
            if not busy:
                return done
            for partner in busy:
                done += self.drain_partner(partner, max_events=1)

    def _dispatch(self, event: Event) -> None:
        for name, handler in self._handlers.get(type(event), []):
            key = f"{name}|{event.idempotency_key}"
            try:
                self.uow.run_once(key, lambda session, h=handler: h(event, session))  # type: ignore[misc]
            except Exception as exc:  # a failing handler must not stop the others or the partner queue
                self.dead_letters.append(DeadLetter(name, event, f"{type(exc).__name__}: {exc}"))
                if self.on_error is not None:
                    self.on_error(name, event, exc)
