"""A live latency expectation missed by less than the machine's stall of the loop is inconclusive (exit 3)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.expectations import ExpectationResult, write_results_junit
from bench.runner import RunOutcome
from bench.stall_grading import grade_stalls

RATIO = "partners.cpo-steady.authorizations.latency_ms.p99_vs_first_hour"
P99 = "authorizations.latency_ms.p99"
SUMMARY: dict[str, Any] = {
    "partners": {"cpo-steady": {"authorizations": {"latency_ms": {"p99_first_hour": "224.600"}}}}
}


def _failed(metric: str, op: str, expected: str, actual: str, passed: bool = False) -> ExpectationResult:
    return ExpectationResult(metric, metric, op, expected, actual, passed)


@pytest.mark.parametrize(
    ("result", "stall_ms", "inconclusive"),
    [
        # The flake seen at load 5-7: 1.208 x 224.6 ms against 1.05 x 224.6 ms is 35.5 ms over.
        (_failed(RATIO, "<=", "1.05", "1.208"), "66.0", True),
        (_failed(RATIO, "<=", "1.05", "1.208"), "30.0", False),  # more than the stall explains
        (_failed(RATIO, "<=", "1.05", "10.118"), "100.0", False),  # held up by seconds: the eMSP's
        (_failed(RATIO, ">=", "0.95", "0.900"), "20.0", True),  # a stall in the first hour
        (_failed(P99, "<=", "250", "271.3"), "66.0", True),
        (_failed(P99, "<", "250", "250"), "0.1", True),
        (_failed(P99, "<=", "250", "271.3"), "0.0", False),  # no stall measured: nothing excused
        (_failed(P99, ">=", "2000", "1990"), "66.0", False),  # a stall never shortens a latency
        (_failed(P99, "==", "250", "251"), "66.0", False),
        (_failed(P99, "<=", "250", "no metric 'x'"), "66.0", False),
        (_failed(P99, "<=", "250", "200", passed=True), "66.0", False),
        # Never a count, money or energy, however small the miss.
        (_failed("sessions.completed", ">=", "10", "9"), "66.0", False),
        (_failed("revenue.EUR", ">=", "10.00", "9.99"), "66.0", False),
        (_failed("energy_kwh.invoiced", "<=", "10.000", "10.001"), "66.0", False),
    ],
)
def test_only_a_latency_missed_by_less_than_the_machines_stall_is_inconclusive(
    result: ExpectationResult, stall_ms: str, inconclusive: bool
) -> None:
    (graded,) = grade_stalls([result], SUMMARY, Decimal(stall_ms))
    assert bool(graded.inconclusive) is inconclusive
    assert graded.passed is result.passed  # a miss stays a miss: only whose it is changes
    if inconclusive:
        assert graded.inconclusive.startswith("bench timing: missed by")
        assert graded.as_dict()["inconclusive"] == graded.inconclusive
    else:
        assert "inconclusive" not in graded.as_dict()  # sim summaries keep their keys


def _outcome(*results: ExpectationResult, timing_valid: bool = True) -> RunOutcome:
    return RunOutcome(Path("."), {}, list(results), {}, None, timing_valid)  # type: ignore[arg-type]


HELD = _failed("sessions.started", ">", "0", "12", passed=True)
STALLED = grade_stalls([_failed(RATIO, "<=", "1.05", "1.208")], SUMMARY, Decimal("66.0"))[0]
COUNT = _failed("sessions.completed", ">=", "10", "9")


@pytest.mark.parametrize(
    ("results", "timing_valid", "exit_code"),
    [
        ((HELD, STALLED), True, 3),  # only the machine's stall failed it: the bench's fault
        ((HELD, STALLED, COUNT), True, 1),  # another failed on its own: graded
        ((HELD, COUNT), True, 1),
        ((HELD, STALLED, COUNT), False, 3),  # timing lost: nothing graded (as before)
        ((HELD,), True, 0),
    ],
)
def test_a_run_whose_only_failures_are_stall_sized_exits_3(
    results: tuple[ExpectationResult, ...], timing_valid: bool, exit_code: int
) -> None:
    outcome = _outcome(*results, timing_valid=timing_valid)
    assert outcome.exit_code == exit_code
    reason = outcome.fault_reason
    assert bool(reason) is (exit_code == 3 and timing_valid)
    if reason:
        assert "\n" not in reason and "inconclusive" in reason and STALLED.name in reason


def test_junit_reports_an_inconclusive_expectation_as_an_error_not_a_failure(tmp_path: Path) -> None:
    results = [HELD, STALLED, COUNT]
    write_results_junit(tmp_path / "junit.xml", "partner-latency", "partner-latency.live", results)
    xml = (tmp_path / "junit.xml").read_text()
    assert xml.count("<error") == 1 and xml.count("<failure") == 1
    assert "inconclusive: bench timing" in xml
