"""Timezone-aware UTC time at the core (design principle 7)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?(?P<zone>Z|[+-]\d{2}:\d{2})?",
    re.IGNORECASE,
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)  # exclusive


def parse_utc(text: str) -> datetime:
    """Parse an OCPI/OCPP timestamp; a missing zone designator means UTC (OCPI types, DateTime)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: a bad value like any other
        raise ValueError(f"{text!r} is out of range in UTC") from None


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a 'Z'; milliseconds only when present, so traces stay compact."""
    if moment.tzinfo is UTC and type(moment) is datetime:
        return _format_utc_cached(moment)
    return _format_utc(moment)


def _format_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times at the core are aware UTC")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.year >= 1000:  # isoformat is C and pads as strftime does from year 1000 on (same text)
        # Its "milliseconds" truncate as `microsecond // 1000` does; the "+00:00" after is cut off.
        if moment.microsecond:
            return moment.isoformat("T", "milliseconds")[:23] + "Z"
        return moment.isoformat("T", "seconds")[:19] + "Z"
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# A run formats the same instant many times (every message of a scenario instant, every field that
# repeats it). Pure: only plain datetimes in UTC itself are keys, whose equality is the instant's
# (two equal datetimes of one zone with a DST fold may be different instants: they take the other path).
_format_utc_cached = functools.lru_cache(maxsize=4096)(_format_utc)


def parse_ocpi_datetime(text: str) -> datetime:
    """An OCPI DateTime (types, DateTime) as aware UTC; ValueError naming what is wrong.

    RFC 3339 `YYYY-MM-DDThh:mm:ss[.f][Z]`, no zone designator meaning UTC. A numeric offset is
    tolerated and converted (the spec wants UTC, but refusing a correct instant helps no one).
    Instants outside 1970..9998 are refused: no charging happened then, and they would overflow
    later date arithmetic (offsets, local time zones, +/- days) into a server error.
    """
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError("not an RFC 3339 DateTime (YYYY-MM-DDThh:mm:ss[.fff][Z])")
    frac = (match["frac"] or "")[:7]  # datetime keeps microseconds: drop what it cannot hold
    zone = match["zone"] or "Z"
    iso = f"{match['date']}T{match['time']}{frac}{'+00:00' if zone.upper() == 'Z' else zone}"
    try:
        value = datetime.fromisoformat(iso).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("DateTime is not a valid date and time, or out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError("DateTime outside the years 1970..9998")
    return value


def known_zone(value: str) -> str:
    """`value` if it names an IANA time zone; ValueError otherwise (a validator's message)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value
