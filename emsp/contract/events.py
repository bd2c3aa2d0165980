"""`GET /events?after=CURSOR&limit=N`: the eMSP's canonical event stream (contract layer, /api/v1).

Billing, CRM and payment read the stream by cursor: an event's `id` is its outbox sequence, and
`next_cursor` is what to pass as `after` next time (unchanged when nothing new arrived). Each event
carries an idempotency key: a consumer that sees a key twice sees the same fact twice.

Known limit: with concurrent writers on PostgreSQL an id is drawn before its transaction commits, so
an event with a lower id can become visible just after one with a higher id. A consumer that must
not miss one re-reads a short window behind its cursor and de-duplicates by idempotency key.

The router has no authentication of its own: the contract app includes it behind its admin bearer.
Like every contract endpoint it runs on the event loop (one indexed range query).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from emsp.contract.deps import Run
from emsp.outbox import StoredEvent

EventKind = Literal[
    "session.started", "session.updated", "session.ended", "cdr.received", "cdr.settled",
    "token.changed", "location.upserted", "tariff.upserted", "tariff.deleted",
]  # fmt: skip

MAX_LIMIT = 1000
MAX_CURSOR = 2**63 - 1  # a BIGINT: a larger cursor overflowed the database driver (500)


class EventSource(Protocol):
    def events_after(self, cursor: int, limit: int = 100) -> list[StoredEvent]: ...


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = Field(description="Position in the stream (monotonic); the cursor")
    kind: EventKind
    partner: str = Field(description="The partner whose request caused it ('emsp' for our own objects)")
    ordering_key: str = Field(description="Events of one key (a session and its CDR) are in causal order")
    idempotency_key: str = Field(description="Same key, same fact: de-duplicate on it")
    created_at: datetime = Field(description="When the eMSP received what caused it (UTC)")
    processing: Literal["pending", "done", "dead"] = Field(
        description="The eMSP's own handlers: still to run, all applied, or dead-lettered"
    )
    payload: dict[str, Any]


class EventPage(BaseModel):
    events: list[Event]
    next_cursor: int = Field(description="Pass as `after` to read on")


def to_contract(stored: StoredEvent) -> Event:
    return Event(
        id=stored.seq,
        kind=stored.kind,  # type: ignore[arg-type]  # written from the same closed set of kinds
        partner=stored.partner,
        ordering_key=stored.ordering_key,
        idempotency_key=stored.idempotency_key,
        created_at=stored.created_at,
        processing=stored.state,  # type: ignore[arg-type]
        payload=stored.payload,
    )


def make_router(core: EventSource) -> APIRouter:
    router = APIRouter(tags=["events"])

    @router.get("/events", response_model=EventPage, summary="Read the event stream after a cursor")
    async def list_events(
        run: Run,
        after: int = Query(
            0, ge=0, le=MAX_CURSOR, description="Cursor: the id of the last event already read"
        ),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
    ) -> EventPage:
        # On the core thread: the core (and an in-memory SQLite connection) is not thread-safe.
        events = [to_contract(e) for e in await run(lambda: core.events_after(after, limit))]
        return EventPage(events=events, next_cursor=events[-1].id if events else after)

    return router
