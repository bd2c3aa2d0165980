"""Core statements compiled once for SQLite and run on the DB-API cursor of the session's connection.

The hottest statements of the request path (a session's SELECT + UPDATE per PATCH, an outbox
INSERT per event) cost ~10x more in SQLAlchemy's execution machinery (execution context, cache
lookup, result proxy) than in SQLite itself. Here the statement is compiled once per parameter
set's keys, with the column types' own bind and result processors, and executed on the very
DB-API connection of the session's transaction: same SQL, same stored values, same transaction
(committed or rolled back with the unit). Any other backend (PostgreSQL) takes the Core path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

_Processor = Callable[[Any], Any] | None


def bind_processor(type_: Any, dialect: Dialect) -> _Processor:
    """The column type's bind processor for `dialect`, or the cheaper one the type offers
    (`direct_bind_processor`: the same value in one step, for a value that is not None; see
    emsp.storage.types): SQLAlchemy's TypeDecorator wraps its method and the impl's processor in
    two more calls per value, and SQLite's DATETIME text is built through a dict per value."""
    offered = getattr(type_, "direct_bind_processor", None)
    fast = offered(dialect) if offered is not None else None
    return fast if fast is not None else type_.dialect_impl(dialect).bind_processor(dialect)


class _Compiled:
    """SQL text, the parameter names in placeholder order and their bind processors."""

    __slots__ = ("_binds", "names", "processors", "results", "sql")

    def __init__(self, statement: Any, dialect: Dialect, keys: Sequence[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=None if keys is None else list(keys))
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        if compiled.insert_prefetch or compiled.update_prefetch:
            # Column defaults SQLAlchemy would compute per execution: not for this path.
            raise ValueError(f"{self.sql}: a column default the caller does not pass")
        processors: list[_Processor] = []
        for name in self.names:
            bind = compiled.binds[name]
            if not bind.required or bind.callable is not None:
                raise ValueError(f"{name}: a literal value, not a parameter of the call")
            processors.append(bind_processor(bind.type, dialect))
        self.processors: tuple[_Processor, ...] = tuple(processors)
        self._binds = tuple(zip(self.names, self.processors, strict=True))
        columns = getattr(statement, "selected_columns", ())
        self.results: tuple[_Processor, ...] = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, processor in self._binds:
            value = params[name]
            values.append(value if processor is None or value is None else processor(value))
        return values

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if processor is None else processor(value)
            for processor, value in zip(self.results, raw, strict=True)
        )


_CONNECTION_KEY = "emsp.direct.connection"
# In-memory SQLite's kept scope session (emsp.storage.db): its (Connection, DB-API connection), and
# whether a unit wrote on it without an ORM transaction (then `Database.unit` commits it itself).
_BARE_KEY = "emsp.direct.bare"
_BARE_USED = "emsp.direct.bare_used"


def offer_bare(db: Session, connection: Connection) -> None:
    """Let direct statements in `db`'s units run on `connection` without an ORM transaction.

    Only for a session whose every unit ends in `commit_bare`/`rollback_bare` (Database.unit on
    in-memory SQLite): the ORM's transaction begin and commit are most of a unit that is nothing
    but direct statements (a session PATCH: its UPDATE and outbox INSERT). pysqlite opens the
    same transaction implicitly before the first write; if the ORM joins later in the unit, its
    commit (or rollback) ends that same DB-API transaction, direct writes included."""
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None  # a checked-out connection
    db.info[_BARE_KEY] = (connection, dbapi)


def commit_bare(db: Session) -> bool:
    """End a unit that wrote only through direct statements: COMMIT; False: use `db.commit()`
    (no direct statement ran bare, or the ORM took part and its commit ends the transaction)."""
    info = db.info
    if not info.pop(_BARE_USED, False):
        return False
    if db.get_transaction() is not None or db.new or db.deleted or db.dirty:
        return False
    info[_BARE_KEY][1].commit()
    return True


def rollback_bare(db: Session) -> None:
    """After `db.rollback()`: roll back what direct statements wrote bare too (if any)."""
    if db.info.pop(_BARE_USED, False):
        db.info[_BARE_KEY][1].rollback()


def _transaction_connection(db: Session) -> tuple[Connection, Any]:
    """The Connection and DB-API connection of `db`'s current transaction, begun if need be.

    `db.connection()` begins the session's transaction as the Core path would; it is called once
    per transaction and its answer kept in `db.info` with the transaction it belongs to: while
    that same SessionTransaction is current (held there, so its identity cannot be reused), the
    connection is the same one (an inactive one, after a failed flush, goes through
    `db.connection()` to raise as before). After a commit or rollback a new transaction is current and the
    next call begins it through `db.connection()` again."""
    transaction = db.get_transaction()
    if transaction is None:
        bare = db.info.get(_BARE_KEY)
        if bare is not None:  # see offer_bare
            db.info[_BARE_USED] = True
            return bare
    kept = db.info.get(_CONNECTION_KEY)
    if kept is not None and kept[0] is transaction and transaction is not None and transaction.is_active:
        return kept[1], kept[2]
    connection = db.connection()
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None  # a checked-out connection
    db.info[_CONNECTION_KEY] = (db.get_transaction(), connection, dbapi)
    return connection, dbapi


class DirectStatement:
    """`statement` run directly on SQLite (see the module doc); `None` from `run`: use the Core path.

    `writes`: an INSERT/UPDATE whose SET/VALUES columns are the keys of each call's parameters
    (compiled once per distinct set of keys, as the Core path caches them)."""

    def __init__(self, statement: Executable, *, writes: bool = False) -> None:
        self.statement = statement
        self.writes = writes
        self._compiled: dict[frozenset[str], _Compiled] = {}

    def _for(self, connection: Connection, params: Mapping[str, Any]) -> _Compiled | None:
        dialect = connection.dialect
        if dialect.name != "sqlite":
            return None
        keys = frozenset(params) if self.writes else frozenset()
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = _Compiled(self.statement, dialect, sorted(keys) if self.writes else None)
            self._compiled[keys] = compiled
        return compiled

    def cursor(self, db: Session, params: Mapping[str, Any]) -> tuple[_Compiled, Any] | None:
        """Execute; (compiled, DB-API cursor), or None on another backend (nothing executed)."""
        connection, dbapi = _transaction_connection(db)
        compiled = self._for(connection, params)
        if compiled is None:
            return None
        if connection._has_events or connection.engine._has_events:
            return compiled, _observed(connection, dbapi, compiled.sql, compiled.parameters(params), False)
        return compiled, dbapi.execute(compiled.sql, compiled.parameters(params))

    def rows(self, db: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """Every row of a SELECT (result processors applied); None: use the Core path."""
        ran = self.cursor(db, params)
        if ran is None:
            return None
        compiled, cursor = ran
        return [compiled.row(raw) for raw in cursor.fetchall()]

    def write(self, db: Session, params: Mapping[str, Any]) -> int | None:
        """Run an INSERT/UPDATE: the last inserted row id; None: use the Core path."""
        ran = self.cursor(db, params)
        if ran is None:
            return None
        return int(ran[1].lastrowid)

    def write_many(self, db: Session, param_sets: Sequence[Mapping[str, Any]]) -> bool:
        """Run an INSERT/UPDATE once per parameter set (executemany); False: use the Core path."""
        if not param_sets:
            return True
        connection, dbapi = _transaction_connection(db)
        compiled = self._for(connection, param_sets[0])
        if compiled is None:
            return False
        rows = [compiled.parameters(params) for params in param_sets]
        if connection._has_events or connection.engine._has_events:
            _observed(connection, dbapi, compiled.sql, rows, True)
        else:
            dbapi.executemany(compiled.sql, rows)
        return True


def _observed(connection: Connection, dbapi: Any, sql: str, parameters: Any, many: bool) -> Any:
    """Execute as the Core path would be seen: the engine's (and connection's) cursor events fire
    around the statement, so whatever counts or logs statements on the engine (tests, tracing)
    sees these too. Taken only when such a listener exists; `context` is None (there is none)."""
    cursor = dbapi.cursor()
    dispatch = connection.dispatch
    dispatch.before_cursor_execute(connection, cursor, sql, parameters, None, many)
    if many:
        cursor.executemany(sql, parameters)
    else:
        cursor.execute(sql, parameters)
    dispatch.after_cursor_execute(connection, cursor, sql, parameters, None, many)
    return cursor
