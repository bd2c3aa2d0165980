"""UtcDateTime's SQLite text of an instant is worked out once while the instant is in use (a request
stores its time in several columns), and is the text SQLAlchemy's DATETIME writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from emsp.storage import types
from emsp.storage.types import UtcDateTime

AT = datetime(2026, 3, 2, 7, 0, 5, 96000, tzinfo=UTC)


def _general(value: datetime) -> str:
    """process_bind_param, then SQLite DATETIME's own bind processor: the path the memo skips."""
    dialect = sqlite.dialect()
    column = UtcDateTime()
    naive = column.process_bind_param(value, dialect)
    processor = column.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return str(processor(naive))


def test_an_instant_is_formatted_once_while_in_use() -> None:
    types._utc_text.cache_clear()
    first = types._sqlite_utc_text(AT)
    assert types._sqlite_utc_text(AT + timedelta(0)) == first == _general(AT)  # an equal datetime
    assert types._utc_text.cache_info().hits == 1


@pytest.mark.parametrize(
    "value",
    [
        AT,
        AT.replace(microsecond=0),
        AT.astimezone(timezone(timedelta(hours=2))),  # another zone: converted, not remembered
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_the_text_is_what_sqlalchemy_writes(value: datetime) -> None:
    assert types._sqlite_utc_text(value) == _general(value)


def test_a_datetime_subclass_is_not_remembered() -> None:
    class Stamp(datetime):
        pass

    types._utc_text.cache_clear()
    stamp = Stamp(2026, 3, 2, 7, 0, 5, tzinfo=UTC)
    assert types._sqlite_utc_text(stamp) == _general(stamp)
    assert types._utc_text.cache_info().currsize == 0


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        types._sqlite_utc_text(datetime(2026, 3, 2))
