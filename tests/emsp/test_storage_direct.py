"""Statements run on SQLite's cursor store and read exactly what the Core path does, in the unit's
transaction (emsp.storage.direct)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from databases import BACKENDS, database_url
from sqlalchemy import event, insert, select

from emsp.model import CdrInfo, Money, PartyRef
from emsp.ocpi.modules.cdrs import row_columns
from emsp.services.cdrs import new_row, row_to_info
from emsp.storage.db import Database
from emsp.storage.direct import DirectStatement
from emsp.storage.queries import (
    cdr_wire,
    find_cdr,
    insert_cdr,
    insert_session,
    session_cdrs,
    session_raw,
    update_session,
)
from emsp.storage.tables import CdrRow, PartnerRow, ProcessedEventRow, SessionRow

AT = datetime(2026, 3, 2, 7, 0, 5, 123000, tzinfo=UTC)


def _values(session_id: str, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "partner": "cpo-a", "country_code": "NL", "party_id": "CPO", "session_id": session_id,
        "status": "ACTIVE", "token_uid": "TOK1", "contract_id": "NL-EMS-C1",
        "authorization_reference": None, "location_id": "LOC1", "kwh": Decimal("1.230"),
        "start": AT, "end": None, "last_updated": AT, "raw": '{"id": "raw"}', "wire": None,
    }  # fmt: skip
    return values | changes


def _stored(db: Database) -> list[tuple[Any, ...]]:
    """The rows as SQLite holds them (text dates and decimals): what both paths must agree on."""
    with db.unit() as s:
        return [tuple(r) for r in s.connection().exec_driver_sql("select * from sessions order by pk")]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"wire": '{"id": "wire"}', "end": AT.replace(hour=9), "status": "COMPLETED"},
        {"kwh": Decimal("12.5000"), "authorization_reference": "AUTH-1"},
    ],
)
def test_direct_insert_stores_what_the_core_path_stores(changes: dict[str, Any]) -> None:
    direct, core = Database("sqlite://"), Database("sqlite://")
    with direct.unit() as s:
        insert_session(s, _values("S1", **changes))
    with core.unit() as s:
        s.connection().execute(insert(SessionRow), _values("S1", **changes))
    assert _stored(direct) == _stored(core)


def test_session_raw_reads_aware_utc_and_prefers_the_wire_form() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        insert_session(s, _values("S1"))
        insert_session(s, _values("S2", wire='{"as": "sent"}'))
    with db.unit() as s:
        assert session_raw(s, "NL", "CPO", "S1") == (1, '{"id": "raw"}', AT)
        assert session_raw(s, "NL", "CPO", "S2") == (2, '{"as": "sent"}', AT)
        assert session_raw(s, "NL", "CPO", "S3") is None
        assert session_raw(s, "DE", "CPO", "S1") is None


def test_update_changes_only_its_row() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        insert_session(s, _values("S1"))
        insert_session(s, _values("S2"))
    later = AT.replace(minute=30)
    with db.unit() as s:
        values = _values("S1", status="COMPLETED", last_updated=later, raw='{"v": 2}')
        update_session(
            s, 1, {k: v for k, v in values.items() if k not in ("country_code", "party_id", "session_id")}
        )
    with db.unit() as s:
        assert session_raw(s, "NL", "CPO", "S1") == (1, '{"v": 2}', later)
        assert session_raw(s, "NL", "CPO", "S2") == (2, '{"id": "raw"}', AT)


def test_a_rolled_back_unit_leaves_no_direct_write(tmp_path: Path) -> None:
    for url in ("sqlite://", f"sqlite:///{tmp_path / 'emsp.db'}"):
        db = Database(url)
        with db.unit() as s:
            insert_session(s, _values("S1"))
        with pytest.raises(RuntimeError), db.unit() as s:
            insert_session(s, _values("S2"))
            update_session(s, 1, {"status": "COMPLETED"})
            raise RuntimeError("boom")
        with db.unit() as s:
            assert session_raw(s, "NL", "CPO", "S2") is None
        assert [row[1] for row in _stored(db)] == ["ACTIVE"]
        db.engine.dispose()


def test_a_direct_write_shares_the_units_transaction_with_orm_work() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        s.add(PartnerRow(partner_id="cpo-a", token_a="A"))
        s.flush()
        insert_session(s, _values("S1"))
        # the ORM sees the direct row and the direct read sees the ORM's flushed row
        assert s.scalar(select(SessionRow.session_id)) == "S1"
        partner = DirectStatement(select(PartnerRow.partner_id))
        assert partner.rows(s, {}) == [("cpo-a",)]


def test_a_statement_with_defaults_the_caller_omits_is_refused() -> None:
    db = Database("sqlite://")
    # PartnerRow has Python-side defaults (registered, roles_json, ...): SQLAlchemy fills them per
    # execution, which this path does not do.
    statement = DirectStatement(insert(PartnerRow), writes=True)
    with pytest.raises(ValueError, match="default"), db.unit() as s:
        statement.write(s, {"partner_id": "cpo-a", "token_a": "A"})


def test_rows_come_back_with_their_types() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        insert_session(s, _values("S1"))
        insert_session(s, _values("S2", kwh=Decimal("7.000"), end=AT))
    columns = DirectStatement(select(SessionRow.session_id, SessionRow.kwh, SessionRow.end))
    with db.unit() as s:
        assert columns.rows(s, {}) == [("S1", Decimal("1.230"), None), ("S2", Decimal("7.000"), AT)]


def test_write_many_runs_each_parameter_set_and_a_duplicate_key_fails_like_sqlite() -> None:
    db = Database("sqlite://")
    statement = DirectStatement(insert(ProcessedEventRow), writes=True)
    with db.unit() as s:
        assert statement.write_many(s, [{"key": "a|1"}, {"key": "b|1"}])
    with pytest.raises(sqlite3.IntegrityError), db.unit() as s:
        statement.write(s, {"key": "a|1"})  # the outbox's "already applied" signal
    with db.unit() as s:
        assert sorted(s.scalars(select(ProcessedEventRow.key))) == ["a|1", "b|1"]


def _cdr_info(cdr_id: str, **changes: Any) -> CdrInfo:
    info = CdrInfo(
        "cpo-a", PartyRef("NL", "CPO"), cdr_id, "S1", "TOK1", "NL-EMS-C1", None, "LOC1", Decimal("12.3400"),
        Money(Decimal("4.50"), Decimal("5.4450"), "EUR"), AT, AT.replace(hour=9), AT.replace(hour=10), False,
    )  # fmt: skip
    return dataclasses.replace(info, **changes)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"credit": True, "authorization_reference": "AUTH-1"},
        {"session_id": None, "total_cost": Money(Decimal("-1E+1"), None, "EUR")},
    ],
)
def test_cdr_columns_are_those_of_the_orm_row(changes: dict[str, Any]) -> None:
    """The receiver's Core INSERT (row_columns) fills every column exactly as services' new_row."""
    info = _cdr_info("C1", **changes)
    columns = row_columns(info, '{"id": "C1"}', None)
    orm = new_row(info, '{"id": "C1"}', None)
    names = [c.name for c in CdrRow.__table__.columns if c.name != "pk"]
    assert sorted(columns) == sorted(names)
    assert columns == {name: getattr(orm, name) for name in names}


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_inserted_cdr_reads_back_as_it_was_written(backend: str) -> None:
    """What the settlement handler loads equals what the receiver inserted (Decimal text, aware UTC)."""
    with database_url(backend) as url:
        db = Database(url)
        info = _cdr_info("C1")
        with db.unit() as s:
            insert_cdr(s, row_columns(info, '{"id": "C1"}', '{"as": "sent"}') | {"validation": "valid"})
        with db.unit() as s:
            row = find_cdr(s, "NL", "CPO", "C1")
            assert row is not None and row_to_info(row) == info and row.validation == "valid"
            assert row_to_info(row).total_cost.excl_vat.as_tuple() == info.total_cost.excl_vat.as_tuple()
            assert cdr_wire(s, "NL", "CPO", "C1") == '{"as": "sent"}'
            assert cdr_wire(s, "NL", "CPO", "C2") is None
        db.engine.dispose()


def test_units_of_an_in_memory_scope_commit_and_roll_back_bare_direct_writes() -> None:
    """In a scope on in-memory SQLite, direct statements run without an ORM transaction
    (direct.offer_bare) and the unit commits or rolls them back itself, or through the ORM when it
    joined: every combination ends as one transaction would."""
    db = Database("sqlite://")
    with db.scope():
        with db.unit() as s:  # direct writes only
            insert_session(s, _values("S1"))
            assert s.get_transaction() is None  # bare: no ORM transaction was begun
        with pytest.raises(RuntimeError), db.unit() as s:
            insert_session(s, _values("S2"))
            raise RuntimeError("boom")
        with db.unit() as s:  # direct, then the ORM joins: its commit commits both
            insert_session(s, _values("S3"))
            s.add(PartnerRow(partner_id="cpo-a", token_a="A"))
        with pytest.raises(RuntimeError), db.unit() as s:  # both rolled back
            update_session(s, 1, {"status": "COMPLETED"})
            s.add(PartnerRow(partner_id="cpo-b", token_a="B"))
            s.flush()
            raise RuntimeError("boom")
        with db.unit() as s:  # ORM first, then direct: the ORM's transaction as before
            s.add(PartnerRow(partner_id="cpo-c", token_a="C"))
            s.flush()
            update_session(s, 2, {"status": "COMPLETED"})
    with db.unit() as s:
        assert sorted(s.scalars(select(PartnerRow.partner_id))) == ["cpo-a", "cpo-c"]
    assert [(row[0], row[1]) for row in _stored(db)] == [("S1", "ACTIVE"), ("S3", "COMPLETED")]


# (case, CDRs stored as (cdr_id, session_id, credit), the session asked about)
SESSION_CDRS: list[tuple[str, list[tuple[str, str | None, bool]], str]] = [
    ("none", [], "S1"),
    ("one", [("C1", "S1", False)], "S1"),
    (
        "several in order, credit among them",
        [("C2", "S1", False), ("C1", "S1", True), ("C3", "S1", False)],
        "S1",
    ),
    ("other sessions and none", [("C1", "S2", False), ("C2", None, False), ("C3", "S1", True)], "S1"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("stored", "session_id"), [pytest.param(s, i, id=c) for c, s, i in SESSION_CDRS])
def test_session_cdrs_answers_what_the_orm_select_did(
    backend: str, stored: list[tuple[str, str | None, bool]], session_id: str
) -> None:
    """The CDR receiver's second-CDR check (emsp.ocpi.modules.cdrs) reads a session's CDRs with a
    statement built once (direct on SQLite): the same rows, in stored order, as the ORM select it
    replaces, including a CDR the unit added as an ORM object and not yet flushed (autoflush)."""
    with database_url(backend) as url:
        db = Database(url)
        with db.unit() as s:
            for cdr_id, sid, credit in stored[:-1]:
                insert_cdr(s, row_columns(_cdr_info(cdr_id, session_id=sid, credit=credit), "{}", None))
            if stored:  # the last one pending in the ORM session
                cdr_id, sid, credit = stored[-1]
                s.add(new_row(_cdr_info(cdr_id, session_id=sid, credit=credit), "{}", None))
            fast = session_cdrs(s, "NL", "CPO", session_id)
            orm = s.execute(
                select(CdrRow.cdr_id, CdrRow.credit)
                .where(CdrRow.country_code == "NL", CdrRow.party_id == "CPO", CdrRow.session_id == session_id)
                .order_by(CdrRow.pk)
            ).all()
        assert fast == [tuple(r) for r in orm]
        assert fast == [(c, credit) for c, sid, credit in stored if sid == session_id]
        db.engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "file"])
def test_direct_statements_fire_the_engines_cursor_events(url: str, tmp_path: Path) -> None:
    """Whatever counts or logs statements on the engine sees direct ones too, in order, with
    the parameters as bound; the rows stored are those of the run without listeners."""
    db = Database(f"sqlite:///{tmp_path / 'emsp.db'}" if url == "file" else url)
    seen: list[tuple[str, Any]] = []
    after: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append((a[2].split()[0], a[3])))
    event.listen(db.engine, "after_cursor_execute", lambda *a: after.append(a[2].split()[0]))
    with db.unit() as s:
        insert_session(s, _values("S1"))
        assert session_raw(s, "NL", "CPO", "S1") == (1, '{"id": "raw"}', AT)
    statement = DirectStatement(insert(ProcessedEventRow), writes=True)
    with db.unit() as s:
        assert statement.write_many(s, [{"key": "a|1"}, {"key": "b|1"}])
    assert [kind for kind, _params in seen] == after == ["INSERT", "SELECT", "INSERT"]
    assert "S1" in seen[0][1] and seen[2][1] == [["a|1"], ["b|1"]]
    quiet = Database("sqlite://")
    with quiet.unit() as s:
        insert_session(s, _values("S1"))
    assert _stored(db) == _stored(quiet)
