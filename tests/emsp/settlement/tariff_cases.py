"""Shared helpers for the tariff tests: fixture loading and a tiny CDR builder."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from emsp.timeutil import format_utc, parse_utc
from emsp.wire import loads

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    data = loads((FIXTURES / f"{name}.json").read_text())
    assert isinstance(data, dict)
    return data


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def hours(minutes: float | int | str) -> Decimal:
    """Exact-as-possible hours for a number of minutes (28 significant digits)."""
    return Decimal(str(minutes)) / Decimal(60)


def cdr(start: str, periods: list[tuple[int | float, dict[str, Any]]], end_minutes: float) -> dict[str, Any]:
    """A partial CDR: periods given as (minutes after start, {dimension: volume})."""
    t0 = parse_utc(start)

    def at(minutes: float) -> str:
        return format_utc(t0 + timedelta(minutes=minutes))

    return {
        "start_date_time": format_utc(t0),
        "end_date_time": at(end_minutes),
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": at(offset),
                "dimensions": [{"type": k, "volume": Decimal(str(v))} for k, v in dims.items()],
            }
            for offset, dims in periods
        ],
    }


def utc(text: str) -> datetime:
    return parse_utc(text)
