"""What a suite or a sweep owns in its `--out`, and clearing what an earlier invocation left there.

`run` removes its own file names from a run directory before it starts (bench.runner.RUN_FILES), so
no result of an earlier run survives beside the new ones. A suite or sweep does the same one level
up, so a CI collecting `**/junit.xml` never picks up a run this invocation did not make: its table
files, and the run directories it owns: a sweep every one under its own `runs/`; a suite those its
previous suite.csv lists and those it is about to write (its --out may also hold runs made by hand,
which are not its to remove). Only names the bench writes are removed; a directory is removed only
when that leaves it empty, so a user's own files stay.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from bench.runner import RUN_FILES
from bench.scenario import ScenarioError

SUITE_FILES = ("suite.csv", "junit.xml")
SWEEP_FILES = ("sweep.csv", "sweep.parquet", "fits.csv", "sweep.html")
SWEEP_PLOTS = "plot_*__*.png"  # reports.sweep names a plot plot_<metric>__<parameter>.png
SWEEP_RUNS = "runs"


def _clear_run_dir(run_dir: Path) -> None:
    """A run directory loses the files a run writes, then itself if nothing else is left."""
    if not run_dir.is_dir() or run_dir.is_symlink():
        return
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    if not any(run_dir.iterdir()):
        run_dir.rmdir()


def _clear(out: Path, files: Iterable[Path], run_dirs: Iterable[Path]) -> None:
    try:
        for path in files:
            path.unlink(missing_ok=True)
        for run_dir in run_dirs:
            _clear_run_dir(run_dir)
    except OSError as exc:
        raise ScenarioError(str(out), "--out", f"cannot clear what an earlier run left: {exc}") from exc


def _listed_run_dirs(out: Path) -> list[Path]:
    """The run directories the previous suite.csv in `out` names (always children of `out`)."""
    try:
        with (out / "suite.csv").open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    names = {Path(row.get("run_dir") or "").name for row in rows}
    return [out / name for name in sorted(names) if name not in ("", ".", "..")]


def clear_suite_dir(out: Path, planned: Iterable[Path]) -> None:
    """Before a suite runs: its suite.csv and junit.xml, the run directories the previous suite.csv
    lists and the ones this suite will write."""
    run_dirs = [*_listed_run_dirs(out), *planned]
    _clear(out, (out / name for name in SUITE_FILES), run_dirs)


def clear_sweep_dir(out: Path) -> None:
    """Before a sweep runs: its tables, page and plots, and every run directory under runs/."""
    plots = sorted(out.glob(SWEEP_PLOTS)) if out.is_dir() else []
    runs = out / SWEEP_RUNS
    run_dirs = sorted(runs.iterdir()) if runs.is_dir() else []
    _clear(out, [*(out / name for name in SWEEP_FILES), *plots], run_dirs)
    if runs.is_dir() and not any(runs.iterdir()):
        runs.rmdir()
