"""JUnit XML for CI (Jenkins, GitLab, GitHub test reporters): one testsuite, one testcase each.

Deterministic on purpose: no timestamp, hostname or durations, so a `sim` run's junit.xml is as
reproducible as its summary.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Characters XML 1.0 cannot hold even escaped (ElementTree writes them raw, so the file would not
# parse and a CI would drop the whole run's results): shown as `\x01`-style text instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_safe(text: str) -> str:
    return _NOT_XML.sub(_escaped, text)


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
        "testsuites", {"name": xml_safe(name), "tests": str(len(every)), "failures": str(_failures(every))}
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
        "name": xml_safe(suite),
        "tests": str(len(cases)),
        "failures": str(_failures(cases)),
        "errors": str(sum(1 for case in cases if case.error)),
        "skipped": "0",
    }
    suite_el = ET.SubElement(root, "testsuite", attrs)
    for case in cases:
        case_el = ET.SubElement(
            suite_el,
            "testcase",
            {"classname": xml_safe(case.classname or suite), "name": xml_safe(case.name)},
        )
        if case.error or not case.passed:
            # Many CI UIs show only the attribute, others only the text: fill both.
            tag = "error" if case.error else "failure"
            message = xml_safe(case.message) or "failed"
            failure = ET.SubElement(case_el, tag, {"message": message})
            failure.text = message
        elif case.message:
            ET.SubElement(case_el, "system-out").text = xml_safe(case.message)


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
