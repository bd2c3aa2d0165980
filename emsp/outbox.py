"""The durable bus: outbox rows written with their cause, processed after the response (principle 8).

- `write()` inserts a request's events in the caller's transaction: committed together with the
  object that caused them, or not at all. Only requests that produce events touch the table.
- `drain()` processes pending rows: for each row every subscribed handler runs in its own unit of
  work together with its idempotency key (`handler|idempotency_key`), so a handler's effect is
  applied at most once even when a row is processed again after a crash. A failing handler never
  stops the other handlers; its row is retried with exponential backoff and dead-lettered after
  `max_attempts`. Rows of one ordering key (a session and its CDR) are processed in `seq` order: a
  row is taken only when no earlier row of its key is still pending.
- Claiming: on PostgreSQL a batch is locked with `FOR UPDATE SKIP LOCKED` for the time it is
  processed, so two workers never take the same row (a dead worker's locks go with its connection);
  SQLite serves one process and needs no lock.
- Per-partner bounds: `has_capacity()` answers from an in-memory count of pending rows (no query on
  the request path), refreshed from the table after every drain that did work.

Time is always passed in (`now`): the simulated runtime drains at scenario time, deterministically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emsp.bus import Event, Handler, decode, encode
from emsp.storage.db import Database
from emsp.storage.tables import OutboxRow, ProcessedEventRow
from emsp.wire import dumps, loads

_outbox = cast(Table, OutboxRow.__table__)
_insert_row = insert(_outbox)
_insert_key = insert(cast(Table, ProcessedEventRow.__table__))


@dataclass(frozen=True, slots=True)
class OutboxPolicy:
    max_pending_per_partner: int = 1000
    max_attempts: int = 5
    backoff_base: timedelta = timedelta(seconds=1)
    backoff_cap: timedelta = timedelta(minutes=5)
    batch_size: int = 100

    def backoff(self, attempts: int) -> timedelta:
        return min(self.backoff_base * (2 ** max(attempts - 1, 0)), self.backoff_cap)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the event stream as readers see it."""

    seq: int
    kind: str
    partner: str
    ordering_key: str
    idempotency_key: str
    created_at: datetime
    payload: dict[str, Any]
    state: str
    attempts: int
    last_error: str | None


def row_values(event: Event, now: datetime) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "partner": event.partner,
        "ordering_key": event.ordering_key,
        "idempotency_key": event.idempotency_key,
        "payload": dumps(encode(event)),
        "created_at": now,
        "state": "pending",
        "attempts": 0,
        "published": False,
    }


def append(db: Session, events: Sequence[Event], now: datetime) -> None:
    """Write `events` as outbox rows in `db`'s transaction (one statement for the lot)."""
    if events:
        db.connection().execute(_insert_row, [row_values(e, now) for e in events])
        db.info[_APPENDED] = db.info.get(_APPENDED, 0) + len(events)  # see Outbox._run_once


_APPENDED = "emsp.outbox_appended"


@dataclass
class _Tally:
    finished: int = 0
    failed: int = 0
    emitted: int = 0  # rows handlers wrote (CDR settled), to be processed in the same drain
    per_partner: dict[str, int] = field(default_factory=dict)


class _AlreadyApplied(Exception):
    """The idempotency key is already stored (roll the unit back, skip the effect)."""


@dataclass
class Outbox:
    db: Database
    policy: OutboxPolicy = field(default_factory=OutboxPolicy)
    on_error: Callable[[str, OutboxRow, Exception], None] | None = None
    on_dead: Callable[[OutboxRow], None] | None = None
    _handlers: dict[type, list[tuple[str, Handler]]] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)
    _dirty: bool = True  # rows may be waiting (start-up resumes whatever was not processed)
    wakeup: Callable[[], None] | None = None  # a background worker's doorbell (called from any thread)
    _next_retry: datetime | None = None
    # Rows this process wrote and has not finished; None: unknown (start-up, after a failure), so
    # the drain looks until a claim comes back empty. Known, it spares the request path that query.
    _unfinished: int | None = None

    def subscribe(self, event_type: type, name: str, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append((name, handler))

    # ---- the request path ----

    def has_capacity(self, partner: str, count: int = 1) -> bool:
        return self._pending.get(partner, 0) + count <= self.policy.max_pending_per_partner

    def pending(self, partner: str) -> int:
        return self._pending.get(partner, 0)

    def write(self, db: Session, events: Sequence[Event], now: datetime) -> None:
        if events:
            db.connection().execute(_insert_row, [row_values(e, now) for e in events])

    def committed(self, events: Iterable[Event]) -> None:
        """The transaction that wrote `events` committed: they now wait for the drain."""
        for event in events:
            self._pending[event.partner] = self._pending.get(event.partner, 0) + 1
            self._dirty = True
            if self._unfinished is not None:
                self._unfinished += 1
        if self.wakeup is not None:
            self.wakeup()

    def needs_drain(self, now: datetime) -> bool:
        return self._dirty or (self._next_retry is not None and now >= self._next_retry)

    # ---- processing ----

    def drain(self, now: datetime, limit: int | None = None, *, force: bool = False) -> int:
        """Process due rows until none is left (or `limit` rows are finished); returns rows finished.

        Without `force` it returns at once when this process wrote nothing since the last drain and
        no retry is due (the request path calls it after every response)."""
        if not force and not self.needs_drain(now):
            return 0
        by_retry = not self._dirty
        self._dirty = False
        tally = _Tally()
        while limit is None or tally.finished < limit:
            left = (
                self.policy.batch_size
                if limit is None
                else min(self.policy.batch_size, limit - tally.finished)
            )
            # A batch holds one row per ordering key (the rest wait for their predecessor) and
            # handlers may write rows (CDR settled): an empty batch means nothing is left, and so
            # does having finished every row this process wrote (when nothing failed).
            before = tally.finished - tally.emitted
            if self._batch(now, left, tally) == 0:
                self._unfinished = 0 if tally.failed == 0 else None
                break
            if self._unfinished is not None:
                self._unfinished -= (tally.finished - tally.emitted) - before
                if tally.failed:
                    self._unfinished = None
                elif self._unfinished <= 0 and not force:
                    self._unfinished = 0
                    break
        full = limit is not None and tally.finished >= limit
        if force or full or by_retry or tally.failed:
            self._refresh(full)  # from the table: other processes' rows, retry times
        else:  # everything this process wrote is finished: count down in memory, no query
            for partner, count in tally.per_partner.items():
                self._pending[partner] = max(self._pending.get(partner, 0) - count, 0)
        return tally.finished

    def _batch(self, now: datetime, size: int, tally: _Tally) -> int:
        session = self.db.session_factory()
        try:
            rows = session.scalars(self._claim_query(session, now, size)).all()
            for row in rows:
                if self._process(row, now, tally):
                    tally.finished += 1
                    tally.per_partner[row.partner] = tally.per_partner.get(row.partner, 0) + 1
                else:
                    tally.failed += 1
            session.commit()
            return len(rows)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _claim_query(self, session: Session, now: datetime, size: int) -> Any:
        earlier = cast(Table, OutboxRow.__table__).alias("earlier")
        blocked = (
            select(earlier.c.seq)
            .where(
                earlier.c.ordering_key == OutboxRow.ordering_key,
                earlier.c.state == "pending",
                earlier.c.seq < OutboxRow.seq,
            )
            .exists()
        )
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.state == "pending",
                or_(OutboxRow.next_attempt_at.is_(None), OutboxRow.next_attempt_at <= now),
                ~blocked,
            )
            .order_by(OutboxRow.seq)
            .limit(size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=OutboxRow)
        return query

    def _process(self, row: OutboxRow, now: datetime, tally: _Tally) -> int:
        """Run every handler of the row's event; 1 when the row is finished (done or dead)."""
        failures: list[str] = []
        try:
            event = decode(row.kind, loads(row.payload))
        except (ValueError, KeyError, TypeError) as exc:  # unreadable: retrying cannot help
            return self._finish(row, "dead", f"undecodable payload: {type(exc).__name__}: {exc}")
        for name, handler in self._handlers.get(type(event), []):
            try:
                tally.emitted += self._run_once(f"{name}|{row.idempotency_key}", handler, event)
            except Exception as exc:  # one handler's failure must not stop the others
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                self._report(name, row, exc)
        if not failures:
            return self._finish(row, "done", None)
        row.attempts += 1
        row.last_error = "; ".join(failures)[:2000]
        if row.attempts >= self.policy.max_attempts:
            return self._finish(row, "dead", row.last_error)
        row.next_attempt_at = now + self.policy.backoff(row.attempts)
        return 0

    def _finish(self, row: OutboxRow, state: str, error: str | None) -> int:
        row.state = state
        row.next_attempt_at = None
        if error is not None:
            row.last_error = error
        if state == "dead" and self.on_dead is not None:
            with contextlib.suppress(Exception):  # reporting must never break processing
                self.on_dead(row)
        return 1

    def _report(self, name: str, row: OutboxRow, exc: Exception) -> None:
        if self.on_error is None:
            return
        with contextlib.suppress(Exception):  # an error callback that fails is not a new error
            self.on_error(name, row, exc)

    def _run_once(self, key: str, handler: Handler, event: Event) -> int:
        """Apply the handler's effect and store its key atomically; the rows it wrote to the outbox.

        The key is inserted first: a key already applied fails on the primary key, which rolls the
        unit back before the effect runs."""
        try:
            with self.db.unit() as session:
                try:
                    session.connection().execute(_insert_key, {"key": key})
                except IntegrityError:
                    raise _AlreadyApplied from None
                handler(event, session)
                emitted = int(session.info.pop(_APPENDED, 0))
        except _AlreadyApplied:
            return 0
        return emitted

    def _refresh(self, more: bool) -> None:
        """Pending counts per partner and the next retry time, from the table (all processes)."""
        with self.db.session_factory() as session:
            rows = session.execute(
                select(OutboxRow.partner, func.count(), func.min(OutboxRow.next_attempt_at))
                .where(OutboxRow.state == "pending")
                .group_by(OutboxRow.partner)
            ).all()
        self._pending = {partner: int(count) for partner, count, _ in rows}
        retries = [at for _, _, at in rows if at is not None]
        self._next_retry = min(retries) if retries else None
        immediate = any(count and at is None for _, count, at in rows)
        self._dirty = self._dirty or more or immediate

    # ---- reading ----

    def events_after(self, cursor: int, limit: int) -> list[StoredEvent]:
        with self.db.session_factory() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.seq > cursor).order_by(OutboxRow.seq).limit(limit)
            ).all()
            return [_stored(r) for r in rows]

    def dead_letters(self) -> list[StoredEvent]:
        with self.db.session_factory() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.state == "dead").order_by(OutboxRow.seq)
            ).all()
            return [_stored(r) for r in rows]

    # ---- the external stream (NATS): rows not yet published, oldest first ----

    def unpublished(self, limit: int) -> list[StoredEvent]:
        """No lock: two publishers may send a row twice, which JetStream drops by its message id."""
        with self.db.session_factory() as session:
            rows = session.scalars(
                select(OutboxRow).where(OutboxRow.published.is_(False)).order_by(OutboxRow.seq).limit(limit)
            ).all()
            return [_stored(r) for r in rows]

    def mark_published(self, seqs: Sequence[int]) -> None:
        if not seqs:
            return
        with self.db.session_factory() as session:
            session.execute(update(OutboxRow).where(OutboxRow.seq.in_(list(seqs))).values(published=True))
            session.commit()


def _stored(row: OutboxRow) -> StoredEvent:
    return StoredEvent(
        seq=row.seq,
        kind=row.kind,
        partner=row.partner,
        ordering_key=row.ordering_key,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        payload=loads(row.payload),
        state=row.state,
        attempts=row.attempts,
        last_error=row.last_error,
    )
