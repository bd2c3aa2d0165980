"""`emsp-bench diff`: changed figures by section, expectations, and the regression gates (exit 1)."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
from reports_testdata import RunFactory, make_summary
from typer.testing import CliRunner

from bench.cli import app
from reports.diff import diff_runs, parse_gate

runner = CliRunner()


def _pair(make_run: RunFactory) -> tuple[Path, Path]:
    a = make_summary()
    a["partners"] = {"cpo-a": {"sessions": {"started": 4}, "authorizations": {"latency_ms": {"p99": 90}}}}
    b = copy.deepcopy(a)
    b["seed"] = 8
    b["authorizations"]["latency_ms"]["p99"] = 101.42  # +10%
    b["reconciliation"]["missing_cdr"] = 0
    b["reconciliation"]["matched"] = 3
    b["partners"]["cpo-a"]["sessions"]["started"] = 5
    b["expectations"][0] |= {"actual": "3"}
    return make_run("a", summary=a), make_run("b", summary=b)


def test_the_diff_names_what_changed_by_section(make_run: RunFactory) -> None:
    run_a, run_b = _pair(make_run)
    diff = diff_runs(run_a, run_b)
    changed = {(c.section, c.path): (c.a, c.b, c.pct) for c in diff.figures}
    assert changed == {
        ("run", "seed"): ("7", "8", Decimal("14.29")),
        ("run", "authorizations.latency_ms.p99"): ("92.2", "101.42", Decimal("10.00")),
        ("reconciliation", "reconciliation.matched"): ("2", "3", Decimal("50.00")),
        ("reconciliation", "reconciliation.missing_cdr"): ("1", "0", Decimal("-100.00")),
        ("partner cpo-a", "partners.cpo-a.sessions.started"): ("4", "5", Decimal("25.00")),
    }
    assert [(e.name, e.a, e.b) for e in diff.expectations] == [
        ("all sessions matched", "FAIL (got 2)", "FAIL (got 3)")
    ]


@pytest.mark.parametrize(
    ("spec", "up_is_worse"),
    [
        ("authorizations.latency_ms.p99", True),
        ("partners.cpo-b.authorizations.latency_ms.p95", True),
        ("reconciliation.missing_cdr", True),
        ("partners.cpo-a.reconciliation.price_mismatch", True),
        ("authorizations.rejected", True),
        ("reconciliation.matched", False),
        ("reconciliation.refused_unreachable", True),  # expected in an outage, yet fewer is better
        ("partners.cpo-a.reconciliation.refused_at_station", True),  # drivers turned away
        ("partners.cpo-a.reconciliation.fraud_caught", False),  # more clones caught is better
        ("sessions.completed", False),
        ("revenue.EUR", False),
        ("sessions.completed:up", True),
        ("authorizations.latency_ms.p99:down", False),
    ],
)
def test_the_bad_direction_of_a_metric(spec: str, up_is_worse: bool) -> None:
    assert parse_gate(spec, Decimal(0)).up_is_worse is up_is_worse


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (
            ["--metric", "authorizations.latency_ms.p99", "--max-regression", "5"],
            1,
            "REGRESSED authorizations",
        ),
        (["--metric", "authorizations.latency_ms.p99", "--max-regression", "10.5"], 0, "ok authorizations"),
        (["--metric", "reconciliation.missing_cdr"], 0, "ok reconciliation.missing_cdr: 1 -> 0 (no worse"),
        (["--metric", "reconciliation.matched:up"], 1, "REGRESSED reconciliation.matched: 2 -> 3"),
        ([], 0, "5 figures changed"),
    ],
)
def test_gates_decide_the_exit_code(make_run: RunFactory, args: list[str], code: int, line: str) -> None:
    run_a, run_b = _pair(make_run)
    result = runner.invoke(app, ["diff", str(run_a), str(run_b), *args])
    assert result.exit_code == code, result.output
    assert line in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--metric", "sessions.nope"], "--metric sessions.nope: no such numeric figure"),
        (["--max-regression", "5"], "give the --metric it applies to"),
        (["--metric", "cdrs", "--max-regression", "x"], "not a number"),
        (["--metric", "cdrs", "--max-regression", "-1"], "a percentage >= 0"),
        (["--metric", "cdrs:sideways"], "'up' or 'down'"),
    ],
)
def test_invalid_gates_exit_2_naming_them(make_run: RunFactory, args: list[str], reason: str) -> None:
    run_a, run_b = _pair(make_run)
    result = runner.invoke(app, ["diff", str(run_a), str(run_b), *args])
    assert result.exit_code == 2 and reason in result.stderr


def test_a_directory_that_is_no_run_is_invalid_input(make_run: RunFactory, tmp_path: Path) -> None:
    run_a, _ = _pair(make_run)
    result = runner.invoke(app, ["diff", str(run_a), str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "not a directory" in result.stderr


def test_the_html_is_one_self_contained_page_with_escaped_values(
    make_run: RunFactory, tmp_path: Path
) -> None:
    run_a, run_b = _pair(make_run)
    page = tmp_path / "out" / "diff.html"
    result = runner.invoke(
        app,
        ["diff", str(run_a), str(run_b), "--metric", "cdrs:up", "--html", str(page)],
        catch_exceptions=False,
    )
    assert result.exit_code == 2  # the synthetic summary has no cdrs: nothing written
    assert not page.exists()
    result = runner.invoke(app, ["diff", str(run_a), str(run_b), "--html", str(page)])
    text = page.read_text()
    assert result.exit_code == 0 and text.startswith("<!DOCTYPE html>")
    assert "partners.cpo-a.sessions.started" in text and "src=" not in text and "href=" not in text
