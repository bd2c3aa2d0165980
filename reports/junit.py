"""JUnit XML for CI (Jenkins, GitLab, GitHub test reporters): one testsuite, one testcase each.

Deterministic on purpose: no timestamp, hostname or durations, so a `sim` run's junit.xml is as
reproducible as its summary.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JunitCase:
    name: str
    passed: bool
    message: str = ""
    classname: str = ""
    # The check could not be made (invalid input, a bench fault): a JUnit <error>, not a <failure>.
    error: bool = False


def junit_xml(suite: str, cases: Sequence[JunitCase]) -> ET.ElementTree:
    return junit_suites_xml(suite, [(suite, cases)])


def junit_suites_xml(name: str, suites: Sequence[tuple[str, Sequence[JunitCase]]]) -> ET.ElementTree:
    """Several testsuites in one file (`emsp-bench suite`: one per scenario x seed)."""
    every = [case for _, cases in suites for case in cases]
    root = ET.Element(
        "testsuites", {"name": name, "tests": str(len(every)), "failures": str(_failures(every))}
    )
    if any(case.error for case in every):
        root.set("errors", str(sum(1 for case in every if case.error)))
    for suite, cases in suites:
        _suite_element(root, suite, cases)
    ET.indent(root)
    return ET.ElementTree(root)


def _failures(cases: Sequence[JunitCase]) -> int:
    return sum(1 for case in cases if not case.passed and not case.error)


def _suite_element(root: ET.Element, suite: str, cases: Sequence[JunitCase]) -> None:
    attrs = {
        "name": suite,
        "tests": str(len(cases)),
        "failures": str(_failures(cases)),
        "errors": str(sum(1 for case in cases if case.error)),
        "skipped": "0",
    }
    suite_el = ET.SubElement(root, "testsuite", attrs)
    for case in cases:
        case_el = ET.SubElement(
            suite_el, "testcase", {"classname": case.classname or suite, "name": case.name}
        )
        if case.error or not case.passed:
            # Many CI UIs show only the attribute, others only the text: fill both.
            tag = "error" if case.error else "failure"
            failure = ET.SubElement(case_el, tag, {"message": case.message or "failed"})
            failure.text = case.message or "failed"
        elif case.message:
            ET.SubElement(case_el, "system-out").text = case.message


def write_junit(path: Path, suite: str, cases: Sequence[JunitCase]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(suite, cases).write(path, encoding="utf-8", xml_declaration=True)


def write_junit_suites(path: Path, name: str, suites: Sequence[tuple[str, Sequence[JunitCase]]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_suites_xml(name, suites).write(path, encoding="utf-8", xml_declaration=True)


def cases_from_expectations(summary: Mapping[str, Any]) -> list[JunitCase]:
    """One case per summary expectation, named after it, grouped under the scenario."""
    scenario = str(summary.get("scenario", ""))
    cases = []
    for exp in summary.get("expectations") or []:
        if not isinstance(exp, Mapping):
            continue
        check = f"{exp.get('metric', '')} {exp.get('op', '')} {exp.get('expected', '')}"
        passed = exp.get("passed") is True
        verdict = "held" if passed else "failed"
        message = f"{check} {verdict}: actual {exp.get('actual', '')}"
        cases.append(
            JunitCase(
                name=str(exp.get("name", "")),
                passed=passed,
                message=message,
                classname=f"scenario.{scenario}" if scenario else "",
            )
        )
    return cases
