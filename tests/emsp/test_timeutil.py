"""format_utc's fast path (isoformat) writes exactly what the strftime form wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from emsp.timeutil import format_utc


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
