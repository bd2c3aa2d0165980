"""An interrupted suite reports what ran: suite.csv and junit.xml list every run that ended (with its
verdict) and the one cut short (INTERRUPTED, a JUnit error), none never started; exit 130."""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import suite
from bench.cli import app
from bench.suite import RunResult, RunSpec


def _run_two_then_interrupt(spec: RunSpec) -> RunResult:
    Path(spec.out).mkdir(parents=True)  # every run touches its directory once its input is valid
    if spec.seed == 3:
        raise KeyboardInterrupt  # Ctrl-C (or SIGTERM as one) during the third run
    code = 0 if spec.seed == 1 else 1
    return RunResult(spec, code, "smoke", spec.seed, "", wall_seconds=1.5)


def test_an_interrupted_suite_lists_what_ran_and_marks_the_interrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(suite, "_run_one", _run_two_then_interrupt)
    out = tmp_path / "suite"
    args = ["suite", "smoke", "--seeds", "1-4", "--jobs", "1", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.stderr
    with (out / "suite.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["seed"], r["verdict"]) for r in rows] == [("1", "PASS"), ("2", "FAIL"), ("3", "INTERRUPTED")]
    assert [Path(r["run_dir"]).name for r in rows] == ["smoke-1", "smoke-2", "smoke-3"]  # not smoke-4
    suites = ET.parse(out / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["smoke[seed1]", "smoke[seed2]", "smoke[seed3]"]
    [case] = suites[2].findall("testcase")
    error = case.find("error")
    assert error is not None and "interrupted" in (error.get("message") or "") + (error.text or "")


def test_a_run_interrupted_before_it_started_is_not_listed(tmp_path: Path) -> None:
    specs = [RunSpec("smoke", seed, str(tmp_path / f"smoke-{seed}")) for seed in (1, 2)]
    assert suite.interrupted(specs[0]) is None  # no directory: it never got under way
    (tmp_path / "smoke-2").mkdir()
    cut = suite.interrupted(specs[1])
    assert cut is not None and cut.exit_code == 130 and cut.scenario == "smoke" and cut.seed == 2
