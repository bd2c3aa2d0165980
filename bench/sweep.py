"""Parameter sweeps: one scenario over a grid of `--set` values x seeds, as one table.

Each grid point x seed is one run (no trace, no per-run report: the sweep's table is the record).
Runs go to a local process pool, or to a Dask distributed cluster (`--dask local` starts a
LocalCluster, `--dask tcp://host:8786` joins one): the same specs, the same deterministic runs, the
same table. On a remote cluster each run directory stays on the worker that ran it; the figures come
back with the result.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from bench.overrides import Override, parse_grid_set
from bench.scenario import ScenarioError, load_scenario
from bench.suite import RunResult, RunSpec, run_local
from bench.summary import lookup

DEFAULT_METRICS = (
    "sessions.completed",
    "authorizations.latency_ms.p99",
    "reconciliation.matched",
    "energy_kwh.invoiced",
)
# Parameters that are load: the fit of a metric against them is the scaling curve.
LOAD_FIELDS = frozenset({"arrivals_per_hour", "per_hour", "drivers"})
META_COLUMNS = ("point", "seed", "exit_code")


@dataclass(frozen=True, slots=True)
class Axis:
    path: str
    values: tuple[Override, ...]

    @property
    def is_load(self) -> bool:
        return self.path.rsplit(".", 1)[-1] in LOAD_FIELDS


def parse_axes(specs: Sequence[str]) -> list[Axis]:
    axes: list[Axis] = []
    for spec in specs:
        path, values = parse_grid_set(spec)
        if path == "seed":
            # The seed is the replication dimension, not a parameter: it has its own column, and the
            # table averages over it; as an axis it would be overridden by --seeds anyway.
            raise ScenarioError(
                "command line",
                "--set seed",
                "the seed is not a swept parameter: use --seeds (every point "
                "runs every seed, the table and plots average over them)",
            )
        if any(axis.path == path for axis in axes):
            raise ScenarioError("command line", f"--set {path}", "the same path is swept twice")
        axes.append(Axis(path, tuple(values)))
    return axes


def grid(axes: Sequence[Axis]) -> list[tuple[Override, ...]]:
    """Every combination, the first axis varying slowest (the order of the table)."""
    return list(itertools.product(*(axis.values for axis in axes)))


def validate(scenario: str, axes: Sequence[Axis], metrics: Sequence[str]) -> None:
    """Every grid point must be a valid scenario, every metric a summary path: exit 2 before any run."""
    from bench.expectations import check_paths
    from bench.runner import summary_skeleton
    from bench.scenario import Expectation, resolve
    from bench.world import preflight

    for name in metrics:
        if name in META_COLUMNS or any(axis.path == name for axis in axes):
            raise ScenarioError("command line", f"--metric {name}", "is already a column of the table")
    for point in grid(axes):
        loaded, base_dir = load_scenario(scenario, point)
    currencies = preflight(loaded, base_dir, database_url="sqlite://", scenario_file=scenario)
    wanted = [Expectation(name=f"--metric {m}", metric=m, value=0) for m in metrics]
    try:
        check_paths(wanted, summary_skeleton(loaded, currencies), str(resolve(scenario)))
    except ScenarioError as exc:
        metric = metrics[int(exc.field.split("[")[1].split("]")[0])]
        raise ScenarioError(exc.file, f"--metric {metric}", exc.reason.split(", which ")[-1]) from exc


def plan(scenario: str, axes: Sequence[Axis], seeds: Sequence[int], out: Path) -> list[RunSpec]:
    width = len(str(max(len(grid(axes)) - 1, 0)))
    return [
        RunSpec(
            scenario,
            seed,
            str(out / "runs" / f"p{index:0{width}d}-seed{seed}"),
            overrides=point,
            trace="off",
            report=False,
        )
        for index, point in enumerate(grid(axes))
        for seed in seeds
    ]


def run_dask(
    specs: Sequence[RunSpec], address: str, jobs: int, on_done: Callable[[], None] | None = None
) -> list[RunResult]:
    """The same runs on Dask distributed: a LocalCluster of `jobs` single-threaded worker processes
    (`local`), or the scheduler at `address`. Results in spec order."""
    from dask.distributed import Client, LocalCluster, as_completed

    from bench.suite import run_one

    cluster = None
    if address == "local":
        # Processes, one thread each: a run is CPU-bound Python, threads would only share one GIL.
        cluster = LocalCluster(
            n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        )
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        futures = client.map(run_one, list(specs), pure=False)
        for _ in as_completed(futures):
            if on_done is not None:
                on_done()
        results: list[RunResult] = client.gather(futures)
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_grid(
    specs: Sequence[RunSpec], *, jobs: int, dask: str | None, on_done: Callable[[], None] | None = None
) -> list[RunResult]:
    return run_dask(specs, dask, jobs, on_done) if dask else run_local(specs, jobs, on_done)


def _figure(value: Any) -> Any:
    """Summary figures as numbers where they are numbers (decimal strings included), exactly."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return value


def table(results: Sequence[RunResult], axes: Sequence[Axis], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per run: grid point, swept values, seed, exit code, then the chosen metrics."""
    per_point = len(results) // max(len(grid(axes)), 1)
    rows = []
    for index, result in enumerate(results):
        row: dict[str, Any] = {"point": index // per_point if per_point else 0, "seed": result.spec.seed}
        row |= {o.path: o.value for o in result.spec.overrides}
        row["exit_code"] = result.exit_code
        for metric in metrics:
            row[metric] = _figure(lookup(result.summary, metric)) if result.summary else None
        rows.append(row)
    columns = ["point", *(a.path for a in axes), "seed", "exit_code", *metrics]
    return pd.DataFrame(rows, columns=columns)
