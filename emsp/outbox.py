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
- In memory (`memory=True`: one process on SQLite draining inline, i.e. `sim`, bench runs, tests):
  while the table is known to hold no pending row but those this process just committed, the drain
  takes them from memory (the events and the seqs their inserts returned) instead of claiming them
  with a query and decoding their payloads, in the very order a claim would have given them, and
  acknowledges each batch in one statement. The first failure hands the rest back to the claim path.

Time is always passed in (`now`): the simulated runtime drains at scenario time, deterministically.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emsp.bus import Event, Handler, decode, encode_text
from emsp.storage import outbox_sql as sql
from emsp.storage.db import Database
from emsp.storage.outbox_sql import ClaimedRow
from emsp.storage.tables import OutboxRow
from emsp.wire import loads

# db.info key: [(seq, event)] of the rows `append` wrote in the session (a handler's emitted rows).
_APPENDED = "emsp.outbox_appended"


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


def row_values(event: Event, now: datetime, done: bool = False) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "partner": event.partner,
        "ordering_key": event.ordering_key,
        "idempotency_key": event.idempotency_key,
        "payload": encode_text(event),
        "created_at": now,
        "state": "done" if done else "pending",
        "attempts": 0,
        "published": False,
    }


def _insert(
    db: Session, events: Sequence[Event], now: datetime, done: Sequence[bool] | None = None
) -> list[tuple[int, Event]]:
    """Insert `events` in `db`'s transaction; (seq, event) per row.

    One single-row statement per event (a request writes one or two): its key comes back without
    the machinery of a multi-row RETURNING."""
    rows = []
    for i, event in enumerate(events):
        values = row_values(event, now, done is not None and done[i])
        seq = sql.INSERT_ROW_DIRECT.write(db, values)  # SQLite: its row id (emsp.storage.direct)
        if seq is None:
            key = db.connection().execute(sql.INSERT_ROW, values).inserted_primary_key
            assert key is not None  # a single-row INSERT always has one
            seq = int(key[0])
        rows.append((seq, event))
    return rows


def append(db: Session, events: Sequence[Event], now: datetime) -> None:
    """Write `events` as outbox rows in `db`'s transaction (a handler's rows: see Outbox._run_once)."""
    if events:
        db.info.setdefault(_APPENDED, []).extend(_insert(db, events, now))


@dataclass
class _Tally:
    finished: int = 0
    failed: int = 0
    emitted: int = 0  # rows handlers wrote (CDR settled), to be processed in the same drain
    per_partner: dict[str, int] = field(default_factory=dict)

    def count(self, row: ClaimedRow, finished: bool) -> None:
        if finished:
            self.finished += 1
            self.per_partner[row.partner] = self.per_partner.get(row.partner, 0) + 1
        else:
            self.failed += 1


class _AlreadyApplied(Exception):
    """The idempotency key is already stored (roll the unit back, skip the effect)."""


_Fresh = tuple[int, Event]  # a row this process committed: its seq and the event itself


@dataclass
class Outbox:
    db: Database
    policy: OutboxPolicy = field(default_factory=OutboxPolicy)
    on_error: Callable[[str, ClaimedRow, Exception], None] | None = None
    on_dead: Callable[[ClaimedRow], None] | None = None
    memory: bool = False  # drain this process's fresh rows from memory (see the module doc)
    _handlers: dict[type, list[tuple[str, Handler]]] = field(default_factory=dict)
    _only: dict[str, frozenset[str]] = field(default_factory=dict)  # handler name -> kinds it takes
    _pending: dict[str, int] = field(default_factory=dict)
    _dirty: bool = True  # rows may be waiting (start-up resumes whatever was not processed)
    wakeup: Callable[[], None] | None = None  # a background worker's doorbell (called from any thread)
    _next_retry: datetime | None = None
    # Rows this process wrote and has not finished; None: unknown (start-up, after a failure), so
    # the drain looks until a claim comes back empty. Known, it spares the request path that query.
    _unfinished: int | None = None
    _staged: list[_Fresh] = field(default_factory=list)  # written, not yet known to be committed
    _staged_done: list[Event] = field(default_factory=list)  # the same, of rows written done
    _ready: list[_Fresh] = field(default_factory=list)  # committed, not yet drained
    _quiet: bool = False  # memory: no pending row in the table but those in `_ready`

    def subscribe(
        self, event_type: type, name: str, handler: Handler, *, kinds: Iterable[str] | None = None
    ) -> None:
        """`kinds`: only events of these stream kinds (a row no handler takes is only acknowledged)."""
        self._handlers.setdefault(event_type, []).append((name, handler))
        if kinds is not None:
            self._only[name] = frozenset(kinds)

    def _handlers_for(self, event: Event) -> list[tuple[str, Handler]]:
        handlers = self._handlers.get(type(event), [])
        if not self._only:
            return handlers
        kind = event.kind
        return [(n, h) for n, h in handlers if (only := self._only.get(n)) is None or kind in only]

    # ---- the request path ----

    def has_capacity(self, partner: str, count: int = 1) -> bool:
        return self._pending.get(partner, 0) + count <= self.policy.max_pending_per_partner

    def pending(self, partner: str) -> int:
        return self._pending.get(partner, 0)

    def write(self, db: Session, events: Sequence[Event], now: datetime) -> None:
        """Insert `events` in the caller's transaction; call `committed` once it has committed.

        In memory, a row no handler takes is written done: there is nothing to process after the
        commit, and this process is the only one that could (the stream still carries it)."""
        if not events:
            return
        if not self.memory:
            _insert(db, events, now)
            return
        done = [not self._handlers_for(e) for e in events]
        rows = _insert(db, events, now, done)
        self._staged.extend(
            (seq, event) for (seq, event), finished in zip(rows, done, strict=True) if not finished
        )
        self._staged_done.extend(event for event, finished in zip(events, done, strict=True) if finished)

    def committed(self, events: Iterable[Event]) -> None:
        """The transaction that wrote `events` committed: they now wait for the drain."""
        staged = {id(event): seq for seq, event in self._staged}
        done = {id(event) for event in self._staged_done}
        self._staged, self._staged_done = [], []  # whatever is not named here was rolled back
        for event in events:
            if id(event) in done:
                continue  # written done: nothing waits for the drain
            self._pending[event.partner] = self._pending.get(event.partner, 0) + 1
            self._dirty = True
            if self._unfinished is not None:
                self._unfinished += 1
            seq = staged.get(id(event))
            if seq is None:
                self._quiet = False  # a row we cannot take from memory: claim from the table
            else:
                self._ready.append((seq, event))
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
        ready, self._ready = self._ready, []
        from_memory = (
            self._quiet
            and not force
            and limit is None
            and self._next_retry is None
            and self._unfinished == len(ready)
        )
        if not (from_memory and self._drain_ready(now, ready, tally)):
            self._claim_loop(now, limit, force, tally)
        full = limit is not None and tally.finished >= limit
        if force or full or by_retry or tally.failed:
            self._refresh(full)  # from the table: other processes' rows, retry times
        else:  # everything this process wrote is finished: count down in memory, no query
            for partner, count in tally.per_partner.items():
                self._pending[partner] = max(self._pending.get(partner, 0) - count, 0)
        return tally.finished

    def _claim_loop(self, now: datetime, limit: int | None, force: bool, tally: _Tally) -> None:
        self._quiet = False
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
        if self.memory and tally.failed == 0 and (limit is None or tally.finished < limit):
            with self.db.session_factory() as session:  # nothing left anywhere: memory takes over
                self._quiet = session.execute(sql.ANY_PENDING).first() is None

    def _drain_ready(self, now: datetime, ready: list[_Fresh], tally: _Tally) -> bool:
        """Process this process's fresh rows from memory; False when a handler failed (the rest,
        still pending in the table, is for the claim path). Batches are exactly those a claim
        would return: in seq order, no row while an earlier one of its ordering key is pending;
        only a handler-written row no handler takes is acknowledged in the batch that wrote it."""
        self._quiet, self._unfinished = False, None  # until this succeeds
        pool = sorted(ready, key=lambda fresh: fresh[0])
        while pool:
            batch: list[_Fresh] = []
            rest: list[_Fresh] = []
            held: set[str] = set()
            for fresh in pool:
                key = fresh[1].ordering_key
                (rest if key in held or len(batch) >= self.policy.batch_size else batch).append(fresh)
                held.add(key)
            outcomes: list[dict[str, Any]] = []
            emitted: list[_Fresh] = []
            for seq, event in batch:
                row = ClaimedRow(
                    seq, event.kind, event.partner, event.ordering_key, event.idempotency_key, "", 0, None
                )
                outcomes.append(self._process(row, event, now, tally, emitted))
            # A written row no handler takes (CDR settled) is acknowledged with this batch rather
            # than in a batch of its own: processing it runs nothing, so its place among its key's
            # rows changes no effect, and its final state (done, no attempt) is the same.
            waiting: list[_Fresh] = []
            for seq, event in emitted:
                if self._handlers_for(event):
                    waiting.append((seq, event))
                    continue
                row = ClaimedRow(
                    seq, event.kind, event.partner, event.ordering_key, event.idempotency_key, "", 0, None
                )
                outcomes.append(self._process(row, event, now, tally, None))
            emitted = waiting
            with self.db.unit() as session:
                if not sql.SETTLE_DIRECT.write_many(session, outcomes):
                    session.connection().execute(sql.SETTLE, outcomes)
            if tally.failed:
                return False
            pool = rest + emitted
        self._quiet, self._unfinished = True, 0
        return True

    def _batch(self, now: datetime, size: int, tally: _Tally) -> int:
        session = self.db.session_factory()
        try:
            connection = session.connection()
            locked = connection.dialect.name == "postgresql"
            claim = sql.CLAIM_LOCKED if locked else sql.CLAIM
            claimed = connection.execute(claim, {"now": now, "size": size})
            rows = [ClaimedRow(*r) for r in claimed]
            outcomes: list[dict[str, Any]] = []
            for row in rows:
                try:
                    event = decode(row.kind, loads(row.payload))
                except (ValueError, KeyError, TypeError) as exc:  # unreadable: retrying cannot help
                    error = f"undecodable payload: {type(exc).__name__}: {exc}"
                    outcomes.append(self._finish(row, "dead", row.attempts, error))
                    tally.count(row, True)
                    continue
                outcomes.append(self._process(row, event, now, tally, None))
            if outcomes:
                connection.execute(sql.SETTLE, outcomes)
            session.commit()
            return len(rows)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _process(
        self, row: ClaimedRow, event: Event, now: datetime, tally: _Tally, emitted: list[_Fresh] | None
    ) -> dict[str, Any]:
        """Run every handler of the row's event; the row's new state (parameters of `SETTLE`)."""
        failures: list[str] = []
        for name, handler in self._handlers_for(event):
            try:
                wrote = self._run_once(f"{name}|{row.idempotency_key}", handler, event)
            except Exception as exc:  # one handler's failure must not stop the others
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                self._report(name, row, exc)
                continue
            tally.emitted += len(wrote)
            for _seq, written in wrote:  # committed pending rows: counted in, as `committed` does,
                partner = written.partner  # so finishing them (tally.per_partner) balances out
                self._pending[partner] = self._pending.get(partner, 0) + 1
            if emitted is not None:
                emitted.extend(wrote)
        if not failures:
            tally.count(row, True)
            return self._finish(row, "done", row.attempts, row.last_error)
        attempts = row.attempts + 1
        error = "; ".join(failures)[:2000]
        if attempts >= self.policy.max_attempts:
            tally.count(row, True)
            return self._finish(row, "dead", attempts, error)
        tally.count(row, False)
        return {
            "row_seq": row.seq,
            "state": "pending",
            "attempts": attempts,
            "last_error": error,
            "next_attempt_at": now + self.policy.backoff(attempts),
        }

    def _finish(self, row: ClaimedRow, state: str, attempts: int, error: str | None) -> dict[str, Any]:
        if state == "dead" and self.on_dead is not None:
            with contextlib.suppress(Exception):  # reporting must never break processing
                self.on_dead(row._replace(attempts=attempts, last_error=error))
        return {
            "row_seq": row.seq,
            "state": state,
            "attempts": attempts,
            "last_error": error,
            "next_attempt_at": None,
        }

    def _report(self, name: str, row: ClaimedRow, exc: Exception) -> None:
        if self.on_error is None:
            return
        with contextlib.suppress(Exception):  # an error callback that fails is not a new error
            self.on_error(name, row, exc)

    def _run_once(self, key: str, handler: Handler, event: Event) -> list[_Fresh]:
        """Apply the handler's effect and store its key atomically; the rows it wrote to the outbox.

        The key is inserted first: a key already applied fails on the primary key, which rolls the
        unit back before the effect runs."""
        try:
            with self.db.unit() as session:
                session.info.pop(_APPENDED, None)
                try:
                    if sql.INSERT_KEY_DIRECT.write(session, {"key": key}) is None:
                        session.connection().execute(sql.INSERT_KEY, {"key": key})
                except (IntegrityError, sqlite3.IntegrityError):  # Core path, direct (SQLite) path
                    raise _AlreadyApplied from None
                handler(event, session)
                wrote: list[_Fresh] = session.info.pop(_APPENDED, [])
        except _AlreadyApplied:
            return []
        return wrote

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
