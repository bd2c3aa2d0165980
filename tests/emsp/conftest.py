"""Fixtures for the eMSP core tests (helpers live in emsp_helpers)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from databases import database_url
from emsp_helpers import Client, FakePricer, register

from emsp.core import EmspCore, EmspSettings


@pytest.fixture
def pricer() -> FakePricer:
    return FakePricer()


@pytest.fixture
def core(pricer: FakePricer) -> EmspCore:
    return EmspCore(EmspSettings(), pricer=pricer)


@pytest.fixture
def cpo(core: EmspCore) -> Client:
    return register(core)


PG_ADMIN = "postgresql+psycopg://postgres@localhost/test"


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema (its URL), dropped afterwards; skips when PostgreSQL is unreachable."""
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


@pytest.fixture(params=["sqlite-file", "postgresql"])
def stored_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that outlives its engines (schema upgrade tests): a SQLite file, or PostgreSQL
    (skipped when unreachable)."""
    if request.param == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with database_url("postgresql") as pg:
        yield pg
