"""Bring a database an older eMSP created up to this version's tables, or refuse it clearly.

`create_all` adds missing tables but never a column to an existing one, so a file or PostgreSQL
database from an older version used to start fine and fail later, on the first request that
touched a new column (a 500). At start, every table the database already has is compared with the
tables this version defines:

- a missing column listed in `UPGRADES` is added (ALTER TABLE ... ADD COLUMN, in one transaction,
  `IF NOT EXISTS` on PostgreSQL so two processes starting together both succeed), with the value
  existing rows get and why that value is safe;
- any other missing column refuses the database (`SchemaMismatch`, naming every table.column and
  what to do). A new column therefore needs a deliberate entry here, never a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, inspect, literal, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from emsp.storage.tables import Base


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


def upgrade_schema(engine: Engine) -> list[str]:
    """Add the missing columns `UPGRADES` knows (returns them as "table.column"); raises
    `SchemaMismatch` before changing anything when a missing column is not one of them."""
    missing = missing_columns(engine)
    if not missing:
        return []
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
