"""Two eMSP processes on one database create TOK1 and tok1 (same type, the same token: Token.uid is
a CiString) at the same time: both pass the application's "not issued yet" check, the unique index
(`ux_tokens_uid_ci_type`) refuses the later write. The loser gets the conflict a sequential
duplicate gets (409, never a 500) and the winner's token is kept as it issued it, never overwritten.

The interleaving is made, not hoped for: while the first request is inside its creation (after it
read the tokens table, or just before it inserts), the second request runs to its end on the other
process's app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from databases import BACKENDS, database_url
from emsp_helpers import T0, FakePricer
from fastapi.testclient import TestClient

from emsp.core import EmspCore, EmspSettings
from emsp.service.app import create_service_app

ADMIN = "admin-secret"
FIRST = {"uid": "TOK1", "contract_id": "NL-EMS-C00000001-X"}
SECOND = {"uid": "tok1", "contract_id": "NL-EMS-C00000002-X"}


@pytest.fixture(params=BACKENDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database two processes share: a SQLite file, or PostgreSQL (skipped when unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'emsp.db'}"
        return
    with database_url("postgresql") as url:
        yield url


def _process(url: str) -> tuple[EmspCore, TestClient]:
    core = EmspCore(EmspSettings(database_url=url), pricer=FakePricer())
    client = TestClient(create_service_app(core, ADMIN, lambda: T0))
    client.headers["Authorization"] = f"Bearer {ADMIN}"
    return core, client


def _reads_tokens(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT") and "FROM TOKENS" in statement.upper()


def _inserts_token(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO TOKENS")


@pytest.mark.parametrize(
    ("hook", "when"),
    [("after_cursor_execute", _reads_tokens), ("before_cursor_execute", _inserts_token)],
    ids=["after-check", "before-insert"],
)
def test_concurrent_creation_of_one_uid_in_two_cases_is_a_conflict_and_keeps_the_first(
    shared_url: str, hook: str, when: Callable[[str], bool]
) -> None:
    core_a, a = _process(shared_url)
    core_b, b = _process(shared_url)
    answers: dict[str, Any] = {}

    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "b" not in answers and when(statement):
            answers["b"] = b.post("/api/v1/tokens", json=SECOND)  # the other process, to its end

    with a, b:
        sqlalchemy.event.listen(core_a.db.engine, hook, interleave)
        answers["a"] = a.post("/api/v1/tokens", json=FIRST)
        sqlalchemy.event.remove(core_a.db.engine, hook, interleave)
        sequential = a.post("/api/v1/tokens", json={**SECOND, "uid": "Tok1"})
        assert "b" in answers  # the second request did run inside the first one's creation
        won, lost = answers["b"], answers["a"]
        assert won.status_code == 201 and won.json()["uid"] == "tok1"
        assert (lost.status_code, lost.json()) == (409, {"detail": "token TOK1 of type RFID already exists"})
        assert sequential.status_code == 409  # the same answer as a duplicate made one after the other
        for client in (a, b):  # nothing lost, nothing overwritten: the winner's token as it issued it
            tokens = client.get("/api/v1/tokens").json()["items"]
            assert [(t["uid"], t["contract_id"]) for t in tokens] == [("tok1", SECOND["contract_id"])]
    for core in (core_a, core_b):
        core.db.engine.dispose()
