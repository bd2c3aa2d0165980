"""The eMSP's storage is chosen by URL: a SQLite file, or PostgreSQL when one is reachable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from bench.runner import run_scenario
from bench.scenario import ScenarioError

PG_ADMIN = "postgresql+psycopg://postgres@localhost/test"


def test_smoke_on_a_sqlite_file_and_a_second_run_into_it_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'emsp.db'}"
    first = run_scenario("smoke", out=tmp_path / "run", database_url=url)
    assert first.exit_code == 0
    assert first.summary["reconciliation"]["matched"] == first.summary["sessions"]["completed"]
    with pytest.raises(ScenarioError) as refused:
        run_scenario("smoke", out=tmp_path / "again", database_url=url)
    assert refused.value.field == "--database-url" and "already holds" in refused.value.reason


@pytest.fixture
def pg_schema() -> Iterator[str]:
    try:
        engine = sqlalchemy.create_engine(PG_ADMIN)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no server or no driver: this environment cannot run the check
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    schema = f"emsp_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
    yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
    engine.dispose()


def test_smoke_on_postgresql_matches_the_sqlite_run(pg_schema: str, tmp_path: Path) -> None:
    on_pg = run_scenario("smoke", out=tmp_path / "pg", database_url=pg_schema)
    run_scenario("smoke", out=tmp_path / "sqlite")
    assert on_pg.exit_code == 0
    for name in ("trace.jsonl", "summary.json", "reconciliation.csv"):
        assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "sqlite" / name).read_bytes(), name
