"""OCPP timestamps as the peer wrote them, read tolerantly (schema-valid input never raises).

The schemas type timestamps as JSON-schema `date-time` (RFC 3339), yet the `ocpp` package's own
validator does not check formats, and real chargers send `z`, `t`, `+0100`, more than six fraction
digits or no zone at all. We accept all of these (a missing zone means UTC, as OCPI and most CSMSs
read it) and emit only `YYYY-MM-DDThh:mm:ss[.mmm]Z` ourselves.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta

# The shape of a date-time the codec lets through (a lenient RFC 3339): date, T/t/space, time,
# optional fraction of any length, optional zone (Z/z, +hh:mm, +hhmm, +hh).
_PARTS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?\Z"
)


def is_date_time(text: str) -> bool:
    """The codec's `date-time` format: the lenient shape above naming a real instant. Month 13,
    Feb 30, hour 24 or 99, second 61, a zone offset beyond 23:59 are no RFC 3339 date-time: refused
    (PropertyConstraintViolation), never read as some other instant or replaced by the receiver's
    clock."""
    return parse_timestamp(text) is not None


def parse_timestamp(text: str) -> datetime | None:
    """Aware UTC, or None when the text is no instant (e.g. month 13); never raises."""
    return _parsed(text) if type(text) is str else _parse(text)


# A pure function of the text, and its value immutable: a frame's timestamps repeat (a 2.0.1
# event's own and its samples'; one instant for the meter values of a burst), so keep the last few.
@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> datetime | None:
    return _parse(text)


# What we write ourselves (format_utc: whole seconds or milliseconds, "Z"), nearly every timestamp a
# `sim` run validates, each new (a sample's, a heartbeat's instant): datetime's own C parser reads
# it. A text it refuses (second 60, month 13, year 0) takes the general reading below, which decides.
_OURS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?Z", re.ASCII)


def _parse(text: str) -> datetime | None:
    if isinstance(text, str) and _OURS.fullmatch(text):
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        except ValueError:
            pass
    return _read(text)


def _read(text: str) -> datetime | None:
    """The general reading of any text (see _PARTS)."""
    match = _PARTS.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, _z, sign, off_h, off_m = match.groups()
    # RFC 3339 §5.6: time-second 00-60 (60: a leap second), time-numoffset hours 00-23, minutes
    # 00-59; datetime() checks the rest (month, day of that month, hour, minute).
    if int(second) > 60 or (sign is not None and (int(off_h) > 23 or int(off_m or 0) > 59)):
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        # A leap second (:60) is read as the last instant of its minute.
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), min(int(second), 59), micro, tzinfo=UTC
        )
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            value = value - offset if sign == "+" else value + offset
    except (ValueError, OverflowError):
        return None
    return value
