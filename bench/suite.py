"""Many scenarios x seeds: discovery, one run in a worker process, the suite's verdict.

Which files are scenarios: a file named explicitly is one (an invalid one is invalid input). In a
directory (searched recursively, in sorted order), a `.yaml`/`.yml` file is a scenario when it is a
YAML mapping with the top-level keys `name`, `cpos` and `demand`; other YAML there (dialect
profiles, CI files) is left alone. The pytest plugin uses the same rule under the paths given on its
command line, and elsewhere collects only files matching `emsp_scenario_glob` (`scenario_*.yaml`).
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

import yaml

from bench.overrides import Override
from bench.scenario import Scenario, ScenarioError, load_scenario
from reports.junit import JunitCase
from reports.outcomes import is_mismatch

SCENARIO_KEYS = frozenset({"name", "cpos", "demand"})
YAML_SUFFIXES = (".yaml", ".yml")
MAX_SEEDS = 10_000

EXIT_HELD, EXIT_FAILED, EXIT_INVALID, EXIT_FAULT = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # a run cut short by the suite's interrupt (its partial trace kept)
_SEEDS = re.compile(r"^\d+(-\d+)?$")


def parse_seeds(text: str, option: str = "--seeds") -> list[int]:
    """`7`, `1-3`, `1,5,9-10` -> sorted distinct seeds; anything else names the option (exit 2)."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not _SEEDS.match(part):
            raise ScenarioError("command line", option, f"{text!r}: expected seeds like 7, 1-3 or 1,5,9-10")
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)
        if last < first:
            raise ScenarioError("command line", option, f"{part!r}: the range runs backwards")
        if last - first >= MAX_SEEDS or len(seeds) + last - first >= MAX_SEEDS:
            raise ScenarioError("command line", option, f"{text!r}: more than {MAX_SEEDS} seeds")
        seeds.update(range(first, last + 1))
    return sorted(seeds)


def looks_like_scenario(path: Path) -> bool:
    """Cheap test for directory discovery: a YAML mapping with a scenario's top-level keys."""
    if path.suffix not in YAML_SUFFIXES or not path.is_file():
        return False
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        # Unreadable or not YAML: it may be a scenario with a typo. Taken, so that loading it names
        # the file and the reason (exit 2, a collection error): a broken scenario must never
        # silently drop out of a CI suite.
        return True
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
    # The scenario's name, as validated before the run: what the table and JUnit call a run even
    # when it ends without a summary to take it from (empty: the file's stem).
    name: str = ""


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


# In a pool worker (run_local): SIGINT interrupts a run under way; between runs it only notes that the
# suite stops, so the runs queued to the worker are not started (an idle worker dying of it instead
# would make the pool kill the others mid-interrupt, before they drop their result files).
_in_pool_worker = False
_worker_interrupted = False
# The suite's stop flag (a multiprocessing Event): set before the workers are signalled, so a worker
# that was still starting (SIGINT ignored, see _start_forkserver) runs nothing either.
_stop: Any = None


def _note_interrupt(_signum: int, _frame: object) -> None:
    global _worker_interrupted
    _worker_interrupted = True


def _init_pool_worker(stop: Any = None) -> None:
    global _in_pool_worker, _stop
    _in_pool_worker, _stop = True, stop
    signal.signal(signal.SIGINT, _note_interrupt)


def run_one(spec: RunSpec) -> RunResult:
    """Run one scenario and return what a table needs; never raises (a bench fault is exit 3) except
    KeyboardInterrupt (Ctrl-C, or the suite stopping its workers: see run_local)."""
    global _worker_interrupted
    if _worker_interrupted or (_stop is not None and _stop.is_set()):
        raise KeyboardInterrupt
    if _in_pool_worker:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run_one(spec)
    except KeyboardInterrupt:
        _worker_interrupted = True
        raise
    finally:
        if _in_pool_worker:
            signal.signal(signal.SIGINT, _note_interrupt)


def _run_one(spec: RunSpec) -> RunResult:
    from bench.runner import run_scenario
    from bench.runtime.faults import SimRuntimeError, describe_fault
    from bench.runtime.live import LiveRuntimeError

    name = spec.name or Path(spec.scenario).stem
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
        return RunResult(spec, EXIT_FAULT, name, spec.seed, f"bench fault: {describe_fault(exc)}")
    summary = outcome.summary
    return RunResult(
        spec,
        outcome.exit_code,
        str(summary["scenario"]),
        int(summary["seed"]),
        outcome.not_graded_reason,  # "" unless exit 3: the JUnit error and the table say why
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


class SuiteInterrupted(KeyboardInterrupt):
    """The suite was interrupted: `results` holds the runs that ended and those cut short (exit 130),
    in spec order; runs that never started are not in it."""

    def __init__(self, results: list[RunResult]) -> None:
        super().__init__()
        self.results = results


def interrupted(spec: RunSpec) -> RunResult | None:
    """A run the interrupt cut short, if it had started: it touches its directory only once its
    input is valid (the suite cleared earlier ones), so a directory there means it was under way."""
    if not Path(spec.out).exists():
        return None
    name = spec.name or Path(spec.scenario).stem
    return RunResult(spec, EXIT_INTERRUPTED, name, spec.seed, "interrupted: no summary, partial trace kept")


def run_local(
    specs: Sequence[RunSpec], jobs: int, on_done: Callable[[], None] | None = None
) -> list[RunResult]:
    """Each run in a process of a pool of `jobs` (in this process when jobs is 1), results in spec
    order. Interrupted: SuiteInterrupted with what ran (a KeyboardInterrupt)."""
    if jobs <= 1 or len(specs) <= 1:
        results = []
        for spec in specs:
            try:
                results.append(run_one(spec))
            except KeyboardInterrupt:
                cut = interrupted(spec)
                raise SuiteInterrupted([*results, *([cut] if cut is not None else [])]) from None
            if on_done is not None:
                on_done()
        return results
    # forkserver: workers start from a clean process, not a fork of one with a progress thread.
    context = multiprocessing.get_context("forkserver")
    # Imported once by the forkserver, not by every worker: a worker starts in a fork's time, so
    # an interrupted suite waits for no worker's imports (seconds each on a loaded machine).
    context.set_forkserver_preload([__name__])
    stop = context.Event()
    pool: ProcessPoolExecutor | None = None
    futures: list[Future[RunResult]] = []
    try:
        with _interrupts_deferred():
            _start_forkserver()
            pool = ProcessPoolExecutor(
                max_workers=min(jobs, len(specs)),
                mp_context=context,
                initializer=_init_pool_worker,
                initargs=(stop,),
            )
            futures = [pool.submit(run_one, spec) for spec in specs]  # starts the workers
        for _ in as_completed(futures):
            if on_done is not None:
                on_done()
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        stop.set()
        _interrupt_workers()
        if pool is not None:
            # Until the workers ended (their runs interrupted, queued ones never started): leaving
            # earlier frees `stop` and the queues, whose semaphores a worker still starting then
            # cannot open (a FileNotFoundError traceback after "interrupted").
            pool.shutdown(wait=True, cancel_futures=True)
        raise SuiteInterrupted(_what_ran(specs, futures)) from None
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _what_ran(specs: Sequence[RunSpec], futures: Sequence[Future[RunResult]]) -> list[RunResult]:
    """After the pool shut down: each run that ended, and each cut short, in spec order."""
    ran: list[RunResult] = []
    for spec, future in zip(specs, futures, strict=False):  # none submitted past an early interrupt
        outcome = None if future.cancelled() else future.exception()
        if not future.cancelled() and outcome is None:
            ran.append(future.result())
        elif (cut := interrupted(spec)) is not None:
            ran.append(cut)
    return ran


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """An interrupt (SIGINT, or SIGTERM as one) while the pool starts its processes is raised once they
    are started. Cut short, a start leaves the forkserver or a worker half-way, and that process
    prints a traceback (EOFError, a semaphore already unlinked) after the suite said "interrupted"."""
    if threading.current_thread() is not threading.main_thread():  # signal.signal would raise
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _f: caught.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _start_forkserver() -> None:
    """Start the forkserver (if not yet) with SIGINT ignored, which a new process inherits: neither it
    nor a worker it forks can die of a Ctrl-C to the process group while importing (a traceback
    each). A worker listens again from _init_pool_worker on; one that missed the signal sees `stop`."""
    if threading.current_thread() is not threading.main_thread():  # signal.signal would raise
        forkserver.ensure_running()
        return
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, ignored)


def _interrupt_workers() -> None:
    """Interrupt the runs under way as Ctrl-C would: their result files dropped, their traces kept.
    A Ctrl-C on a terminal reaches the workers too; a SIGINT or SIGTERM sent to this process alone
    (CI cancel, docker stop) did not, and the pool waited for every queued run to finish."""
    for worker in multiprocessing.active_children():
        if worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):  # ended meanwhile
                os.kill(worker.pid, signal.SIGINT)


def junit_suites(results: Sequence[RunResult]) -> list[tuple[str, list[JunitCase]]]:
    """One JUnit testsuite per run, one case per expectation; a run that did not complete is an error."""
    suites = []
    for result in results:
        seed = result.seed if result.seed is not None else "default"
        classname = f"{result.scenario}.seed{seed}"
        if result.exit_code in (EXIT_INVALID, EXIT_FAULT, EXIT_INTERRUPTED):
            cases = [JunitCase("run", False, result.message, classname, error=True)]
        else:
            cases = [
                JunitCase(
                    str(e["name"]),
                    bool(e["passed"]),
                    f"{e['metric']}: expected {e['op']} {e['expected']}, got {e['actual']}",
                    classname,
                )
                for e in result.expectations
            ]
        suites.append((f"{result.scenario}[seed{seed}]", cases))
    return suites


VERDICTS = {
    EXIT_HELD: "PASS",
    EXIT_FAILED: "FAIL",
    EXIT_INVALID: "INVALID",
    EXIT_FAULT: "FAULT",
    EXIT_INTERRUPTED: "INTERRUPTED",
}
TABLE_COLUMNS = (
    "scenario",
    "seed",
    "verdict",
    "sessions",
    "mismatched",
    "auth_p99_ms",
    "energy_invoiced_kwh",
    "failed",
    "wall_s",
    "run_dir",
)


def table_rows(results: Sequence[RunResult]) -> list[tuple[object, ...]]:
    rows = []
    for r in results:
        s = r.summary
        if s:
            # as the report's "Mismatched sessions": expected refusals (an outage's) are not mismatches
            bad = sum(n for k, n in s["reconciliation"].items() if is_mismatch(k))
            failed = "; ".join(str(e["name"]) for e in r.expectations if not e["passed"])
            figures: tuple[object, ...] = (
                s["sessions"]["started"],
                bad,
                s["authorizations"]["latency_ms"]["p99"],
                s["energy_kwh"]["invoiced"],
                failed or "-",
            )
        else:
            figures = ("", "", "", "", r.message)
        rows.append((r.scenario, r.seed, VERDICTS[r.exit_code], *figures, r.wall_seconds, r.spec.out))
    return rows


def write_table(path: Path, rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TABLE_COLUMNS)
        writer.writerows(rows)
