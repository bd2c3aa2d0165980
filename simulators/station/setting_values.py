"""How a station reads and shows the values a CSMS writes into its configuration (OCPP 1.6
ChangeConfiguration, 2.0.1 SetVariables): one reading for both versions. A value it cannot take
raises ValueError, which the version's handler answers as Rejected."""

from __future__ import annotations

from datetime import timedelta

from simulators.station.control import MAX_INTERVAL_S


def setting_int(value: str, low: int = 0) -> int:
    number = int(value)
    if number < low:
        raise ValueError(value)
    return number


def setting_seconds(value: str, low: int = 0) -> int:
    """An interval in seconds: a value past MAX_INTERVAL_S is Rejected (the times it schedules would
    leave the datetime range: an OverflowError mid-run, a bench fault, for a CSMS's odd value)."""
    number = setting_int(value, low)
    if number > MAX_INTERVAL_S:
        raise ValueError(value)
    return number


def setting_bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value.lower() == "true"


def seconds_text(interval: timedelta | None) -> str:
    return str(int(interval.total_seconds())) if interval is not None else "0"
