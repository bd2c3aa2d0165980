"""Timezone-aware UTC time at the core (design principle 7)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_utc(text: str) -> datetime:
    """Parse an OCPI/OCPP timestamp; a missing zone designator means UTC (OCPI types, DateTime)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a 'Z'; milliseconds only when present, so traces stay compact."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times at the core are aware UTC")
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
