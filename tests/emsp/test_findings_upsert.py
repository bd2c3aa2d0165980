"""Findings are counted in one row per (partner, party, kind) by an atomic upsert: a first finding
counted by two requests at once is one row counted twice, never a unique violation (a 500) nor a
lost count; an older database whose racing processes left two rows is merged when it is upgraded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy
from databases import BACKENDS, database_url
from emsp_helpers import T0

from emsp.model import PartyRef
from emsp.services import findings
from emsp.services.findings import NewFinding
from emsp.storage.db import Database
from emsp.storage.tables import FindingRow

PARTY = PartyRef("DE", "CPA")


def _finding(kind: str, example: str = "example") -> NewFinding:
    return NewFinding(kind, PARTY, example, module="sessions", object_id="S1")


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    with database_url(request.param) as url:
        database = Database(url)
        yield database
        database.engine.dispose()


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        # one request with one finding
        ([["stale_update"]], {"stale_update": 1}),
        # several of a kind in one request: one write of their count
        ([["stale_update", "stale_update", "duplicate_cdr"]], {"stale_update": 2, "duplicate_cdr": 1}),
        # request after request: the same row counted on
        ([["stale_update"], ["stale_update"], ["stale_update", "duplicate_cdr"]],
         {"stale_update": 3, "duplicate_cdr": 1}),
    ],
)  # fmt: skip
def test_counts_add_up_in_one_row_per_kind_keeping_the_first_example(
    db: Database, batches: list[list[str]], expected: dict[str, int]
) -> None:
    for i, kinds in enumerate(batches):
        with db.unit() as session:
            findings.record(session, "cpo-1", [_finding(k, f"example {i}") for k in kinds], T0 + timedelta(i))
    with db.unit() as session:
        stored = findings.rows(session)
    assert {r.kind: r.count for r in stored} == expected
    assert len(stored) == len(expected)  # one row per kind
    stale = next(r for r in stored if r.kind == "stale_update")
    assert (stale.detail, stale.at) == ("example 0", T0)  # the first example stays
    assert stale.last_at == T0 + timedelta(len(batches) - 1)  # when it was last counted


def _waiting_on_a_lock(engine: sqlalchemy.Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.execute(
            sqlalchemy.text(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                "and query like '%findings%' and pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(waiting) > 0


def test_two_requests_counting_the_same_first_finding_at_once_make_one_row_counted_twice() -> None:
    """PostgreSQL: the second insert waits on the first's uncommitted row, then adds to it (the
    former UPDATE-then-INSERT saw no row, inserted, and hit the unique index once the first committed)."""
    with database_url("postgresql") as url:
        db = Database(url)
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with db.session_factory() as session, session.begin():
                    findings.record(session, "cpo-1", [_finding("stale_update", "second")], T0)
            except BaseException as exc:  # handed to the test's assertion
                errors.append(exc)

        try:
            with db.session_factory() as first, first.begin():
                findings.record(first, "cpo-1", [_finding("stale_update", "first")], T0)
                thread = threading.Thread(target=second)
                thread.start()
                # Commit only once the second one waits on the first's row (or is done: the former
                # code wrote at commit, so the second saw nothing and inserted first).
                while thread.is_alive() and not _waiting_on_a_lock(db.engine):
                    thread.join(0.01)
        except sqlalchemy.exc.IntegrityError as exc:
            errors.append(exc)
        thread.join()
        with db.unit() as session:
            stored = findings.rows(session)
        db.engine.dispose()
    assert errors == []
    assert [(r.kind, r.count, r.detail) for r in stored] == [("stale_update", 2, "first")]


def test_an_older_database_with_a_finding_stored_twice_is_merged_and_gains_the_unique_index(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Database(url).engine.dispose()
    engine = sqlalchemy.create_engine(url)
    table = FindingRow.__table__
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("drop index ux_findings_partner_party_kind"))
        row = {"partner": "cpo-1", "country_code": "DE", "party_id": "CPA", "kind": "stale_update",
               "module": "sessions", "object_id": "S1"}  # fmt: skip
        connection.execute(
            sqlalchemy.insert(table),
            [
                {**row, "detail": "first", "at": T0, "count": 2, "last_at": T0 + timedelta(hours=1)},
                {**row, "detail": "second", "at": T0 + timedelta(minutes=1), "count": 3, "last_at": None},
                {**row, "kind": "duplicate_cdr", "detail": "alone", "at": T0, "count": 1, "last_at": T0},
            ],
        )
    engine.dispose()
    db = Database(url)
    indexes = {ix["name"]: ix["unique"] for ix in sqlalchemy.inspect(db.engine).get_indexes("findings")}
    assert indexes.get("ux_findings_partner_party_kind") in (True, 1)
    with db.unit() as session:
        findings.record(session, "cpo-1", [_finding("stale_update")], T0 + timedelta(hours=2))
    with db.unit() as session:
        stored = {r.kind: (r.count, r.detail, r.last_at) for r in findings.rows(session)}
    db.engine.dispose()
    assert stored == {
        "stale_update": (6, "first", T0 + timedelta(hours=2)),  # 2 + 3 merged, then counted on
        "duplicate_cdr": (1, "alone", T0),
    }
