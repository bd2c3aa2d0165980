"""Output paths a command cannot write are invalid input: exit 2 naming the option, before any run
starts; never a traceback and exit 1 (which CI reads as an expectation failed or a regression)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.suite
import bench.sweep
from bench.cli import app
from bench.cli_paths import dir_problem, file_problem

runner = CliRunner()


def _no_run(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("a run started although its output path cannot be written")


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    a_dir = tmp_path / "adir"
    a_dir.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "report.html").mkdir()  # report must write a file there
    suite_dir = tmp_path / "suite"
    (suite_dir / "junit.xml").mkdir(parents=True)
    # /proc: every permission check passes for root (CI), yet no file can be made there
    return {"file": a_file, "dir": a_dir, "run": run_dir, "suite": suite_dir, "proc": Path("/proc")}


CONFORMANCE_CSMS_16 = [
    "conformance",
    "ocpp",
    "--role",
    "csms",
    "--version",
    "1.6",
    "--target",
    "ws://127.0.0.1:1",
]

# (command line with {file}/{dir}/... placeholders, the option the message must name)
CASES = [
    (["suite", "smoke", "--seeds", "1", "--jobs", "1", "--out", "{file}"], "--out"),
    (["suite", "smoke", "--seeds", "1", "--jobs", "1", "--out", "{file}/sub"], "--out"),
    (["suite", "smoke", "--seeds", "1", "--jobs", "1", "--out", "{suite}"], "--out"),
    (["suite", "smoke", "--seeds", "1", "--jobs", "1", "--out", "{proc}/suite"], "--out"),
    (["sweep", "smoke", "--set", "demand.drivers=10,20", "--seeds", "1", "--out", "{proc}/s"], "--out"),
    (["sweep", "smoke", "--set", "demand.drivers=10,20", "--seeds", "1", "--out", "{file}"], "--out"),
    (["diff", "{run}", "{run}", "--html", "{dir}"], "--html"),
    (["diff", "{run}", "{run}", "--html", "{file}/page.html"], "--html"),
    (["infer-dialect", "{file}", "--out", "{dir}"], "--out"),
    (["report", "{run}"], "RUN_DIR"),
    (
        [
            "conformance",
            "ocpp",
            "--role",
            "csms",
            "--version",
            "1.6",
            "--target",
            "ws://127.0.0.1:1",
            "--junit",
            "{dir}",
        ],
        "--junit",
    ),
    (
        [*CONFORMANCE_CSMS_16, "--junit", "{proc}/junit.xml"],
        "--junit",
    ),
]


@pytest.mark.parametrize(("args", "option"), CASES)
def test_an_unwritable_output_exits_2_naming_the_option(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, args: list[str], option: str
) -> None:
    monkeypatch.setattr(bench.suite, "run_one", _no_run)
    monkeypatch.setattr(bench.sweep, "run_grid", _no_run)
    line = [arg.format(**places) for arg in args]
    result = runner.invoke(app, line)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("kind", "exists", "problem"),
    [
        ("dir", None, None),  # absent: created with its parents
        ("dir", "dir", None),
        ("dir", "file", "is a file, not a directory"),
        ("file", None, None),
        ("file", "file", None),  # overwritten
        ("file", "dir", "is a directory, not a file"),
    ],
)
def test_output_path_problems(tmp_path: Path, kind: str, exists: str | None, problem: str | None) -> None:
    path = tmp_path / "deep" / "out"
    if exists == "dir":
        path.mkdir(parents=True)
    elif exists == "file":
        path.parent.mkdir()
        path.write_text("x")
    check = dir_problem if kind == "dir" else file_problem
    assert check(path) == problem


def test_a_parent_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    for check in (dir_problem, file_problem):
        assert check(tmp_path / "afile" / "a" / "b") == f"{tmp_path / 'afile'} is a file, not a directory"


def test_an_output_file_checked_keeps_its_content(tmp_path: Path) -> None:
    """The check tries to open the file (to append, writing nothing): an earlier run's file stays."""
    path = tmp_path / "junit.xml"
    path.write_text("<testsuites/>")
    assert file_problem(path) is None and path.read_text() == "<testsuites/>"
    assert dir_problem(tmp_path) is None and [p.name for p in tmp_path.iterdir()] == ["junit.xml"]


def test_an_output_that_is_a_named_pipe_is_not_opened_by_the_check(tmp_path: Path) -> None:
    """Opening a FIFO without a reader blocks: the check must not hang before the command runs."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    verdict: list[str | None] = []
    checker = threading.Thread(target=lambda: verdict.append(file_problem(fifo)), daemon=True)
    checker.start()
    checker.join(30)  # not a timing assertion: a hung check never returns at all
    assert verdict == [None]
