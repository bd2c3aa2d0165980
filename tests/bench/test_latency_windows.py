"""A partner's p99 against its own first hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bench.latency_windows import first_hour_figures
from simulators.cpo.truth import AuthorizationRecord

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _records(*pairs: tuple[int, str]) -> list[AuthorizationRecord]:
    return [
        AuthorizationRecord(T0 + timedelta(minutes=m), "S", "T", "ALLOWED", Decimal(ms)) for m, ms in pairs
    ]


@pytest.mark.parametrize(
    ("pairs", "baseline", "ratio"),
    [
        ([(5, "100"), (30, "120"), (70, "120"), (100, "110")], "120", "1"),  # later hours no worse
        ([(5, "100"), (30, "120"), (70, "4000")], "120", "33.334"),  # rounded up: never flattering
        ([(70, "100")], "0", "1"),  # nothing in the first hour: no baseline, no claim
        ([], "0", "1"),
    ],
)
def test_ratio_of_the_run_p99_to_the_first_hour(
    pairs: list[tuple[int, str]], baseline: str, ratio: str
) -> None:
    figures = first_hour_figures(_records(*pairs), T0)
    assert figures["p99_first_hour"] == Decimal(baseline)
    assert figures["p99_vs_first_hour"] == Decimal(ratio)
