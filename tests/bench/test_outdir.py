"""suite and sweep leave nothing of an earlier invocation in their --out (as `run` does in its run
directory): a CI collecting **/junit.xml must not report runs that did not happen."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.suite
import bench.sweep
from bench.cli import app
from bench.outdir import clear_suite_dir, clear_sweep_dir
from bench.suite import RunResult, RunSpec

runner = CliRunner()


def _run_dir(path: Path, *extra: str) -> Path:
    path.mkdir(parents=True)
    for name in ("summary.json", "junit.xml", "log.jsonl", *extra):
        (path / name).write_text("{}")
    return path


def _faulted(specs: Sequence[RunSpec], *args: object, **kwargs: object) -> list[RunResult]:
    # Every run a quick bench fault: what is under test is the directory, not the runs.
    return [RunResult(spec, 3, "tiny", spec.seed, "bench fault: test") for spec in specs]


def test_a_suite_clears_the_runs_its_previous_table_lists_and_keeps_others(tmp_path: Path) -> None:
    old = _run_dir(tmp_path / "tiny-1")
    mine = _run_dir(tmp_path / "by-hand-7", "notes.txt")
    untouched = _run_dir(tmp_path / "smoke-1")  # a run made by hand with --out here
    (tmp_path / "suite.csv").write_text(f"scenario,seed,run_dir\ntiny,1,{old}\nx,7,{mine}\n")
    (tmp_path / "junit.xml").write_text("<testsuites/>")
    clear_suite_dir(tmp_path, [tmp_path / "tiny-3"])
    assert not old.exists() and not (tmp_path / "suite.csv").exists()
    assert not (tmp_path / "junit.xml").exists()
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]  # not a file the bench writes
    assert (untouched / "summary.json").exists()


def test_a_sweep_clears_its_tables_plots_and_every_run(tmp_path: Path) -> None:
    for name in ("sweep.csv", "fits.csv", "sweep.html", "sweep.parquet", "plot_a__settle_minutes.png"):
        (tmp_path / name).write_text("x")
    (tmp_path / "mine.png").write_text("x")
    _run_dir(tmp_path / "runs" / "p1-seed1")
    clear_sweep_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]


@pytest.mark.parametrize(
    ("command", "stale"),
    [
        (["suite", "smoke", "--seeds", "3"], ["smoke-1/junit.xml", "smoke-2/junit.xml"]),
        (["sweep", "smoke", "--seeds", "3", "--set", "demand.drivers=4", "--metric", "sessions.completed"],
         ["runs/p1-seed1/junit.xml", "plot_sessions_completed__settle_minutes.png"]),
    ],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_a_second_invocation_into_one_out_leaves_nothing_of_the_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str], stale: list[str]
) -> None:
    monkeypatch.setattr(bench.suite, "run_local", _faulted)
    monkeypatch.setattr(bench.sweep, "run_grid", _faulted)
    for name in stale:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("<testsuite/>")
    rows = "".join(f"smoke,{n},PASS,{tmp_path / f'smoke-{n}'}\n" for n in (1, 2))
    (tmp_path / "suite.csv").write_text("scenario,seed,verdict,run_dir\n" + rows)
    result = runner.invoke(app, [*command, "--no-progress", "--jobs", "1", "--out", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert not [name for name in stale if (tmp_path / name).exists()]
