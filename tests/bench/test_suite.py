"""`emsp-bench suite`: discovery, seeds, the worst exit code, one JUnit and one table for the lot."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import bench.runner
from bench.cli import app
from bench.scenario import BUILTIN_DIR, ScenarioError
from bench.suite import RunResult, RunSpec, discover, junit_suites, parse_seeds, run_one, table_rows, worst
from reports.tables import is_good

runner = CliRunner()


def _tiny(directory: Path, file: str, name: str, extra: list[dict[str, object]] | None = None) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "smoke.yaml").read_text())
    data["name"] = name
    data["duration_minutes"] = 30
    data["demand"] |= {"drivers": 4, "arrivals_per_hour": 6}
    data["cpos"][0]["tariffs"]["STD"] = str(BUILTIN_DIR / "tariffs" / "standard.json")
    data["expectations"] = [{"name": "no missing CDR", "metric": "reconciliation.missing_cdr", "value": 0}]
    data["expectations"] += extra or []
    directory.mkdir(parents=True, exist_ok=True)
    (directory / file).write_text(yaml.safe_dump(data))
    return directory / file


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("7", [7]), ("1-3", [1, 2, 3]), ("1,5,9-10", [1, 5, 9, 10]), ("3,1-2,2", [1, 2, 3]), (" 4 ", [4])],
)
def test_seeds_parse(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "reason"),
    [("3-1", "runs backwards"), ("a", "expected seeds"), ("-1", "expected seeds"), ("1-", "expected seeds"),
     ("0-99999", "more than 10000 seeds"), ("", "expected seeds")],
)  # fmt: skip
def test_bad_seeds_name_the_option(text: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_seeds(text, "--seeds")
    assert caught.value.field == "--seeds" and reason in caught.value.reason


def test_a_directory_yields_its_scenarios_not_other_yaml() -> None:
    found = discover([str(BUILTIN_DIR)])
    assert [p.name for p in found] == sorted(p.name for p in BUILTIN_DIR.glob("*.yaml"))
    assert all(p.parent.name != "profiles" for p in found)


def test_names_files_and_directories_mix_and_count_once(tmp_path: Path) -> None:
    tiny = _tiny(tmp_path, "tiny.yaml", "tiny")
    found = discover(["smoke", str(tiny), str(tmp_path)])
    assert found == [BUILTIN_DIR / "smoke.yaml", tiny.resolve()]
    with pytest.raises(ScenarioError, match="no such file"):
        discover([str(tmp_path / "nope.yaml")])


@pytest.mark.parametrize(("codes", "code"), [([], 0), ([0, 0], 0), ([0, 1], 1), ([1, 3, 2], 3), ([2, 1], 2)])
def test_the_suite_exits_by_its_worst_run(codes: list[int], code: int) -> None:
    assert worst(codes) == code


def test_a_crash_of_the_bench_is_a_fault_and_an_error_in_junit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise KeyError("station")

    monkeypatch.setattr(bench.runner, "run_scenario", crash)
    result = run_one(RunSpec("smoke", 3, str(tmp_path / "run")))
    assert (result.exit_code, result.scenario, result.seed) == (3, "smoke", 3)
    assert result.message.startswith("bench fault: KeyError")
    [(suite, [case])] = junit_suites([result])
    assert suite == "smoke[seed3]" and case.error and "KeyError" in case.message


def test_a_faulted_run_is_listed_by_its_scenario_name_as_every_other_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A CI dashboard keys on the name: a run without a summary must not appear under its file stem.
    def crash(*args: object, **kwargs: object) -> None:
        raise KeyError("station")

    monkeypatch.setattr(bench.runner, "run_scenario", crash)
    _tiny(tmp_path / "lib", "b.yaml", "farstart")
    out = tmp_path / "out"
    args = ["suite", str(tmp_path / "lib"), "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    with (out / "suite.csv").open() as handle:
        assert [(r["scenario"], r["verdict"]) for r in csv.DictReader(handle)] == [("farstart", "FAULT")]
    root = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name") for s in root.iter("testsuite")] == ["farstart[seed1]"]


def test_an_inconclusive_run_is_an_error_in_junit_saying_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bench.expectations import ExpectationResult

    def lagging(*args: object, out: Path, **kwargs: object) -> bench.runner.RunOutcome:
        summary = {"scenario": "smoke", "seed": 3, "timing": {"valid": False, "note": "fell 9 s behind"}}
        failed = ExpectationResult("no missing CDR", "reconciliation.missing_cdr", "==", "0", "1", False)
        return bench.runner.RunOutcome(out, summary, [failed], {}, world=None, timing_valid=False)  # type: ignore[arg-type]

    monkeypatch.setattr(bench.runner, "run_scenario", lagging)
    result = run_one(RunSpec("smoke", 3, str(tmp_path / "run")))
    assert (result.exit_code, result.message) == (3, "timing not valid: fell 9 s behind")
    [(_suite, [case])] = junit_suites([result])
    assert case.error and case.message == "timing not valid: fell 9 s behind"


def test_an_invalid_scenario_stops_the_suite_before_any_run(tmp_path: Path) -> None:
    _tiny(tmp_path / "lib", "a.yaml", "a")
    bad = _tiny(tmp_path / "lib", "b.yaml", "b")
    bad.write_text(bad.read_text().replace("drivers: 4", "drivers: -4"))
    result = runner.invoke(app, ["suite", str(tmp_path / "lib"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "b.yaml: demand.drivers:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_yaml_file_that_does_not_parse_stops_the_suite_naming_it(tmp_path: Path) -> None:
    # Not silently skipped: it may be a scenario with a typo, and CI must not lose it unnoticed.
    _tiny(tmp_path / "lib", "a.yaml", "a")
    (tmp_path / "lib" / "typo.yaml").write_text("{not yaml: [")
    result = runner.invoke(app, ["suite", str(tmp_path / "lib"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "typo.yaml" in result.stderr and "not valid YAML" in result.stderr
    assert not (tmp_path / "out").exists()


def test_two_scenarios_of_one_name_are_refused(tmp_path: Path) -> None:
    _tiny(tmp_path, "a.yaml", "same")
    _tiny(tmp_path, "b.yaml", "same")
    result = runner.invoke(app, ["suite", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "'same' is also the name of" in result.stderr


@pytest.mark.slow
def test_a_suite_runs_in_processes_with_one_junit_and_one_table(tmp_path: Path) -> None:
    _tiny(tmp_path / "lib", "good.yaml", "good")
    impossible = {"name": "impossible", "metric": "sessions.completed", "op": ">", "value": 999}
    _tiny(tmp_path / "lib", "bad.yaml", "bad", [impossible])
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["suite", str(tmp_path / "lib"), "--seeds", "1-2", "--jobs", "2", "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    with (out / "suite.csv").open() as handle:
        rows = [(r["scenario"], r["seed"], r["verdict"], r["failed"]) for r in csv.DictReader(handle)]
    assert rows == [("bad", "1", "FAIL", "impossible"), ("bad", "2", "FAIL", "impossible"),
                    ("good", "1", "PASS", "-"), ("good", "2", "PASS", "-")]  # fmt: skip
    root = ET.parse(out / "junit.xml").getroot()
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "bad[seed1]",
        "bad[seed2]",
        "good[seed1]",
        "good[seed2]",
    ]
    failed = [
        (c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None
    ]
    assert failed == [("bad.seed1", "impossible"), ("bad.seed2", "impossible")]
    assert (out / "good-2" / "summary.json").is_file()
    # Two seeds of one scenario, compared: the figures that differ are named, a gate can fail.
    seeds = runner.invoke(
        app, ["diff", str(out / "good-1"), str(out / "good-2"), "--html", str(out / "d.html")]
    )
    assert seeds.exit_code == 0, seeds.output
    rows = [line.split()[:2] for line in seeds.stdout.splitlines()]
    assert ["run", "seed"] in rows and ["scenario", "seed"] in rows  # the summary's and scenario.json's
    s1 = json.loads((out / "good-1" / "summary.json").read_text())
    s2 = json.loads((out / "good-2" / "summary.json").read_text())
    if s1["energy_kwh"]["truth"] != s2["energy_kwh"]["truth"]:
        assert ["run", "energy_kwh.truth"] in rows
    gate = runner.invoke(app, ["diff", str(out / "good-1"), str(out / "good-1"), "--metric", "cdrs"])
    assert gate.exit_code == 0 and "ok cdrs" in gate.stdout


def test_the_tables_mismatched_counts_only_mismatches_as_the_report_does() -> None:
    """Drivers an outage turned away, a driver the station turned away, a clone caught: expected, so a
    green outage run showed 'mismatched 8' (review9 M7). The report's Mismatched sessions agree."""
    expected = {
        "matched": 40,
        "refused": 2,
        "refused_unreachable": 5,
        "refused_at_station": 3,
        "fraud_caught": 1,
    }
    wrong = {"wrongly_refused": 1, "missing_cdr": 2, "fraud_missed": 4}
    summary = {
        "sessions": {"started": 50},
        "reconciliation": expected | wrong,
        "authorizations": {"latency_ms": {"p99": "12.000"}},
        "energy_kwh": {"invoiced": "100"},
    }
    result = RunResult(RunSpec("hub-outage", 101, "out"), 0, "hub-outage", 101, summary=summary)
    [row] = table_rows([result])
    assert row[4] == sum(wrong.values())
    assert all(is_good(k) for k in expected) and not any(is_good(k) for k in wrong)
