"""format_utc's fast path (isoformat) writes exactly what the strftime form wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emsp.timeutil import _format_utc, format_utc


def _strftime_form(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


ZONES = st.sampled_from([UTC, ZoneInfo("Europe/Amsterdam"), ZoneInfo("UTC"), timezone(timedelta(hours=-5))])


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES))
def test_same_text_as_strftime(moment: datetime) -> None:
    assert format_utc(moment) == _strftime_form(moment)


def test_years_before_1000_and_milliseconds() -> None:
    for moment in (
        datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 2, 7, 0, 0, 500, tzinfo=UTC),  # under a millisecond: ".000Z", as before
        datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=1))),
    ):
        assert format_utc(moment) == _strftime_form(moment)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES))
def test_cached_form_is_the_general_form(moment: datetime) -> None:
    # The same instant twice (the second from the cache), and an equal copy of it.
    copy = moment.replace(microsecond=moment.microsecond)
    assert format_utc(moment) == format_utc(moment) == format_utc(copy) == _format_utc(moment)


FOLD = ZoneInfo("Europe/Amsterdam")


def test_instants_that_compare_equal_but_differ_are_not_mixed_up() -> None:
    # 02:30 happens twice on 2021-10-31 in Amsterdam: equal datetimes (same zone), an hour apart.
    first, second = (
        datetime(2021, 10, 31, 2, 30, tzinfo=FOLD),
        datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=FOLD),
    )
    assert first == second
    for moment, text in [
        (first, "2021-10-31T00:30:00Z"),
        (second, "2021-10-31T01:30:00Z"),
        (first, "2021-10-31T00:30:00Z"),
        (first.astimezone(UTC), "2021-10-31T00:30:00Z"),
        (second.astimezone(UTC), "2021-10-31T01:30:00Z"),
    ]:
        assert format_utc(moment) == text


class _Later(datetime):
    """A datetime subclass (as libraries make them): not a key of the cache, formatted all the same."""


def test_naive_and_subclassed_moments() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_utc(datetime(2026, 1, 1))
    assert format_utc(_Later(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)) == "2026-01-01T00:00:00.001Z"
