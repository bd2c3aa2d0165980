"""pytest plugin (entry point `emsp_bench`): scenario files as test items, one per scenario x seed.

    pytest --emsp-seeds 1-3 scenarios/ -n 2 --junitxml junit.xml

Collected: under a path given on the command line, every YAML file that is a scenario (a mapping
with `name`, `cpos` and `demand`: bench.suite's rule); anywhere else (testpaths, conftest dirs) only
files matching the ini option `emsp_scenario_glob` (default `scenario_*.yaml`), so the project's own
`pytest tests` run collects none. Items are named `<scenario>[seed<N>]` (`-k "smoke and seed2"`);
scenario `tags:` become markers (`-m quick`), and every item has the marker `emsp_scenario`.

An item passes when every expectation held; otherwise it fails with one line per broken
expectation. Each expectation is also a JUnit property (`expectation: <name>` = PASS/FAIL ...).
Two files with one `name:` are a collection error, as in `emsp-bench suite`: run directories
(`--emsp-out`/<scenario>-<seed>) are named after scenarios.
Invalid input (exit 2) and a fault of the bench (exit 3) are errors, not failures: the eMSP was not
graded. So is a run the CLI grades inconclusive (exit 3: a live run whose timing is not valid, or whose
only failures are latencies the machine's own stall can explain, bench/stall_grading.py); its error
says why, as the CLI does.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest

SUITE_MARKER = "emsp_scenario"
YAML_SUFFIXES = (".yaml", ".yml")
FAULT = "bench fault (exit 3), the eMSP was not graded"
INCONCLUSIVE = "inconclusive (exit 3), the eMSP was not graded"
EXIT_NOT_GRADED = 3  # bench.runner.RunOutcome.exit_code of a run that completed but cannot be graded
# Scenario name -> the file collected under it, this session: run directories are named after
# scenarios, so two files of one name would share one (and the second overwrite the first's records).
_COLLECTED_NAMES = pytest.StashKey[dict[str, Path]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("emsp-bench", "emsp-bench scenarios as tests")
    group.addoption(
        "--emsp-seeds",
        default=None,
        metavar="SEEDS",
        help="Seeds per scenario: 7, 1-3 or 1,5,9-10 (default: each scenario's own seed).",
    )
    group.addoption(
        "--emsp-runtime",
        default="sim",
        choices=("sim", "live"),
        help="sim (simpy, virtual time) or live (real sockets). Default: sim.",
    )
    group.addoption(
        "--emsp-out",
        default="runs/pytest",
        metavar="DIR",
        help="Where run directories go, as DIR/<scenario>-<seed>. Default: runs/pytest.",
    )
    parser.addini(
        "emsp_scenario_glob",
        "Scenario files collected outside the paths given on the command line (default scenario_*.yaml).",
        default="scenario_*.yaml",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{SUITE_MARKER}: an emsp-bench scenario run (bench.pytest_plugin)")
    seeds = config.getoption("--emsp-seeds")
    if seeds is not None:
        from bench.scenario import ScenarioError
        from bench.suite import parse_seeds

        try:
            parse_seeds(seeds, "--emsp-seeds")
        except ScenarioError as exc:
            raise pytest.UsageError(f"--emsp-seeds: {exc.reason}") from exc


def _given_on_command_line(config: pytest.Config, file_path: Path) -> bool:
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        return False  # testpaths or the current directory: only the glob applies
    base = config.invocation_params.dir
    for arg in config.args:
        given = (base / arg.split("::")[0]).resolve()
        if file_path == given or given in file_path.parents:
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in YAML_SUFFIXES:
        return None  # the cheap test first: this hook sees every file of every run
    config = parent.config
    pattern = str(config.getini("emsp_scenario_glob"))
    if not fnmatch.fnmatch(file_path.name, pattern):
        from bench.suite import looks_like_scenario

        if not (_given_on_command_line(config, file_path.resolve()) and looks_like_scenario(file_path)):
            return None
    return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    def collect(self) -> list[pytest.Item]:
        from bench.scenario import ScenarioError, load_scenario
        from bench.suite import parse_seeds

        try:
            scenario, _ = load_scenario(str(self.path))
        except ScenarioError as exc:
            raise self.CollectError(f"invalid scenario: {exc}") from exc
        names = self.config.stash.setdefault(_COLLECTED_NAMES, {})
        first = names.setdefault(scenario.name, self.path)
        if first != self.path:  # `emsp-bench suite`'s rule (cli_suite.py)
            raise self.CollectError(
                f"invalid scenario: {self.path}: name: {scenario.name!r} is also the name of {first} "
                "(run directories are named after scenarios)"
            )
        given = self.config.getoption("--emsp-seeds")
        seeds = parse_seeds(given, "--emsp-seeds") if given is not None else [scenario.seed]
        items: list[pytest.Item] = []
        for seed in seeds:
            item = ScenarioItem.from_parent(self, name=f"{scenario.name}[seed{seed}]")
            item.scenario_name, item.seed = scenario.name, seed
            item.add_marker(SUITE_MARKER)
            for tag in scenario.tags:
                self.config.addinivalue_line("markers", f"{tag}: scenario tag")
                item.add_marker(tag)
            items.append(item)
        return items


class ScenarioItem(pytest.Item):
    scenario_name: str = ""
    seed: int = 0
    outcome: Any = None

    def setup(self) -> None:
        # The run happens in setup, so that invalid input and bench faults are errors, not failures.
        from bench.runner import run_scenario
        from bench.runtime.faults import SimRuntimeError, describe_fault
        from bench.runtime.live import LiveRuntimeError
        from bench.scenario import ScenarioError

        runtime = self.config.getoption("--emsp-runtime")
        out = Path(self.config.getoption("--emsp-out"))
        if not out.is_absolute():
            out = self.config.invocation_params.dir / out
        suffix = "" if runtime == "sim" else f"-{runtime}"
        run_dir = out / f"{self.scenario_name}-{self.seed}{suffix}"
        self.user_properties.append(("run_dir", str(run_dir)))
        try:
            self.outcome = run_scenario(
                str(self.path), runtime=runtime, seed=self.seed, out=run_dir, progress=None
            )
        except ScenarioError as exc:
            pytest.fail(f"invalid input (exit 2): {exc}", pytrace=False)
        except (LiveRuntimeError, SimRuntimeError) as exc:
            pytest.fail(f"{FAULT}: {exc}", pytrace=False)
        except Exception as exc:
            pytest.fail(f"{FAULT}: {describe_fault(exc)}", pytrace=False)
        self._record_expectations()
        if self.outcome.exit_code == EXIT_NOT_GRADED:
            # Failing in setup makes it an error, like the CLI's exit 3 and its JUnit <error>.
            lines = [f"{INCONCLUSIVE}: {self.outcome.not_graded_reason}"]
            lines += [_verdict_line(r) for r in self.outcome.expectations if not r.passed]
            pytest.fail("\n".join([*lines, f"run directory: {self.outcome.run_dir}"]), pytrace=False)

    def _record_expectations(self) -> None:
        for result in self.outcome.expectations:
            verdict, line = _verdict(result), _check_line(result)
            self.user_properties.append((f"expectation: {result.name}", f"{verdict}: {line}"))

    def runtest(self) -> None:
        failed = [_verdict_line(r) for r in self.outcome.expectations if not r.passed]
        if failed:
            plain = sum(1 for r in self.outcome.expectations if not r.passed and not r.inconclusive)
            where = f"{self.scenario_name} seed {self.seed}: {plain} expectation(s) failed"
            pytest.fail("\n".join([where, *failed, f"run directory: {self.outcome.run_dir}"]), pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario_name}, seed {self.seed}"


def _verdict(result: Any) -> str:
    return "PASS" if result.passed else "INCONCLUSIVE" if result.inconclusive else "FAIL"


def _check_line(result: Any) -> str:
    line = f"{result.metric} {result.op} {result.expected} (got {result.actual})"
    return f"{line} ({result.inconclusive})" if result.inconclusive and not result.passed else line


def _verdict_line(result: Any) -> str:
    return f"{_verdict(result)} {result.name}: {_check_line(result)}"
