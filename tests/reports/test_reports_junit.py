from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from reports_testdata import make_summary

from reports import JunitCase, cases_from_expectations, write_junit


def _parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def test_counts_and_failure_messages(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    cases = [
        JunitCase("ok", True),
        JunitCase('bad <one> & "quoted"', False, message="expected 1 < 2", classname="scenario.smoke"),
        JunitCase("bad two", False),
    ]
    write_junit(path, "smoke", cases)
    root = _parse(path)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures"), suite.get("errors")) == (
        "smoke",
        "3",
        "2",
        "0",
    )
    testcases = suite.findall("testcase")
    assert [c.get("name") for c in testcases] == ["ok", 'bad <one> & "quoted"', "bad two"]
    assert testcases[0].find("failure") is None and testcases[0].get("classname") == "smoke"
    failure = testcases[1].find("failure")
    assert (
        failure is not None
        and failure.get("message") == "expected 1 < 2"
        and failure.text == "expected 1 < 2"
    )
    assert testcases[1].get("classname") == "scenario.smoke"
    assert testcases[2].find("failure") is not None


def test_deterministic_and_no_timestamp(tmp_path: Path) -> None:
    cases = [JunitCase("a", False, "m")]
    write_junit(tmp_path / "1.xml", "s", cases)
    write_junit(tmp_path / "2.xml", "s", cases)
    data = (tmp_path / "1.xml").read_bytes()
    assert data == (tmp_path / "2.xml").read_bytes()
    assert b"timestamp" not in data and b"hostname" not in data
    assert data.startswith(b"<?xml")


def test_empty_suite(tmp_path: Path) -> None:
    write_junit(tmp_path / "j.xml", "empty", [])
    suite = _parse(tmp_path / "j.xml").find("testsuite")
    assert suite is not None and suite.get("tests") == "0" and suite.get("failures") == "0"


def test_cases_from_expectations(tmp_path: Path) -> None:
    cases = cases_from_expectations(make_summary())
    assert [(c.name, c.passed) for c in cases] == [("all sessions matched", False), ("p95 latency", True)]
    assert cases[0].message == "reconciliation.matched == 4 failed: actual 2"
    assert cases[0].classname == "scenario.smoke"
    write_junit(tmp_path / "j.xml", "smoke", cases)
    suite = _parse(tmp_path / "j.xml").find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("name\x01", "name\\x01"),
        ("\x00nul", "\\x00nul"),
        ("bell\x07 and esc\x1b", "bell\\x07 and esc\\x1b"),
        ("vt\x0b ff\x0c", "vt\\x0b ff\\x0c"),
        ("non-character \ufffe", "non-character \\ufffe"),
        ("lone surrogate \ud800", "lone surrogate \\ud800"),
        ('<script>& "q" ]]>', '<script>& "q" ]]>'),  # escaped by the writer, kept as they are
        ("tab\tand é ✓", "tab\tand é ✓"),
    ],
)
def test_characters_xml_cannot_hold_are_shown_escaped(tmp_path: Path, text: str, shown: str) -> None:
    # A CI's JUnit parser drops a file that is not well-formed, and with it every result of the run.
    path = tmp_path / "junit.xml"
    cases = [
        JunitCase(text, False, message=f"got {text}", classname=text),
        JunitCase(text, True, message=text),
    ]
    write_junit(path, text, cases)
    root = _parse(path)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == shown
    failed, passed = suite.findall("testcase")
    assert (failed.get("name"), failed.get("classname")) == (shown, shown)
    failure = failed.find("failure")
    assert failure is not None and failure.get("message") == f"got {shown}" and failure.text == f"got {shown}"
    out = passed.find("system-out")
    assert out is not None and out.text == shown
