"""The pytest plugin: scenario files as items (scenario x seed), graded by their expectations.

Most tests stub the runner (conftest in the pytester dir) so that they test the plugin, not the
simulation; one slow end-to-end test runs real scenarios under xdist with JUnit.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

import bench.runner  # noqa: F401  # imported once here: pytester's in-process runs cannot re-import numpy

pytest_plugins = ["pytester"]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

# Replaces bench.runner.run_scenario for the run: scenario names decide the outcome.
STUB_CONFTEST = """
from pathlib import Path
import bench.runner
from bench.expectations import ExpectationResult
from bench.runtime.faults import SimRuntimeError

_real = bench.runner.run_scenario


STALL = "bench timing: missed by 40.0 ms, no more than the machine stalled the bench's event loop"


def _stub(path, *, runtime, seed, out, progress=None):
    name = Path(path).stem
    if name.startswith("fault"):
        raise SimRuntimeError("station CS-1 raised KeyError in on_frame")
    broken = (name.startswith("broken") and seed == 2) or name.startswith("lagging")
    results = [
        ExpectationResult("every session reconciles", "reconciliation.matched", "==", "4", "4", True),
        ExpectationResult("no missing CDR", "reconciliation.missing_cdr", "==", "0",
                          "1" if broken else "0", not broken),
    ]
    if name.startswith("stalled"):
        results.append(ExpectationResult("fast answers", "authorizations.latency_ms.p99", "<", "200",
                                         "240", False, inconclusive=STALL))
    lagging = name.startswith("lagging")
    summary = {"timing": {"valid": False, "note": "the runtime fell 9 s behind its clock"}} if lagging else {}
    return bench.runner.RunOutcome(out, summary, results, {}, world=None, timing_valid=not lagging)


def pytest_configure(config):
    bench.runner.run_scenario = _stub


def pytest_unconfigure(config):
    bench.runner.run_scenario = _real
"""


def _scenario(directory: Path, file: str, name: str, *, tags: list[str] | None = None) -> Path:
    data = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    data["name"] = name
    data["duration_minutes"] = 30
    data["demand"] |= {"drivers": 4, "arrivals_per_hour": 6}
    data["cpos"][0]["tariffs"]["STD"] = str(SCENARIOS / "tariffs" / "standard.json")
    data["tags"] = tags or []  # the built-in's own tags (smoke is `quick`) must not leak into these
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def stubbed(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(STUB_CONFTEST)
    return pytester


def test_collects_every_scenario_under_a_given_path_times_each_seed(pytester: pytest.Pytester) -> None:
    lib = pytester.path / "lib"
    _scenario(lib, "alpha.yaml", "alpha")
    _scenario(lib / "more", "beta.yml", "beta")
    (lib / "profile.yaml").write_text("quirks: {a: 1}\n")  # YAML, but not a scenario
    result = pytester.runpytest_inprocess("--co", "-q", "--emsp-seeds", "1-3", "lib")
    collected = sorted(line for line in result.outlines if "::" in line)
    assert collected == sorted(
        [f"lib/alpha.yaml::alpha[seed{s}]" for s in (1, 2, 3)]
        + [f"lib/more/beta.yml::beta[seed{s}]" for s in (1, 2, 3)]
    )


def test_a_yaml_file_that_does_not_parse_is_an_error_not_silently_left_out(pytester: pytest.Pytester) -> None:
    # It may be a scenario with a typo: leaving it out would drop it from CI without a word.
    lib = pytester.path / "lib"
    _scenario(lib, "alpha.yaml", "alpha")
    (lib / "broken.yaml").write_text("{not yaml: [")
    result = pytester.runpytest_inprocess("--co", "-q", "lib")
    assert result.ret != 0
    errors = "\n".join(result.outlines)
    assert "lib/broken.yaml" in errors and "invalid scenario" in errors


def test_without_seeds_each_scenario_runs_its_own_seed(pytester: pytest.Pytester) -> None:
    _scenario(pytester.path, "alpha.yaml", "alpha")  # smoke's seed: 7
    result = pytester.runpytest_inprocess("--co", "-q", "alpha.yaml")
    assert "alpha.yaml::alpha[seed7]" in result.outlines


def test_outside_the_given_paths_only_the_glob_collects(pytester: pytest.Pytester) -> None:
    # No path on the command line: testpaths applies, and a scenario there must match the glob.
    pytester.makeini("[pytest]\ntestpaths = suite\n")
    _scenario(pytester.path / "suite", "scenario_one.yaml", "one")
    _scenario(pytester.path / "suite", "two.yaml", "two")
    result = pytester.runpytest_inprocess("--co", "-q")
    collected = [line for line in result.outlines if "::" in line]
    assert collected == ["suite/scenario_one.yaml::one[seed7]"]


def test_the_glob_is_configurable(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntestpaths = suite\nemsp_scenario_glob = *.scn.yaml\n")
    _scenario(pytester.path / "suite", "scenario_one.yaml", "one")
    _scenario(pytester.path / "suite", "two.scn.yaml", "two")
    result = pytester.runpytest_inprocess("--co", "-q")
    assert [line for line in result.outlines if "::" in line] == ["suite/two.scn.yaml::two[seed7]"]


def test_a_broken_expectation_fails_exactly_its_item_naming_it(stubbed: pytest.Pytester) -> None:
    _scenario(stubbed.path, "broken.yaml", "broken")
    _scenario(stubbed.path, "fine.yaml", "fine")
    junit = stubbed.path / "junit.xml"
    result = stubbed.runpytest_inprocess("--emsp-seeds", "1-3", ".", f"--junitxml={junit}")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*FAIL no missing CDR: reconciliation.missing_cdr == 0 (got 1)*"])
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == sorted(f"{n}[seed{s}]" for n in ("broken", "fine") for s in (1, 2, 3))
    assert [n for n, c in cases.items() if c.find("failure") is not None] == ["broken[seed2]"]
    failure = cases["broken[seed2]"].find("failure")
    assert failure is not None and "no missing CDR" in failure.get("message", "")
    props = {p.get("name"): p.get("value") for p in cases["fine[seed1]"].iter("property")}
    assert props["expectation: no missing CDR"] == "PASS: reconciliation.missing_cdr == 0 (got 0)"
    assert cases["fine[seed1]"].get("classname") == "fine.yaml"


def test_a_bench_fault_is_an_error_not_a_failure(stubbed: pytest.Pytester) -> None:
    _scenario(stubbed.path, "fault.yaml", "fault")
    _scenario(stubbed.path, "fine.yaml", "fine")
    result = stubbed.runpytest_inprocess(".")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*bench fault (exit 3), the eMSP was not graded: station CS-1 raised*"])


def test_an_inconclusive_run_is_an_error_saying_why_as_the_cli_does(stubbed: pytest.Pytester) -> None:
    _scenario(stubbed.path, "stalled.yaml", "stalled")
    _scenario(stubbed.path, "lagging.yaml", "lagging")
    _scenario(stubbed.path, "fine.yaml", "fine")
    junit = stubbed.path / "junit.xml"
    result = stubbed.runpytest_inprocess(".", f"--junitxml={junit}")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*inconclusive (exit 3), the eMSP was not graded: inconclusive, not graded as the eMSP's: "
            "'fast answers' (bench timing: missed by 40.0 ms*",
            "*INCONCLUSIVE fast answers: authorizations.latency_ms.p99 < 200 (got 240)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*inconclusive (exit 3), the eMSP was not graded: timing not valid: the runtime fell 9 s behind*",
            "*FAIL no missing CDR: reconciliation.missing_cdr == 0 (got 1)*",
        ]
    )
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    errors = [n for n, c in cases.items() if c.find("error") is not None]
    assert errors == ["lagging[seed7]", "stalled[seed7]"]
    assert not [n for n, c in cases.items() if c.find("failure") is not None]
    props = {p.get("name"): p.get("value") for p in cases["stalled[seed7]"].iter("property")}
    assert props["expectation: fast answers"].startswith("INCONCLUSIVE: authorizations.latency_ms.p99 < 200")


def test_an_invalid_scenario_is_a_collection_error_naming_file_and_field(stubbed: pytest.Pytester) -> None:
    path = _scenario(stubbed.path, "bad.yaml", "bad")
    data = yaml.safe_load(path.read_text())
    data["demand"]["drivers"] = -1
    path.write_text(yaml.safe_dump(data))
    result = stubbed.runpytest_inprocess("bad.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*invalid scenario: *bad.yaml: demand.drivers: *greater than or equal*"])


def test_two_files_of_one_name_are_a_collection_error_naming_both(stubbed: pytest.Pytester) -> None:
    # Their run directories would be one (<out>/smoke-7): the second run overwrote the first's records.
    first = _scenario(stubbed.path / "a", "scenario_smoke.yaml", "smoke")
    second = _scenario(stubbed.path / "b", "scenario_smoke.yaml", "smoke")
    _scenario(stubbed.path / "b", "other.yaml", "other")
    result = stubbed.runpytest_inprocess("a", "b")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*invalid scenario: {second}: name: 'smoke' is also the name of {first}*"])


def test_bad_seeds_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--emsp-seeds", "3-1", ".")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--emsp-seeds: '3-1': the range runs backwards*"])


def test_tags_are_markers_and_k_selects_by_name(stubbed: pytest.Pytester) -> None:
    _scenario(stubbed.path, "quick.yaml", "quick-one", tags=["quick"])
    _scenario(stubbed.path, "long.yaml", "long-one")
    marked = stubbed.runpytest_inprocess("--co", "-q", "--strict-markers", "-m", "quick", ".")
    assert [line for line in marked.outlines if "::" in line] == ["quick.yaml::quick-one[seed7]"]
    named = stubbed.runpytest_inprocess("--co", "-q", "--emsp-seeds", "1-2", "-k", "long and seed2", ".")
    assert [line for line in named.outlines if "::" in line] == ["long.yaml::long-one[seed2]"]


@pytest.mark.slow
def test_real_scenarios_under_xdist_with_junit(pytester: pytest.Pytester) -> None:
    _scenario(pytester.path, "tiny.yaml", "tiny")
    path = _scenario(pytester.path, "tiny_broken.yaml", "tiny-broken")
    data = yaml.safe_load(path.read_text())
    impossible = {"name": "impossible", "metric": "sessions.completed", "op": ">", "value": 999}
    data["expectations"].append(impossible)
    path.write_text(yaml.safe_dump(data))
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--emsp-seeds", "1-2", ".", f"--junitxml={junit}"
    )
    result.assert_outcomes(passed=2, failed=2)
    failed = sorted(
        c.get("name", "") for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None
    )
    assert failed == ["tiny-broken[seed1]", "tiny-broken[seed2]"]
    assert (pytester.path / "runs" / "pytest" / "tiny-2" / "summary.json").is_file()
