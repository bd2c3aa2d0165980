"""Pipelined group commit seen from a partner: an authorization's answer is sent only once its
record is stored; a commit that fails gets no 200/1000 (HTTP 503, OCPI 3000: not stored, retry),
and its records are not there. On a SQLite file and on PostgreSQL (each has a committer of its own)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from databases import database_url
from emsp_helpers import T0, register

from emsp.api import core_thread, create_app
from emsp.core import EmspCore, EmspSettings

BASE = "http://emsp.local/ocpi"


@pytest.fixture(params=["sqlite-file", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmspCore]:
    if request.param == "sqlite-file":
        core = EmspCore(EmspSettings(base_url=BASE, database_url=f"sqlite:///{tmp_path / 'e.db'}"))
        yield core
        core.db.engine.dispose()
        return
    with database_url("postgresql") as url:
        core = EmspCore(EmspSettings(base_url=BASE, database_url=url))
        yield core
        core.db.engine.dispose()


def test_a_failed_group_commit_answers_503_and_stores_nothing(
    core: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = register(core)
    for i in range(4):
        core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
    assert not core.db.single_connection  # the pipelined committer, not the in-memory fallback
    write = core.tokens.write_records
    fail = [True]

    def flaky(rows: list[dict[str, Any]]) -> None:
        if fail:
            fail.clear()
            raise OSError("connection to the database lost")
        write(rows)

    monkeypatch.setattr(core.tokens, "write_records", flaky)
    thread = core_thread(core)
    app = create_app(core, lambda: T0, core_thread=thread)
    headers = {"Authorization": "Token " + base64.b64encode(client.token.encode()).decode()}

    async def scenario() -> tuple[httpx.Response, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=headers) as http:
            lost = await http.post("/2.2.1/tokens/RFID0/authorize", json={"location_id": "LOC1"})
            later = [
                await http.post(f"/2.2.1/tokens/RFID{i}/authorize", json={"location_id": "LOC1"})
                for i in range(1, 4)
            ]
            return lost, later

    try:
        lost, later = asyncio.run(scenario())
    finally:
        thread.close()
    assert lost.status_code == 503 and lost.headers["Retry-After"] == "1"
    assert lost.json()["status_code"] == 3000 and "data" not in lost.json()
    assert [(r.status_code, r.json()["data"]["allowed"]) for r in later] == [(200, "ALLOWED")] * 3
    records = core.records().authorizations
    assert sorted(r.token_uid for r in records) == ["RFID1", "RFID2", "RFID3"]  # nothing for RFID0
    answered = {r.json()["data"]["authorization_reference"] for r in later}
    assert {r.authorization_reference for r in records} == answered


def test_authorization_records_relax_only_their_own_commit(core: EmspCore) -> None:
    """On PostgreSQL the records' transaction skips the WAL flush (SQLite WAL's NORMAL guarantee);
    the setting is transaction-local: the pool's next transaction, where sessions and CDRs commit,
    is durable again. The rows are there either way."""
    row = {
        "partner": "cpo", "token_uid": "RFID0", "token_type": "RFID", "result": "ALLOWED",
        "authorization_reference": "REF1", "location_id": None, "at": T0,
    }  # fmt: skip
    core.db.engine.dispose()  # the pool's next connection is then the one the records used
    statements: list[str] = []
    listen = sqlalchemy.event.listen
    listen(core.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    core.tokens.write_records([row])
    relaxed = any("synchronous_commit" in s for s in statements)
    assert relaxed == (core.db.engine.dialect.name == "postgresql")
    with core.db.engine.connect() as connection:
        stored = connection.exec_driver_sql("select count(*) from authorizations").scalar_one()
        if connection.dialect.name == "postgresql":
            setting = connection.exec_driver_sql("show synchronous_commit").scalar_one()
            assert setting == "on"
    assert stored == 1
