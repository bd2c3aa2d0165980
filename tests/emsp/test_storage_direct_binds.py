"""The cheaper bind processors column types offer the direct path (emsp.storage.direct) give the
very values SQLAlchemy's own processors give, for every kind of value a column receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from emsp.storage.direct import bind_processor
from emsp.storage.packed import CDRS, EVENTS, SESSIONS, PackedText
from emsp.storage.types import DecimalText, UtcDateTime

SQLITE = sqlite.dialect()


class _Later(datetime):
    """A datetime subclass (as libraries make them)."""


PLUS_TWO = timezone(timedelta(hours=2))

# (case, column type, values that are not None)
CASES: list[tuple[str, Any, list[Any]]] = [
    (
        "UtcDateTime",
        UtcDateTime(),
        [
            datetime(2026, 3, 2, 7, 0, 5, 123456, tzinfo=UTC),
            datetime(2026, 3, 2, 7, 0, 5, tzinfo=UTC),  # no microseconds: still written
            datetime(2026, 3, 2, 7, 0, 5, 1000, tzinfo=PLUS_TWO),  # converted to UTC
            datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # next day, next year
            datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year below 1000 is zero-padded
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2021, 10, 31, 1, 30, fold=1, tzinfo=UTC),  # a fold means nothing in UTC
            datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Amsterdam")),  # the later 02:30
            datetime(2026, 3, 2, 7, 0, 5, 42, tzinfo=ZoneInfo("UTC")),  # UTC, but not that tzinfo object
            _Later(2026, 3, 2, 7, 0, 5, 999999, tzinfo=UTC),
        ],
    ),
    (
        "DecimalText",
        DecimalText(),
        [
            Decimal("1.230"),
            Decimal("0"),
            Decimal("-1E+1"),
            Decimal("12.3400"),
            Decimal("1e-7"),
            Decimal("NaN"),
        ],
    ),
    *[
        (
            f"PackedText {packed_format!r}",
            PackedText(packed_format),
            ["", '{"id":"S1"}', '{"kwh":1.230,"status":"ACTIVE","name":"Zürich \\u2603 ☃"}', "x" * 5000],
        )
        for packed_format in (EVENTS, CDRS, SESSIONS)
    ],
]


def _general(type_: Any) -> Any:
    return type_.dialect_impl(SQLITE).bind_processor(SQLITE)


@pytest.mark.parametrize(("type_", "values"), [pytest.param(t, v, id=c) for c, t, v in CASES])
def test_the_direct_bind_gives_what_sqlalchemys_processor_gives(type_: Any, values: list[Any]) -> None:
    fast, general = bind_processor(type_, SQLITE), _general(type_)
    assert fast is not None and fast is not general  # the type's own offer is taken
    for value in values:
        assert fast(value) == general(value), value


def test_a_naive_datetime_is_refused_by_both() -> None:
    fast, general = bind_processor(UtcDateTime(), SQLITE), _general(UtcDateTime())
    assert fast is not None
    for processor in (fast, general):
        with pytest.raises(ValueError, match="naive"):
            processor(datetime(2026, 1, 1))


def test_no_offer_where_the_direct_path_does_not_run_or_the_text_is_not_the_default() -> None:
    pg = postgresql.dialect()
    assert UtcDateTime().direct_bind_processor(pg) is None
    assert PackedText(SESSIONS).direct_bind_processor(pg) is None
    utc: Any = UtcDateTime()
    utc.impl = sqlite.DATETIME(truncate_microseconds=True)  # another storage format: its own processor
    assert utc.direct_bind_processor(SQLITE) is None
    assert _general(utc)(datetime(2026, 1, 1, 7, 0, 5, 123, tzinfo=UTC)) == "2026-01-01 07:00:05"
