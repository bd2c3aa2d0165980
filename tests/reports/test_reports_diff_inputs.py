"""`emsp-bench diff` on figures and files it cannot compare (review F7): invalid input, exit 2,
naming the file and the figure; never a traceback read as exit 1 ("a metric regressed")."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from reports_testdata import RunFactory, make_summary
from typer.testing import CliRunner

from bench.cli import app
from reports.diff import diff_runs

runner = CliRunner()


def _pair(make_run: RunFactory, revenue_b: str, revenue_a: str = "5") -> tuple[Path, Path]:
    a = make_summary()
    a["revenue"] = {"EUR": revenue_a}
    b = copy.deepcopy(a)
    b["revenue"] = {"EUR": revenue_b}
    return make_run("a", summary=a), make_run("b", summary=b)


@pytest.mark.parametrize(
    ("revenue_a", "revenue_b"),
    [("5", "1e999999999"), ("1e999999999", "5"), ("5", "-1e999999999"), ("1e-999999999", "5"), ("5", "NaN")],
)
def test_a_gate_on_a_figure_beyond_range_is_invalid_input(
    make_run: RunFactory, revenue_a: str, revenue_b: str
) -> None:
    run_a, run_b = _pair(make_run, revenue_b, revenue_a)
    args = ["diff", str(run_a), str(run_b), "--metric", "revenue.EUR", "--max-regression", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "revenue.EUR" in result.stderr and "summary.json" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("revenue_b", ["1e999999999", "1e40", "1e-40"])
def test_the_table_shows_a_huge_change_without_a_percentage(make_run: RunFactory, revenue_b: str) -> None:
    run_a, run_b = _pair(make_run, revenue_b)
    (change,) = [f for f in diff_runs(run_a, run_b).figures if f.path == "revenue.EUR"]
    assert (change.a, change.b) == ("5", revenue_b)
    result = runner.invoke(app, ["diff", str(run_a), str(run_b)])
    assert result.exit_code == 0, result.output


def test_a_huge_but_comparable_figure_still_gates(make_run: RunFactory) -> None:
    run_a, run_b = _pair(make_run, "1e40", revenue_a="1e41")
    args = ["diff", str(run_a), str(run_b), "--metric", "revenue.EUR", "--max-regression", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "REGRESSED revenue.EUR" in result.stdout


def test_a_summary_that_is_not_utf8_is_named(make_run: RunFactory) -> None:
    run_a, run_b = _pair(make_run, "6")
    (run_b / "summary.json").write_bytes(b"\xff\xfe{}")
    result = runner.invoke(app, ["diff", str(run_a), str(run_b)])
    assert result.exit_code == 2, result.output
    assert str(run_b / "summary.json") in result.stderr and "UTF-8" in result.stderr
