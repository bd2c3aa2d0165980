"""Bring a database an older eMSP created up to this version's tables, or refuse it clearly.

`create_all` adds missing tables but never a column to an existing one, so a file or PostgreSQL
database from an older version used to start fine and fail later, on the first request that
touched a new column (a 500). At start, every table the database already has is compared with the
tables this version defines:

- a missing column listed in `UPGRADES` is added (ALTER TABLE ... ADD COLUMN, in one transaction,
  `IF NOT EXISTS` on PostgreSQL so two processes starting together both succeed), with the value
  existing rows get and why that value is safe;
- any other missing column refuses the database (`SchemaMismatch`, naming every table.column and
  what to do). A new column therefore needs a deliberate entry here, never a silent default;
- a string column narrower than this version's (`location_id` was varchar(36) before 2.1.1's
  string(39) was honoured) is widened on PostgreSQL, which enforces the length (SQLite does not):
  widening keeps every value and, for varchar, rewrites nothing;
- an index this version defines on an existing table is created when missing (`create_all`
  creates a table's indexes only with the table): the queries that rely on them (the fraud
  history warm-up, the findings upsert) never fall back to a scan, or to a race. A unique index
  that rows already there would violate has a merge step in `MERGE_BEFORE`, run first (or a check
  that refuses the database, naming the rows, when they cannot be merged: tokens whose uids differ
  only in case);
- an index this version replaced (`OBSOLETE_INDEXES`) is dropped once its replacement exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Index, String, delete, func, inspect, literal, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex

from emsp.storage.tables import (
    PARTY_OBJECT_IDS,
    PARTY_OBJECT_KEYS,
    Base,
    FindingRow,
    TokenRow,
    upper_token_uid,
)


@dataclass(frozen=True)
class AddColumn:
    table: str
    column: str
    existing_rows: str  # the value rows already there get, and why it is safe


UPGRADES: tuple[AddColumn, ...] = (
    AddColumn("partners", "token_pending", "none: no registration of ours is under way"),
    AddColumn(
        "partners",
        "parties_json",
        "[]: acts for no party until the operator's configuration names its parties again (serve "
        "emsp does so at every start); a partner's own credentials never widen it",
    ),
    AddColumn("partners", "hub", "false: only a partner configured as a hub is one"),
    AddColumn(
        "partners",
        "tolerate_json",
        "{}: spec-strict, as every partner was; serve emsp writes the configured options at start",
    ),
    AddColumn("findings", "count", "1: every row stored before counting was one finding"),
    AddColumn("findings", "last_at", "null: the last occurrence of an older row is its `at`"),
    # The partner's body where its OCPI version's wire form differs from the canonical document;
    # rows stored before the adapter layer came under 2.2.1, whose wire form is the canonical one.
    *(
        AddColumn(table, "wire", "null: the stored raw document is the wire form (2.2.1)")
        for table in ("locations", "tariffs", "sessions", "cdrs")
    ),
    AddColumn("tokens", "driver_id", "null: a token issued before federated identity has no driver"),
    AddColumn("tokens", "partner", "null: valid with every partner, as every token was before"),
    AddColumn("tokens", "max_battery_kwh", "null: the configured ceiling applies"),
    # A CDR's provenance (audit): rows stored before it was recorded say so by null ("unknown"),
    # never a guess at a version or a validation outcome they did not have.
    *(
        AddColumn("cdrs", column, "null: stored before provenance was recorded; shown as unknown")
        for column in ("ocpi_version", "validation", "validation_notes", "idempotency_key")
    ),
)


class SchemaMismatch(SQLAlchemyError):
    """The database was created by another version and cannot be brought up to this one here.
    A SQLAlchemyError: every caller that refuses an unusable database refuses this one too."""


def missing_columns(engine: Engine) -> dict[str, list[Column[object]]]:
    """For every table of this version that the database has: the columns it lacks."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    missing: dict[str, list[Column[object]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            continue  # create_all makes it, complete
        have = {c["name"] for c in inspector.get_columns(table.name)}
        lacking = [c for c in table.columns if c.name not in have]
        if lacking:
            missing[table.name] = lacking
    return missing


def narrow_columns(bind: Engine | Connection) -> list[tuple[str, Column[object]]]:
    """(table, column) of every string column the database holds narrower than this version's."""
    inspector = inspect(bind)
    present = set(inspector.get_table_names())
    narrow = []
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            continue
        lengths = {c["name"]: getattr(c["type"], "length", None) for c in inspector.get_columns(table.name)}
        for column in table.columns:
            want = column.type.length if isinstance(column.type, String) else None
            have = lengths.get(column.name)
            if want is not None and have is not None and have < want:
                narrow.append((table.name, column))
    return narrow


def missing_indexes(bind: Engine | Connection) -> list[Index]:
    """The indexes this version defines on tables the database has, that it lacks (by name)."""
    inspector = inspect(bind)
    present = set(inspector.get_table_names())
    missing = []
    for table in Base.metadata.sorted_tables:
        if table.name not in present:
            continue
        have = _index_names(bind, inspector, table.name)
        missing += sorted((ix for ix in table.indexes if ix.name not in have), key=lambda ix: str(ix.name))
    return missing


def _index_names(bind: Engine | Connection, inspector: Any, table: str) -> set[str | None]:
    """The table's index names. SQLite's reflection skips (with a warning) an index on an expression
    (ux_tokens_uid_ci_type), which would then look missing at every start: its catalogue names it."""
    if bind.dialect.name != "sqlite":
        return {ix["name"] for ix in inspector.get_indexes(table)}
    names = text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table")
    if isinstance(bind, Connection):
        return set(bind.scalars(names, {"table": table}))
    with bind.connect() as connection:
        return set(connection.scalars(names, {"table": table}))


def _merge_duplicate_findings(connection: Connection) -> None:
    """Before findings became one row per (partner, party, kind) by a unique index, two processes
    could each insert the first one: fold such rows into the earliest (its example stays), with
    the counts summed and the latest occurrence kept."""
    t: Any = FindingRow.__table__
    key = (t.c.partner, t.c.country_code, t.c.party_id, t.c.kind)
    duplicated = select(*key).group_by(*key).having(func.count() > 1)
    for partner, cc, pid, kind in connection.execute(duplicated).all():
        same = (t.c.partner == partner, t.c.country_code == cc, t.c.party_id == pid, t.c.kind == kind)
        rows = connection.execute(
            select(t.c.pk, t.c.count.label("n"), t.c.at, t.c.last_at).where(*same)
        ).all()
        first = min(r.pk for r in rows)
        last_at = max(r.last_at or r.at for r in rows)
        total = sum(r.n or 1 for r in rows)
        connection.execute(update(t).where(t.c.pk == first).values(count=total, last_at=last_at))
        connection.execute(delete(t).where(*same, t.c.pk != first))


def _refuse_tokens_differing_in_case(connection: Connection) -> None:
    """Before token uids were compared without case (CiString), two tokens of one type could be
    issued as e.g. TOK001 and tok001. They are two contracts' tokens, possibly both in use: neither
    can be merged into nor dropped for the other without the operator, so the database is refused,
    naming them, until one is re-issued under another uid (or deleted)."""
    t: Any = TokenRow.__table__
    key = (upper_token_uid, t.c.type)
    clashing = select(*key).group_by(*key).having(func.count() > 1).order_by(*key)
    found = []
    for upper_uid, token_type in connection.execute(clashing).all():
        uids = connection.scalars(
            select(t.c.uid).where(upper_token_uid == upper_uid, t.c.type == token_type).order_by(t.c.pk)
        ).all()
        found.append(f"{token_type} {' / '.join(uids)}")
    if found:
        raise SchemaMismatch(
            "token uids are case-insensitive (OCPI CiString) but the database holds tokens whose uids "
            f"differ only in case: {'; '.join(found)}. Re-issue all but one of each under another uid "
            "(or delete them), then start again"
        )


def _refuse_party_objects_differing_in_case(table_name: str) -> Callable[[Connection], None]:
    """Before a party's object ids were compared without case (CiString), one party's `LOC-A` and
    `loc-a` (sessions, CDRs, locations, tariffs) were stored as two objects, each maybe billed or
    referenced since: which one is "the" object only the operator can tell, so the database is
    refused, naming them, as for tokens (a silent merge could drop a billed CDR)."""

    def refuse(connection: Connection) -> None:
        t: Any = Base.metadata.tables[table_name]
        object_id = t.c[PARTY_OBJECT_IDS[table_name]]
        key = (t.c.country_code, t.c.party_id, PARTY_OBJECT_KEYS[table_name])
        clashing = select(*key).group_by(*key).having(func.count() > 1).order_by(*key)
        found = []
        for cc, pid, upper_id in connection.execute(clashing).all():
            same = (t.c.country_code == cc, t.c.party_id == pid, PARTY_OBJECT_KEYS[table_name] == upper_id)
            ids = connection.scalars(select(object_id).where(*same).order_by(t.c.pk)).all()
            found.append(f"{cc}/{pid} {' / '.join(ids)}")
        if found:
            raise SchemaMismatch(
                f"{table_name} ids are case-insensitive (OCPI CiString) but the database holds {table_name} "
                f"of one party whose ids differ only in case: {'; '.join(found)}. Resolve them (keep one "
                "of each, or start on a new database with --database-url), then start again"
            )

    return refuse


# Run before creating the unique index of that name: fold rows it would refuse, or refuse the database.
MERGE_BEFORE: dict[str, Callable[[Connection], None]] = {
    "ux_findings_partner_party_kind": _merge_duplicate_findings,
    "ux_tokens_uid_ci_type": _refuse_tokens_differing_in_case,
    **{f"ux_{name}_party_id_ci": _refuse_party_objects_differing_in_case(name) for name in PARTY_OBJECT_IDS},
}


@dataclass(frozen=True)
class DropIndex:
    table: str
    index: str
    replaced_by: str  # why no query misses it


# Indexes older versions created that this one replaced: dropped at upgrade.
OBSOLETE_INDEXES: tuple[DropIndex, ...] = (
    DropIndex("outbox", "ix_outbox_state_seq", "ix_outbox_pending_seq, ix_outbox_dead_seq (partial)"),
    DropIndex("outbox", "ix_outbox_order_seq", "ix_outbox_pending_order_seq (partial: pending rows)"),
    DropIndex("outbox", "ix_outbox_published_seq", "ix_outbox_unpublished_seq (partial: unpublished rows)"),
    DropIndex("cdrs", "ix_cdrs_session", "ix_cdrs_session_ci (upper(session_id): a CiString)"),
    DropIndex(
        "tariff_versions", "ix_tariff_versions_tariff", "ix_tariff_versions_tariff_ci (upper(tariff_id))"
    ),
)


def obsolete_indexes(bind: Engine | Connection) -> list[str]:
    """The names of `OBSOLETE_INDEXES` the database still has."""
    inspector = inspect(bind)
    present = set(inspector.get_table_names())
    have: dict[str, set[str | None]] = {}
    for drop in OBSOLETE_INDEXES:
        if drop.table in present and drop.table not in have:
            have[drop.table] = _index_names(bind, inspector, drop.table)  # no warning on expressions
    return [drop.index for drop in OBSOLETE_INDEXES if drop.index in have.get(drop.table, ())]


def upgrade_schema(engine: Engine) -> list[str]:
    """Add the missing columns `UPGRADES` knows (returns them as "table.column"), widen narrow
    string columns (PostgreSQL) and create missing indexes; raises `SchemaMismatch` before
    changing anything when a missing column is not one of them."""
    missing = missing_columns(engine)
    known = {(u.table, u.column) for u in UPGRADES}
    unknown = [f"{t}.{c.name}" for t, cols in missing.items() for c in cols if (t, c.name) not in known]
    if unknown:
        raise SchemaMismatch(
            f"the database was created by another version of the eMSP: it lacks {', '.join(unknown)}, "
            "which this version cannot add by itself; migrate it, or start on a new database "
            "(--database-url)"
        )
    added = []
    with engine.begin() as connection:
        for table_name, columns in missing.items():
            table = Base.metadata.tables[table_name]
            for column in columns:
                connection.execute(text(_add_column_sql(engine, table_name, column)))
                for index in table.indexes:
                    if column.name in index.columns:
                        index.create(connection, checkfirst=True)
                added.append(f"{table_name}.{column.name}")
        if engine.dialect.name == "postgresql":
            quote = engine.dialect.identifier_preparer.quote
            for table_name, column in narrow_columns(connection):
                kind = column.type.compile(dialect=engine.dialect)
                connection.execute(
                    text(f"ALTER TABLE {quote(table_name)} ALTER COLUMN {quote(column.name)} TYPE {kind}")
                )
        for index in missing_indexes(connection):
            merge = MERGE_BEFORE.get(str(index.name))
            if merge is not None:
                merge(connection)
            # IF NOT EXISTS: two processes starting on the same database both succeed.
            connection.execute(CreateIndex(index, if_not_exists=True))
        quote = engine.dialect.identifier_preparer.quote
        for name in obsolete_indexes(connection):  # after their replacements: never a query without
            connection.execute(text(f"DROP INDEX IF EXISTS {quote(name)}"))
    return added


def _add_column_sql(engine: Engine, table: str, column: Column[object]) -> str:
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote
    sql = f"ALTER TABLE {quote(table)} ADD COLUMN "
    if dialect.name == "postgresql":
        sql += "IF NOT EXISTS "
    sql += f"{quote(column.name)} {column.type.compile(dialect=dialect)}"
    default = column.default
    if not column.nullable:  # rows already there need a value: the column's own default
        value = getattr(default, "arg", None)
        if value is None or callable(value):
            raise SchemaMismatch(f"{table}.{column.name}: no plain default to give existing rows")
        rendered = literal(value, type_=column.type).compile(
            dialect=dialect, compile_kwargs={"literal_binds": True}
        )
        sql += f" NOT NULL DEFAULT {rendered}"
    return sql
