"""`emsp-bench dialects` and dialect profiles given by path (`cpos[].dialect: ./my-partner.yaml`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from simulators.dialects.profile import DialectProfile, knob_names, load_profile, profile_names

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
runner = CliRunner()


def test_dialects_lists_every_builtin_with_its_description() -> None:
    result = runner.invoke(app, ["dialects"])
    assert result.exit_code == 0
    for name in profile_names():
        assert name in result.output
        assert load_profile(name).description[:30] in result.output


def test_dialects_name_prints_the_knobs_that_differ_from_spec_strict() -> None:
    result = runner.invoke(app, ["dialects", "legacy-2.1.1"])
    assert result.exit_code == 0
    assert "authorization_header" in result.output and "plain" in result.output
    assert "cdr_embeds_tariffs" not in result.output  # left at spec-strict's value
    every = runner.invoke(app, ["dialects", "spec-strict", "--all"])
    assert every.exit_code == 0 and all(knob in every.output for knob in knob_names())


def test_dialects_unknown_or_invalid_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["dialects", "no-such-partner"]).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\npage_cap: 0\n")
    result = runner.invoke(app, ["dialects", str(bad)])
    assert result.exit_code == 2 and "page_cap" in result.output


def _scenario(tmp_path: Path, dialect: str) -> Path:
    data = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    data["name"] = "by-path"
    data["duration_minutes"] = 20
    data["demand"] |= {"drivers": 3, "arrivals_per_hour": 6}
    data["expectations"] = []
    data["cpos"][0]["dialect"] = dialect
    data["cpos"][0]["tariffs"]["STD"] = str(SCENARIOS / "tariffs" / "standard.json")
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_profile_by_path_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "partners").mkdir()
    (tmp_path / "partners" / "mine.yaml").write_text("description: my partner\nsession_updates: none\n")
    path = _scenario(tmp_path, "./partners/mine.yaml")
    result = runner.invoke(app, ["run", str(path), "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert '"PATCH"' not in (tmp_path / "run" / "trace.jsonl").read_text()
    assert load_profile("./partners/mine.yaml", tmp_path).name == "mine"  # named after its file


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        ("session_updates: sometimes\n", "session_updates", "Input should be"),
        ("duplicate_cdrs: 1.5\n", "duplicate_cdrs", "less than or equal to 1"),
        ("duplicate_cdrs: .nan\n", "duplicate_cdrs", "finite number"),  # was "less than or equal to 1"
        ("duplicate_cdrs: -.inf\n", "duplicate_cdrs", "finite number"),
        ("no_such_knob: 1\n", "no_such_knob", "Extra inputs are not permitted"),
        ("- a list\n", "(file)", "mapping"),
    ],
)
def test_an_invalid_profile_file_exits_2_naming_file_field_and_reason(
    tmp_path: Path, content: str, field: str, reason: str
) -> None:
    (tmp_path / "partner.yaml").write_text(content)
    path = _scenario(tmp_path, "./partner.yaml")
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(path), "--no-progress", "--out", str(out)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "partner.yaml" in text and field in text and reason in text, text
    assert not out.exists()  # validated before the run directory is touched


def test_a_missing_profile_file_exits_2(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "./nowhere.yaml")
    result = runner.invoke(app, ["run", str(path), "--no-progress", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "nowhere.yaml" in result.output and "cpos[0].dialect" in result.output


def test_every_default_is_spec_strict() -> None:
    assert load_profile("spec-strict").non_default() == {}
    assert DialectProfile(name="x").non_default() == {}
