"""Evaluate a scenario's expectations against its summary."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bench.scenario import Expectation
from bench.summary import lookup

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


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _resolve(summary: dict[str, Any], value: Any) -> Any:
    if isinstance(value, str) and _number(value) is None:
        return lookup(summary, value)
    return value


def evaluate(expectations: Sequence[Expectation], summary: dict[str, Any]) -> list[ExpectationResult]:
    results = []
    for exp in expectations:
        name = exp.name or f"{exp.metric} {exp.op} {exp.value}"
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
