"""Column types that keep the core's units exact on every backend (principle 7)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import TypeDecorator

# SQLite's DATETIME text by default: what `isoformat(" ", "microseconds")` writes of a naive datetime.
_SQLITE_TEXT_FORMAT = SQLITE_DATETIME._storage_format


def _sqlite_utc_text(value: datetime) -> str:
    """UtcDateTime's bind value on SQLite (process_bind_param, then DATETIME's text) in one step."""
    zone = value.tzinfo
    if zone is UTC and type(value) is datetime:
        return _utc_text(value)
    if zone is None:
        raise ValueError("naive datetime: times at the core are aware UTC")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _plain_utc_text(value: datetime) -> str:
    # The core's own times: the text up to the "+00:00", without two new datetimes.
    return value.isoformat(" ", "microseconds")[:-6]


# A request stores its instant in several columns (the row's time, its outbox events' created_at),
# and a simulated instant serves many requests. Pure: the keys are plain datetimes in UTC itself,
# whose equality is the instant's (as emsp.timeutil's memo of format_utc).
_utc_text = functools.lru_cache(maxsize=1024)(_plain_utc_text)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out; stored naive-UTC because SQLite has no time zones."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times at the core are aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def direct_bind_processor(self, dialect: Dialect) -> Callable[[datetime], str] | None:
        """The bind processor's value in one step (emsp.storage.direct), on SQLite's default text."""
        impl = self.impl_instance.dialect_impl(dialect)
        if dialect.name != "sqlite" or getattr(impl, "_storage_format", None) != _SQLITE_TEXT_FORMAT:
            return None
        return _sqlite_utc_text

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """Decimal stored as its exact text: no float on any backend, no SQLite Numeric warnings."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def direct_bind_processor(self, dialect: Dialect) -> Callable[[Decimal], str] | None:
        """The bind processor's value in one step (emsp.storage.direct): the text, where the
        impl (a String) converts nothing further."""
        return str if self.impl_instance.dialect_impl(dialect).bind_processor(dialect) is None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
