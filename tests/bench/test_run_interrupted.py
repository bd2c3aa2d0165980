"""Ctrl-C (KeyboardInterrupt) late in a run: no file stating a result is left behind (DESIGN: 130,
no stale file); what the run recorded until then (trace, log) stays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bench.runner as runner
from bench.overrides import parse_set
from bench.runner import run_scenario

RECORDS = ["log.jsonl", "trace.jsonl"]


def _interrupt(*_args: Any, **_kwargs: Any) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("writer", "report"),
    [
        ("write_reconciliation", False),  # after summary.json, scenario.json, metrics, performance
        ("write_results_junit", False),  # summary.json and the csv files are there
        ("write_report", True),  # junit.xml (all PASS) is there: the case a CI would misread
    ],
)
def test_interrupt_while_writing_results_leaves_no_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str, report: bool
) -> None:
    monkeypatch.setattr(runner, writer, _interrupt)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_scenario("smoke", out=out, report=report, overrides=[parse_set("duration_minutes=20")])
    assert sorted(p.name for p in out.iterdir()) == RECORDS


def test_uninterrupted_run_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_scenario("smoke", out=out, report=False, overrides=[parse_set("duration_minutes=20")])
    assert {"summary.json", "junit.xml", "reconciliation.csv", *RECORDS} <= {p.name for p in out.iterdir()}


def test_ctrl_c_while_importing_the_cli_is_one_line_and_130() -> None:
    # The entry point guards the CLI's import; simulate the interrupt inside that import.
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def imp(name, *a, **k):\n"
        "    if name == 'bench.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "from bench.cli_main import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")
