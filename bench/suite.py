"""Many scenarios x seeds: discovery, one run in a worker process, the suite's verdict.

Which files are scenarios: a file named explicitly is one (an invalid one is invalid input). In a
directory (searched recursively, in sorted order), a `.yaml`/`.yml` file is a scenario when it is a
YAML mapping with the top-level keys `name`, `cpos` and `demand`; other YAML there (dialect
profiles, CI files) is left alone. The pytest plugin uses the same rule under the paths given on its
command line, and elsewhere collects only files matching `emsp_scenario_glob` (`scenario_*.yaml`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.overrides import Override
from bench.scenario import Scenario, ScenarioError, load_scenario

SCENARIO_KEYS = frozenset({"name", "cpos", "demand"})
YAML_SUFFIXES = (".yaml", ".yml")
MAX_SEEDS = 10_000

EXIT_HELD, EXIT_FAILED, EXIT_INVALID, EXIT_FAULT = 0, 1, 2, 3
_SEEDS = re.compile(r"^\d+(-\d+)?$")


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """`7`, `1-3`, `1,5,9-10` -> sorted distinct seeds; anything else names the option (exit 2)."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not _SEEDS.match(part):
            raise ScenarioError(option, option, f"{text!r}: expected seeds like 7, 1-3 or 1,5,9-10")
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if last < first:
            raise ScenarioError(option, option, f"{part!r}: the range runs backwards")
        if last - first >= MAX_SEEDS or len(seeds) + last - first >= MAX_SEEDS:
            raise ScenarioError(option, option, f"{text!r}: more than {MAX_SEEDS} seeds")
        seeds.update(range(first, last + 1))
    return sorted(seeds)


def looks_like_scenario(path: Path) -> bool:
    """Cheap test for directory discovery: a YAML mapping with a scenario's top-level keys."""
    if path.suffix not in YAML_SUFFIXES or not path.is_file():
        return False
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and raw.keys() >= SCENARIO_KEYS


def discover(paths: Iterable[str]) -> list[Path]:
    """Scenario files under the given files, directories and built-in names, each once, in order."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if looks_like_scenario(p))
        elif path.is_file():
            found.append(path)
        else:
            from bench.scenario import resolve

            found.append(resolve(given))  # a built-in name, or exit 2 naming the path
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path.resolve(), None)
    return list(unique)


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run of a suite or a sweep: picklable, so it can go to a process pool or a Dask worker."""

    scenario: str  # a file path or a built-in name
    seed: int | None
    out: str
    runtime: str = "sim"
    overrides: tuple[Override, ...] = ()
    trace: str = "full"
    report: bool = True


@dataclass(frozen=True, slots=True)
class RunResult:
    spec: RunSpec
    exit_code: int
    scenario: str
    seed: int | None
    message: str = ""  # the reason for exit 2 or 3
    summary: dict[str, Any] = field(default_factory=dict)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


def run_one(spec: RunSpec) -> RunResult:
    """Run one scenario and return what a table needs; never raises (a bench fault is exit 3)."""
    from bench.runner import run_scenario
    from bench.runtime.faults import SimRuntimeError
    from bench.runtime.live import LiveRuntimeError

    name = Path(spec.scenario).stem
    start = time.perf_counter()  # wall time for the table only
    try:
        outcome = run_scenario(
            spec.scenario,
            runtime="live" if spec.runtime == "live" else "sim",
            seed=spec.seed,
            out=Path(spec.out),
            overrides=spec.overrides,
            trace_mode=spec.trace,  # type: ignore[arg-type]  # run_scenario validates it (exit 2)
            report=spec.report,
        )
    except ScenarioError as exc:
        return RunResult(spec, EXIT_INVALID, name, spec.seed, f"invalid input: {exc}")
    except (LiveRuntimeError, SimRuntimeError) as exc:
        return RunResult(spec, EXIT_FAULT, name, spec.seed, f"bench fault: {exc}")
    except Exception as exc:  # a crash of the bench itself: graded as a fault, never as the eMSP's
        return RunResult(spec, EXIT_FAULT, name, spec.seed, f"bench fault: {type(exc).__name__}: {exc}")
    summary = outcome.summary
    return RunResult(
        spec,
        outcome.exit_code,
        str(summary["scenario"]),
        int(summary["seed"]),
        summary=summary,
        expectations=list(summary.get("expectations", [])),
        wall_seconds=round(time.perf_counter() - start, 3),
    )


def worst(codes: Iterable[int]) -> int:
    """The suite's exit code: the highest of its runs' (3 fault > 2 invalid > 1 failed > 0 held)."""
    return max(codes, default=EXIT_HELD)


def load_all(files: Sequence[Path], overrides: Sequence[Override] = ()) -> list[tuple[Path, Scenario]]:
    """Validate every scenario before anything runs: one bad file is exit 2 before hours of runs."""
    return [(path, load_scenario(str(path), overrides)[0]) for path in files]
