"""The outbox's indexes cover only the rows their queries read (pending, dead), and the queries use
them; an older database's full indexes are replaced at start. processed_events keeps each key once
(SQLite: WITHOUT ROWID) and still refuses a key applied before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from databases import database_url
from sqlalchemy.exc import IntegrityError

from emsp.outbox import Outbox
from emsp.storage import outbox_sql as sql
from emsp.storage.db import Database
from emsp.storage.schema import OBSOLETE_INDEXES, missing_indexes, obsolete_indexes
from emsp.storage.tables import OutboxRow, ProcessedEventRow

AT = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _row(seq: int, state: str, key: str = "session:A") -> dict[str, Any]:
    return {
        "seq": seq, "kind": "session.updated", "partner": "cpo-a", "ordering_key": key,
        "idempotency_key": f"i{seq}", "payload": "{}", "created_at": AT, "state": state,
        "attempts": 0, "published": False,
    }  # fmt: skip


def _entries(db: Database, index: str) -> int:
    """Rows an SQLite index holds (dbstat would need a build option: count through the index)."""
    where = {"ix_outbox_pending_seq": "pending", "ix_outbox_dead_seq": "dead"}[index]
    with db.engine.connect() as connection:
        return int(
            connection.exec_driver_sql(
                f"SELECT count(*) FROM outbox INDEXED BY {index} WHERE state = '{where}'"
            ).scalar_one()
        )


def _plan(db: Database, statement: Any, params: dict[str, Any]) -> str:
    with db.engine.connect() as connection:
        compiled = statement.compile(dialect=connection.dialect)
        values = [params.get(name, compiled.params.get(name)) for name in compiled.positiontup or ()]
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", tuple(values)).all()
    return " | ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("statement", "params", "index"),
    [
        (sql.CLAIM, {"now": AT, "size": 10}, "ix_outbox_pending_seq"),  # the claim's scan
        (sql.CLAIM, {"now": AT, "size": 10}, "ix_outbox_pending_order_seq"),  # its per-key order check
        (sql.ANY_PENDING, {}, "ix_outbox_pending_seq"),
        (
            sqlalchemy.select(OutboxRow.seq).where(OutboxRow.state == "dead").order_by(OutboxRow.seq),
            {},
            "ix_outbox_dead_seq",
        ),  # dead letters
    ],
)
def test_the_bus_queries_use_the_partial_indexes_with_bound_states(
    statement: Any, params: dict[str, Any], index: str, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'plan.db'}")
    with db.engine.begin() as connection:  # many done rows, a few pending: the partial index is the way
        done = [_row(i, "done", f"k{i % 7}") for i in range(1, 400)]
        connection.execute(sqlalchemy.insert(OutboxRow), done)
        connection.execute(sqlalchemy.insert(OutboxRow), [_row(400, "pending"), _row(401, "dead")])
        connection.exec_driver_sql("ANALYZE")
    assert index in _plan(db, statement, params)
    db.engine.dispose()


def test_the_partial_indexes_hold_only_pending_and_dead_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'size.db'}")
    states = ["done"] * 50 + ["pending"] * 3 + ["dead"] * 2
    with db.engine.begin() as connection:
        connection.execute(sqlalchemy.insert(OutboxRow), [_row(i + 1, s) for i, s in enumerate(states)])
    assert (_entries(db, "ix_outbox_pending_seq"), _entries(db, "ix_outbox_dead_seq")) == (3, 2)
    with db.engine.begin() as connection:  # a claimed row that is done leaves the index
        connection.execute(sqlalchemy.update(OutboxRow).where(OutboxRow.seq == 51).values(state="done"))
    assert _entries(db, "ix_outbox_pending_seq") == 2
    db.engine.dispose()


def test_an_older_database_trades_its_full_outbox_indexes_for_the_partial_ones(stored_url: str) -> None:
    Database(stored_url).engine.dispose()  # today's tables, then back to the indexes an older version made
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:
        for name in ("ix_outbox_pending_seq", "ix_outbox_pending_order_seq", "ix_outbox_dead_seq"):
            connection.execute(sqlalchemy.text(f"drop index {name}"))
        connection.execute(sqlalchemy.text("create index ix_outbox_state_seq on outbox (state, seq)"))
        connection.execute(sqlalchemy.text("create index ix_outbox_order_seq on outbox (ordering_key, seq)"))
        connection.execute(sqlalchemy.text("drop index ix_outbox_unpublished_seq"))
        connection.execute(sqlalchemy.text("create index ix_outbox_published_seq on outbox (published, seq)"))
        connection.execute(sqlalchemy.insert(OutboxRow), [_row(1, "done"), _row(2, "pending")])
    assert obsolete_indexes(engine) == [drop.index for drop in OBSOLETE_INDEXES if drop.table == "outbox"]
    engine.dispose()
    db = Database(stored_url)
    assert missing_indexes(db.engine) == [] and obsolete_indexes(db.engine) == []
    names = {ix["name"] for ix in sqlalchemy.inspect(db.engine).get_indexes("outbox")}
    assert names == {
        "ix_outbox_pending_seq", "ix_outbox_pending_order_seq", "ix_outbox_dead_seq",
        "ix_outbox_unpublished_seq",
    }  # fmt: skip
    with db.unit() as session:  # the rows are all there, the pending one found by the claim
        claimed = session.connection().execute(sql.CLAIM, {"now": AT, "size": 10}).all()
        assert [r.seq for r in claimed] == [2]
    outbox = Outbox(db)
    assert [e.seq for e in outbox.unpublished(10)] == [1, 2]  # the stream's backlog is intact
    db.engine.dispose()
    again = Database(stored_url)  # a second start finds nothing to do
    assert obsolete_indexes(again.engine) == [] and again.schema_upgrades == []
    again.engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_processed_key_is_stored_once_and_refused_again(backend: str) -> None:
    with database_url(backend) as url:
        db = Database(url)
        with db.unit() as session:
            session.connection().execute(sql.INSERT_KEY, {"key": "settlement.settle|cdr:DE*CPA:X-CDR"})
        with pytest.raises(IntegrityError), db.unit() as session:
            session.connection().execute(sql.INSERT_KEY, {"key": "settlement.settle|cdr:DE*CPA:X-CDR"})
        with db.unit() as session:
            assert session.scalars(sqlalchemy.select(ProcessedEventRow.key)).all() == [
                "settlement.settle|cdr:DE*CPA:X-CDR"
            ]
        if backend == "sqlite":  # the key is the table: no rowid table beside a key index
            with db.engine.connect() as connection:
                ddl = connection.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'processed_events'"
                ).scalar_one()
                autoindexes = connection.exec_driver_sql(
                    "SELECT count(*) FROM sqlite_master"
                    " WHERE tbl_name = 'processed_events' AND type = 'index'"
                ).scalar_one()
            assert "WITHOUT ROWID" in ddl and autoindexes == 0
        db.engine.dispose()


def _unpublished_plan(connection: sqlalchemy.Connection) -> str:
    query = sqlalchemy.select(OutboxRow.seq).where(OutboxRow.published.is_(False)).order_by(OutboxRow.seq)
    compiled = query.limit(5).compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    return " | ".join(str(r[-1]) for r in connection.exec_driver_sql(prefix + compiled.string).all())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_stream_backlog_index_holds_unpublished_rows_only_and_its_query_uses_it(backend: str) -> None:
    """Published rows leave ix_outbox_unpublished_seq (the full index on (published, seq) kept every
    row of the stream for good), and the publisher's query is still answered through it."""
    with database_url(backend) as url:
        db = Database(url)
        with db.engine.begin() as connection:
            rows = [_row(i, "done") | {"published": i <= 380} for i in range(1, 400)]
            connection.execute(sqlalchemy.insert(OutboxRow), rows)
            if backend == "sqlite":
                connection.exec_driver_sql("ANALYZE")
                held = connection.exec_driver_sql(
                    "SELECT count(*) FROM outbox INDEXED BY ix_outbox_unpublished_seq WHERE published IS 0"
                ).scalar_one()
                assert held == 19
            else:
                connection.exec_driver_sql("ANALYZE outbox")
                connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # small table: force the choice
                predicate = connection.exec_driver_sql(
                    "SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i"
                    " JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'ix_outbox_unpublished_seq'"
                    # each test has its own schema: other workers' tables hold an index of that name
                    " AND c.relnamespace = current_schema()::regnamespace"
                ).scalar_one()
                assert predicate == "(published IS FALSE)"
            assert "ix_outbox_unpublished_seq" in _unpublished_plan(connection)
        assert [e.seq for e in Outbox(db).unpublished(50)] == list(range(381, 400))
        db.engine.dispose()


def test_an_older_database_trades_its_exact_case_reference_indexes_for_case_insensitive_ones(
    stored_url: str,
) -> None:
    """A CDR's session id and a tariff version's tariff id are matched in any case (CiStrings): the
    indexes on the plain columns give way to ones on upper(id), which those lookups use."""
    Database(stored_url).engine.dispose()
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:
        for name in ("ix_cdrs_session_ci", "ix_tariff_versions_tariff_ci"):
            connection.execute(sqlalchemy.text(f"drop index {name}"))
        connection.execute(
            sqlalchemy.text("create index ix_cdrs_session on cdrs (country_code, party_id, session_id)")
        )
        on_tariff = "on tariff_versions (country_code, party_id, tariff_id)"
        connection.execute(sqlalchemy.text(f"create index ix_tariff_versions_tariff {on_tariff}"))
    assert obsolete_indexes(engine) == ["ix_cdrs_session", "ix_tariff_versions_tariff"]
    engine.dispose()
    db = Database(stored_url)
    assert missing_indexes(db.engine) == [] and obsolete_indexes(db.engine) == []
    db.engine.dispose()
