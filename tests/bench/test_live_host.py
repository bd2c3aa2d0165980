"""A live run's `ports.host` that this machine cannot listen on is invalid input (exit 2 naming
ports.host), found before the run directory is touched, not a bench fault mid-run (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("203.0.113.5", "Cannot assign requested address"),  # TEST-NET-3: an address of no machine here
        ("not a host name!", "cannot listen on 'not a host name!'"),
    ],
)
def test_a_host_that_cannot_be_listened_on_is_exit_2_and_the_earlier_run_stays(
    tmp_path: Path, host: str, reason: str
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier run's
    args = ["run", "smoke", "--runtime", "live", "--set", f"ports.host={host}", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "ports.host: " in result.stderr and reason in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]
