"""The `emsp-bench` command line: exit codes are a contract (0 held, 1 failed, 2 invalid input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
runner = CliRunner()


def _small_scenario(tmp_path: Path, expectations: list[dict[str, object]]) -> Path:
    data = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    data["name"] = "small"
    data["duration_minutes"] = 30
    data["demand"] |= {"drivers": 4, "arrivals_per_hour": 6}
    data["expectations"] = expectations
    data["cpos"][0]["tariffs"]["STD"] = str(SCENARIOS / "tariffs" / "standard.json")
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_scenarios_lists_smoke() -> None:
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0
    assert "smoke" in result.stdout


def test_run_exit_0_when_expectations_hold(tmp_path: Path) -> None:
    path = _small_scenario(tmp_path, [{"metric": "reconciliation.missing_cdr", "op": "==", "value": 0}])
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 0, result.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["scenario"] == "small" and summary["runtime"] == "sim"
    # The scenario's one expectation, plus the bench's own check that sessions started at all.
    assert (tmp_path / "run" / "junit.xml").read_text().count("<testcase") == 2


def test_run_exit_1_when_an_expectation_fails(tmp_path: Path) -> None:
    path = _small_scenario(
        tmp_path, [{"name": "impossible", "metric": "sessions.completed", "op": ">", "value": 999}]
    )
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert result.exit_code == 1
    assert "FAIL impossible" in result.stdout
    assert "<failure" in (tmp_path / "run" / "junit.xml").read_text()


def test_run_exit_2_names_file_field_and_reason(tmp_path: Path) -> None:
    path = _small_scenario(tmp_path, [])
    data = yaml.safe_load(path.read_text())
    data["demand"]["drivers"] = -3
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["run", str(path), "--no-progress"])
    assert result.exit_code == 2
    assert str(path) in result.output and "demand.drivers" in result.output


def test_run_exit_2_for_unknown_runtime_and_unknown_scenario() -> None:
    assert runner.invoke(app, ["run", "smoke", "--runtime", "warp"]).exit_code == 2
    result = runner.invoke(app, ["run", "no-such-scenario"])
    assert result.exit_code == 2 and "smoke" in result.output


def test_report_rebuilds_the_page_and_refuses_a_non_run_directory(tmp_path: Path) -> None:
    path = _small_scenario(tmp_path, [])
    assert (
        runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "run"), "--no-progress"]).exit_code == 0
    )
    (tmp_path / "run" / "report.html").unlink()
    result = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert result.exit_code == 0 and (tmp_path / "run" / "report.html").stat().st_size > 0
    assert runner.invoke(app, ["report", str(tmp_path)]).exit_code == 2


def test_run_options_are_validated_before_anything_runs(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for args, option in (
        (["--speed", "0", "--runtime", "live"], "--speed"),
        (["--speed", "nan"], "--speed"),
        (["--speed", "5"], "--speed"),  # live-only: a sim run is not paced, once silently accepted
        (["--speed", "5", "--runtime", "sim"], "--speed"),
        (["--seed", "-1"], "--seed"),
        (["--out", str(a_file)], "--out"),
        (["--database-url", "nonsense"], "--database-url"),
        # A dialect whose driver is not installed: ImportError, once a traceback and exit 1 ("failed").
        (["--database-url", "mysql://user@127.0.0.1:1/x"], "--database-url"),
    ):
        result = runner.invoke(app, ["run", "smoke", "--no-progress", *args])
        assert result.exit_code == 2, (args, result.output)
        assert option in result.output and "Traceback" not in result.output


def test_a_directory_named_like_a_builtin_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "smoke").mkdir()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "smoke", "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output


def test_an_unexpected_error_of_the_bench_exits_3_not_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Exit 1 means "an expectation failed" (the eMSP's fault); a bug outside the runtimes is the bench's.
    import bench.runner

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bench.runner, "run_scenario", broken)
    result = runner.invoke(app, ["run", "smoke", "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 3, result.output
    assert "a fault of the bench" in result.output and "RuntimeError: a bug" in result.output
