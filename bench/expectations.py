"""Evaluate a scenario's expectations against its summary."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bench.scenario import Expectation, ScenarioError
from bench.scenario_model import BENCH_RESULTS
from bench.summary import known_paths, lookup
from reports import JunitCase, write_junit

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    name: str
    metric: str
    op: str
    expected: str
    actual: str
    passed: bool
    # Live only: why a failure is not graded as the eMSP's (bench/stall_grading.py); "" when it is.
    inconclusive: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The summary's form: `inconclusive` only when set (sim summaries stay as they were)."""
        out = asdict(self)
        if not self.inconclusive:
            del out["inconclusive"]
        return out


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _is_path(value: Any) -> bool:
    return isinstance(value, str) and _number(value) is None


def check_paths(expectations: Sequence[Expectation], skeleton: dict[str, Any], scenario_file: str) -> None:
    """Refuse, before anything runs, an expectation naming a path the summary will not have (exit 2).

    `skeleton` is the summary of this scenario's world with nothing in it: its paths are the ones
    every run of the scenario produces.
    """
    known = known_paths(skeleton)
    for index, exp in enumerate(expectations):
        for what, path in (("metric", exp.metric), ("value", exp.value)):
            if (what == "metric" or _is_path(path)) and str(path) not in known:
                near = sorted(p for p in known if p.split(".")[0] == str(path).split(".")[0])
                hint = f"; known under {str(path).split('.')[0]!r}: {', '.join(near)}" if near else ""
                raise ScenarioError(
                    scenario_file,
                    f"expectations[{index}].{what}",
                    f"expectation {exp.label!r} names {path!r}, which is not a summary path{hint}",
                )


NO_SESSIONS = f"{BENCH_RESULTS} sessions started"


def sessions_check(summary: dict[str, Any]) -> ExpectationResult:
    """Guards every other expectation against passing vacuously (0 == 0) when nothing ran at all."""
    started = summary["sessions"]["started"]
    return ExpectationResult(
        NO_SESSIONS,
        "sessions.started",
        ">",
        "0",
        str(started)
        if started
        else "0 (no session started: set expect_sessions: false if none are expected)",
        started > 0,
    )


def _resolve(summary: dict[str, Any], value: Any) -> Any:
    if _is_path(value):
        return lookup(summary, value)
    return value


def evaluate(expectations: Sequence[Expectation], summary: dict[str, Any]) -> list[ExpectationResult]:
    results = []
    for exp in expectations:
        name = exp.label
        try:
            actual, expected = lookup(summary, exp.metric), _resolve(summary, exp.value)
        except KeyError as missing:
            results.append(
                ExpectationResult(name, exp.metric, exp.op, str(exp.value), f"no metric {missing}", False)
            )
            continue
        a, e = _number(actual), _number(expected)
        passed = (
            OPS[exp.op](a, e) if a is not None and e is not None else OPS[exp.op](str(actual), str(expected))
        )
        results.append(ExpectationResult(name, exp.metric, exp.op, str(expected), str(actual), bool(passed)))
    return results


def write_results_junit(
    path: Path, scenario: str, classname: str, results: Sequence[ExpectationResult]
) -> None:
    """junit.xml of a run: one case per expectation (nothing when the run had none)."""
    if not results:
        return
    cases = [
        JunitCase(
            name=r.name,
            passed=r.passed,
            classname=classname,
            message=f"{r.metric}: expected {r.op} {r.expected}, got {r.actual}"
            + (f" (inconclusive: {r.inconclusive})" if r.inconclusive else ""),
            error=bool(r.inconclusive),  # the check could not be made: not the eMSP's failure
        )
        for r in results
    ]
    write_junit(path, f"emsp-bench.{scenario}", cases)
