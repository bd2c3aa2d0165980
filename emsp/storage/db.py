"""Engine and unit-of-work. In-memory SQLite by default; a file or PostgreSQL URL works too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from emsp.storage.tables import Base, CounterRow


def make_engine(url: str) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        # One shared connection, or every new connection would see an empty in-memory database.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    return create_engine(url)


class Database:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception."""
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def next_value(session: Session, name: str) -> int:
    """Next value of a named counter (ids derived from counters keep runs deterministic)."""
    row = session.scalars(select(CounterRow).where(CounterRow.name == name)).one_or_none()
    if row is None:
        row = CounterRow(name=name, value=0)
        session.add(row)
    row.value += 1
    session.flush()
    return row.value
