"""Engine and unit-of-work. In-memory SQLite by default; a file or PostgreSQL URL works too.

Speed notes (the eMSP serves every OCPI request through here):

- `scope()` lets one `Session` (one connection checkout) serve every unit of work of a request:
  authentication + module, then one unit per bus handler. Each `unit()` is still its own
  transaction, committed or rolled back on its own, exactly as without a scope.
- `expire_on_commit=False`: rows just written are not re-read after the commit.
- SQLite pragmas: no fsync for the in-memory database (nothing to make durable), WAL for a file.
- `Counters` hands out counter values from memory, persisting them in blocks, for ids that are
  drawn on every request (the request id) and need not be transactional.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from emsp.storage import direct
from emsp.storage.queries import StoredSessions
from emsp.storage.schema import upgrade_schema
from emsp.storage.tables import Base, CounterRow, PartnerRow

_MEMORY_URLS = ("sqlite://", "sqlite:///:memory:")


def _sqlite_pragmas(engine: Engine, pragmas: tuple[str, ...]) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(f"PRAGMA {pragma}")
        finally:
            cursor.close()


def make_engine(url: str) -> Engine:
    if url in _MEMORY_URLS:
        # One shared connection, or every new connection would see an empty in-memory database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        # Nothing survives the process anyway: skip the syncs and keep temporary data in memory.
        _sqlite_pragmas(engine, ("synchronous=OFF", "temp_store=MEMORY"))
        return engine
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        # A file: WAL is durable at commit with synchronous=NORMAL and much cheaper than a rollback journal.
        _sqlite_pragmas(engine, ("journal_mode=WAL", "synchronous=NORMAL"))
    return engine


class _ScopeState(threading.local):
    shared: Session | None = None
    in_unit = False
    # In-memory SQLite only: this thread's scope connection and session, kept between scopes.
    kept: tuple[Connection, Session] | None = None


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        # In-memory SQLite is one connection shared by every thread: never two writers at once.
        self.single_connection = url in _MEMORY_URLS
        # A database an older version created: add the columns it lacks, or refuse it before
        # anything is changed (emsp.storage.schema); then the tables it lacks altogether.
        self.schema_upgrades = [] if self.single_connection else upgrade_schema(self.engine)
        Base.metadata.create_all(self.engine)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # The session of the current scope() and whether a unit is open on it, per thread: a
        # background worker (the outbox drain) must never borrow a request's session.
        self._local = _ScopeState()
        self.counters = Counters(self)
        # Only this process writes an in-memory database: stored sessions can be answered from memory.
        self.stored_sessions = StoredSessions() if self.single_connection else None

    def holds_data(self) -> bool:
        """True when any partner is stored: the database is not a fresh one."""
        with self.session_factory() as session:
            return session.scalar(select(PartnerRow.partner_id).limit(1)) is not None

    def scope(self) -> AbstractContextManager[None]:
        """Let every `unit()` inside share one Session (each unit stays its own transaction)."""
        return _Scope(self)

    @contextmanager
    def _connected_scope(self, local: _ScopeState) -> Iterator[None]:
        # The session holds one connection for the whole scope instead of a pool checkout per unit.
        with self.engine.connect() as connection:
            session = self.session_factory(bind=connection)
            with _shared(local, session):
                yield

    def _kept(self, local: _ScopeState) -> Session:
        """`scope()` on in-memory SQLite: the thread's Connection and Session are kept between scopes.

        The pool has one DB-API connection (StaticPool) that every checkout hands out anyway, so
        a checkout, a reset-on-return ROLLBACK and a new Session per request buy nothing. The
        scope still ends as before for what matters (`_end_kept`): `session.close()` rolls back
        anything left open (as the reset would) and empties the identity map, so the next scope
        loads fresh objects; a Session may be used again after close()."""
        if local.kept is None:
            connection = self.engine.connect()
            session = self.session_factory(bind=connection)
            direct.offer_bare(session, connection)
            local.kept = (connection, session)
        connection, session = local.kept
        if connection.in_transaction():  # nothing left open by a scope, but never build on one
            connection.rollback()
        return session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only: nothing it does is committed, and it is closed after.

        On in-memory SQLite, outside any scope, it is the thread's kept scope session: direct
        statements (emsp.storage.direct) read on its bare connection, with no ORM transaction to
        begin and end nor a Session to build and close (most of a quote's cost in `sim`). The
        single DB-API connection is the same either way, so the same rows are read. Elsewhere, or
        inside a scope (whose unit may hold pending objects a read would flush), a plain session."""
        if self.single_connection and self._local.shared is None:
            with self.scope():
                shared = self._local.shared
                assert shared is not None  # scope() set it
                yield shared
            return
        with self.session_factory() as session:
            yield session

    def unit(self) -> AbstractContextManager[Session]:
        """One transaction: commit on success, roll back on any exception."""
        return _Unit(self)

    @contextmanager
    def _own_unit(self) -> Iterator[Session]:
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


_counters: Any = CounterRow.__table__
_bump = (
    update(_counters)
    .where(_counters.c.name == bindparam("counter"))
    .values(value=_counters.c.value + bindparam("step"))
)
_bump_returning = _bump.returning(_counters.c.value)
_read = select(_counters.c.value).where(_counters.c.name == bindparam("counter"))
_create = insert(_counters)


def _advance(session: Session, name: str, step: int) -> int:
    """Move counter `name` on by `step` in the session's transaction; returns its new value."""
    connection = session.connection()
    params = {"counter": name, "step": step}
    if connection.dialect.update_returning:
        value = connection.execute(_bump_returning, params).scalar_one_or_none()
    elif connection.execute(_bump, params).rowcount:
        value = connection.execute(_read, params).scalar_one()
    else:
        value = None
    if value is None:  # first use of this counter
        connection.execute(_create, {"name": name, "value": step})
        return step
    return int(value)


def next_value(session: Session, name: str) -> int:
    """Next value of a named counter (ids derived from counters keep runs deterministic)."""
    return _advance(session, name, 1)


class Counters:
    """Counters drawn from memory; the database keeps a high-water mark, moved a block at a time.

    Values are the same sequence `next_value` would give (1, 2, 3, ...) within a process; after a
    restart on a file/PostgreSQL database they continue above the last reserved block, so they stay
    unique. Not transactional: a value drawn in a unit that rolls back is not given out again.

    Blocks double from `BLOCK` up to `MAX_BLOCK` per counter: a reservation is a durable commit on
    the thread that serves requests (several ms on PostgreSQL, and every request of the batch waits
    it out), so a counter drawn on every authorization reserves rarely, while a short run or a
    restart leaves only a small gap.
    """

    BLOCK = 1000
    MAX_BLOCK = 128_000

    def __init__(self, db: Database) -> None:
        self._db = db
        self._next: dict[str, int] = {}
        self._limit: dict[str, int] = {}
        self._step: dict[str, int] = {}

    def next(self, name: str) -> int:
        value = self._next.get(name)
        if value is None or value > self._limit[name]:
            self._reserve(name)
            value = self._next[name]
        self._next[name] = value + 1
        return value

    def _reserve(self, name: str) -> None:
        step = self._step.get(name, self.BLOCK)
        with self._db.unit() as session:
            limit = _advance(session, name, step)
        self._next[name] = limit - step + 1
        self._limit[name] = limit
        self._step[name] = min(2 * step, self.MAX_BLOCK)


@contextmanager
def _shared(local: _ScopeState, session: Session) -> Iterator[None]:
    """`session` is the thread's scope session while inside; closed at the end, which rolls back
    anything a unit left open and empties its identity map."""
    local.shared = session
    try:
        yield
    finally:
        local.shared = None
        local.in_unit = False
        session.close()


def _untouched(session: Session) -> bool:
    """No transaction, no object in its identity map, none added or deleted: close() would only
    replace its (empty) identity map. The kept session (in-memory SQLite) serves scope after scope,
    and most requests leave it so (direct statements only): close() is skipped then (~2% of the
    eMSP's time in `sim`)."""
    return (
        session.get_transaction() is None
        and not session.identity_map
        and not session.new
        and not session.deleted
    )


# scope() and unit() are entered several times per OCPI request (the request's scope, its unit, the
# bus drain's units): as classes rather than @contextmanager generators they cost a third as much
# (no generator, no helper object per use); what they do on entry and exit is unchanged.


class _Scope:
    """`Database.scope()`: nothing inside a scope; the kept session on in-memory SQLite (see
    `Database._kept`); elsewhere a connection checked out for the scope."""

    __slots__ = ("_db", "_other", "_session")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._session: Session | None = None  # the kept session this scope shares
        self._other: AbstractContextManager[None] | None = None  # any other kind of scope

    def __enter__(self) -> None:
        db = self._db
        local = db._local
        if local.shared is not None:  # already inside a scope: nothing to add
            return
        if db.single_connection:
            self._session = local.shared = db._kept(local)
            return
        self._other = db._connected_scope(local)
        self._other.__enter__()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        session, self._session = self._session, None
        if session is not None:
            local = self._db._local
            local.shared = None
            local.in_unit = False
            # A direct write outside a unit is rolled back at the end, as close() does the ORM's;
            # close() itself only when the scope left something it would undo (see `_shared`).
            direct.rollback_bare(session)
            if not _untouched(session):
                session.close()
            return False
        other, self._other = self._other, None
        return bool(other.__exit__(kind, exc, tb)) if other is not None else False


class _Unit:
    """`Database.unit()`: inside a scope (and not in a unit already), the scope's session, committed
    (`direct.commit_bare` when only direct statements wrote) or rolled back; else its own session."""

    __slots__ = ("_db", "_own", "_shared")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._shared: Session | None = None
        self._own: AbstractContextManager[Session] | None = None

    def __enter__(self) -> Session:
        local = self._db._local
        shared = local.shared
        if shared is None or local.in_unit:
            # No scope, or a unit nested in an open one: its own session, as it always was.
            self._own = self._db._own_unit()
            return self._own.__enter__()
        local.in_unit = True
        self._shared = shared
        return shared

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        shared, self._shared = self._shared, None
        if shared is None:
            own, self._own = self._own, None
            return bool(own.__exit__(kind, exc, tb)) if own is not None else False
        try:
            if kind is None:
                try:
                    if not direct.commit_bare(shared):  # in-memory SQLite, direct writes only
                        shared.commit()
                except BaseException:
                    shared.rollback()
                    direct.rollback_bare(shared)
                    raise
            else:
                shared.rollback()
                direct.rollback_bare(shared)
        finally:
            self._db._local.in_unit = False
        return False
