"""Database URLs for tests that must hold on every backend: in-memory SQLite, and PostgreSQL in a
fresh schema per test (skipped when no server or driver is there)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy

PG_ADMIN = "postgresql+psycopg://postgres@localhost/test"
BACKENDS = ("sqlite", "postgresql")


@contextmanager
def database_url(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        yield "sqlite://"
        return
    try:
        engine = sqlalchemy.create_engine(PG_ADMIN)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no server or no driver: this environment cannot run the check
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    schema = f"emsp_{uuid.uuid4().hex[:10]}"
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        engine.dispose()
