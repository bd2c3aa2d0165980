"""Real-time authorization answers from memory: a warm authorize costs no SQL at all (counted on the
engine), its record is one INSERT per batch under group commit; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from databases import BACKENDS, database_url
from emsp_helpers import T0, Client, V, register
from sqlalchemy import event

from emsp.core import EmspCore, EmspSettings


class Statements:
    """Every statement the engine sends and every transaction begun, on a connection or in the ORM
    (a unit of work committed with nothing in it still costs the ORM's bookkeeping)."""

    def __init__(self, core: EmspCore) -> None:
        self.sql: list[str] = []
        self.begins = 0
        event.listen(core.db.engine, "before_cursor_execute", self._statement)
        event.listen(core.db.engine, "begin", self._begin)
        event.listen(core.db.session_factory, "after_transaction_create", self._orm_begin)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.sql.append(statement)

    def _begin(self, _conn: Any) -> None:
        self.begins += 1

    def _orm_begin(self, _session: Any, transaction: Any) -> None:
        if transaction.parent is None:  # the outermost: savepoints and subtransactions aside
            self.begins += 1

    def reset(self) -> None:
        self.sql.clear()
        self.begins = 0


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest) -> Iterator[tuple[EmspCore, Client, Statements]]:
    with database_url(request.param) as url:
        core = EmspCore(EmspSettings(database_url=url, inline_drain=False))
        cpo = register(core)
        for i in range(3):
            core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
        yield core, cpo, Statements(core)
        core.db.engine.dispose()


def _authorize(cpo: Client, uid: str) -> str:
    resp = cpo.call("POST", f"{V}/tokens/{uid}/authorize", {"location_id": "LOC1"})
    assert resp.status == 200, resp.body
    return str(resp.json()["data"]["allowed"])


def test_a_warm_authorization_under_group_commit_executes_no_sql(
    world: tuple[EmspCore, Client, Statements],
) -> None:
    core, cpo, seen = world
    core.tokens.defer_records = True  # as the served eMSP's core thread runs it
    with core.db.scope():
        for i in range(3):
            _authorize(cpo, f"RFID{i}")  # first use: the token's row is read once
        core.commit_deferred()
    seen.reset()
    with core.db.scope():  # one batch of the core thread
        answers = [_authorize(cpo, f"RFID{i % 3}") for i in range(12)]
        assert seen.sql == [] and seen.begins == 0  # no token, credentials or unit-of-work SQL
        core.commit_deferred()
    assert answers == ["ALLOWED"] * 12
    inserts = [s for s in seen.sql if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "authorizations" in inserts[0]  # the batch's records, one statement
    assert len(core.records().authorizations) == 15


def test_without_group_commit_each_authorization_is_one_insert(
    world: tuple[EmspCore, Client, Statements],
) -> None:
    _core, cpo, seen = world
    _authorize(cpo, "RFID0")
    seen.reset()
    for _ in range(4):
        _authorize(cpo, "RFID0")
    assert len(seen.sql) == 4 and all("authorizations" in s for s in seen.sql)


def test_versions_need_no_transaction(world: tuple[EmspCore, Client, Statements]) -> None:
    _core, cpo, seen = world
    cpo.call("GET", f"{V}")  # warm: the token's partner is cached
    seen.reset()
    resp = cpo.call("GET", f"{V}")
    assert resp.status == 200 and resp.json()["status_code"] == 1000
    assert seen.sql == [] and seen.begins == 0
