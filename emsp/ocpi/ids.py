"""Whole numbers read from a path or a body as text (command ids, 2.1.1 reservation ids)."""

from __future__ import annotations

import string

MAX_SQL_INT = 2**63 - 1  # SQLite's and PostgreSQL's BIGINT: a larger key overflows in the driver
_DIGITS = frozenset(string.digits)


def whole_number(text: str, maximum: int = MAX_SQL_INT) -> int | None:
    """`text` as an int when it is ASCII digits only and at most `maximum`; else None.

    Not `str.isdigit()`: it also accepts digits `int()` refuses ('²') and others it reads ('٣')."""
    if not text or not set(text) <= _DIGITS or len(text) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
