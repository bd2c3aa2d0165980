"""Instants that ground-truth records keep all run long, as integers (microseconds since 1970 UTC).

A datetime is a 48-byte object; a record kept for every session of a run (a station's charge truth,
a CPO's sent CDR) holds several. As microseconds they pack into the record's own bytes (or one int)
and come back as the same instant, in UTC, when read: exact for every aware datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NO_INSTANT = -(2**63)  # None, in a signed 64-bit field
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime | None) -> int:
    if moment is None:
        return NO_INSTANT
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime | None:
    return None if micros == NO_INSTANT else _EPOCH + timedelta(microseconds=micros)
