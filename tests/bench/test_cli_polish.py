"""CLI polish: --version, -h, defaults in help, plain non-wrapping output off a terminal or in CI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.cli_output import RunProgress, fancy, in_ci, plain_table

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"emsp-bench {version('emsp-bench')}"


@pytest.mark.parametrize("command", [[], ["run"], ["suite"], ["sweep"], ["diff"], ["tariff"], ["serve"]])
def test_dash_h_is_help_everywhere(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "-h"])
    assert result.exit_code == 0 and "Usage:" in result.stdout


@pytest.mark.parametrize(
    ("command", "default"),
    [(["run"], "[default: sim]"), (["suite"], "[default: runs/suite]"), (["sweep"], "[default: 1-3]")],
)
def test_help_shows_defaults(command: list[str], default: str) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert default in result.stdout


def test_plain_tables_align_and_never_wrap() -> None:
    long = "x" * 300
    text = plain_table("title", ("a", "bb"), [(1, long), ("three", "")])
    assert text.splitlines() == ["title", "a      bb", f"1      {long}", "three"]


@pytest.mark.parametrize(
    ("ci", "tty", "expected"),
    [("", True, True), ("true", True, False), ("", False, False), ("1", False, False)],
)
def test_rich_output_only_on_a_terminal_outside_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, tty: bool, expected: bool
) -> None:
    monkeypatch.setenv("CI", ci)

    class Stream:
        def isatty(self) -> bool:
            return tty

    assert in_ci() is (ci != "")
    assert fancy(Stream()) is expected


def test_progress_shows_the_scenario_time_reached() -> None:
    seen: list[tuple[float, str]] = []
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    progress = RunProgress(lambda done, at: seen.append((done, at)), start, timedelta(hours=1))
    progress(0.5)
    progress.span_known(start, start + timedelta(hours=4))  # the runner's real horizon
    progress(0.5)
    progress(1.5)  # clamped
    assert seen == [(0.5, "Mon 07:30 UTC"), (0.5, "Mon 09:00 UTC"), (1.5, "Mon 11:00 UTC")]
