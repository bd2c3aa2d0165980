"""`emsp-bench suite`: many scenarios x seeds in parallel processes, one JUnit and one table."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bench.cli_output import count_progress, fancy, print_table
from bench.cli_paths import check_output
from bench.overrides import Override, OverrideError, parse_set
from bench.scenario import ScenarioError

if TYPE_CHECKING:
    from bench.suite import RunResult

SEEDS_HELP = "Seeds per scenario: 7, 1-3 or 1,5,9-10 (default: each scenario's own seed)."
JOBS_HELP = "Runs at a time, each in its own process (default: the number of CPUs)."


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def parse_sets(specs: list[str] | None) -> list[Override]:
    try:
        return [parse_set(spec) for spec in specs or []]
    except OverrideError as exc:
        typer.echo(f"invalid input: --set {exc.path}: {exc.reason}", err=True)
        raise typer.Exit(2) from exc


def check_jobs(jobs: int) -> None:
    if jobs < 1:
        typer.echo(f"invalid input: --jobs: must be at least 1, not {jobs}", err=True)
        raise typer.Exit(2)


def _clear_or_exit(clear: Callable[[Path], None], out: Path) -> None:
    """What an earlier suite or sweep left in `out` goes, after validation and before any run."""
    try:
        clear(out)
    except ScenarioError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc


def suite(
    paths: Annotated[
        list[str],
        typer.Argument(help="Scenario files, directories (searched for scenarios) or built-in names."),
    ],
    seeds: Annotated[str | None, typer.Option(help=SEEDS_HELP)] = None,
    jobs: Annotated[int, typer.Option(help=JOBS_HELP)] = default_jobs(),
    out: Annotated[
        Path, typer.Option(help="Suite directory: a run directory per run, junit.xml, suite.csv.")
    ] = Path("runs/suite"),
    runtime: Annotated[str, typer.Option(metavar="sim|live", help="sim or live.")] = "sim",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="PATH=VALUE", help="Change a field of every scenario (repeatable)."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar (on a terminal).")] = True,
) -> None:
    """Run many scenarios and seeds in parallel; exit by the worst run (0 held, 1 failed, 2 invalid
    input, 3 a bench fault). A directory yields its YAML files that are scenarios (a mapping with
    name, cpos and demand), recursively."""
    from bench.outdir import clear_suite_dir
    from bench.suite import RunSpec, SuiteInterrupted, discover, load_all, parse_seeds, run_local, worst

    overrides = parse_sets(set_)
    check_jobs(jobs)
    check_output(out, "--out", directory=True)
    for written in ("suite.csv", "junit.xml"):
        check_output(out / written, "--out", directory=False)
    if runtime not in ("sim", "live"):
        typer.echo(f"invalid input: --runtime: must be 'sim' or 'live', not {runtime!r}", err=True)
        raise typer.Exit(2)
    try:
        seed_list = parse_seeds(seeds) if seeds is not None else None
        files = discover(paths)
        if not files:
            raise ScenarioError(" ".join(paths), "(paths)", "no scenario files found there")
        loaded = load_all(files, overrides)
    except ScenarioError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    names: dict[str, Path] = {}
    for path, scenario in loaded:
        if scenario.name in names:
            typer.echo(
                f"invalid input: {path}: name: {scenario.name!r} is also the name of {names[scenario.name]} "
                "(run directories are named after scenarios)",
                err=True,
            )
            raise typer.Exit(2)
        names[scenario.name] = path
    specs = [
        RunSpec(
            str(path),
            seed,
            str(out / f"{scenario.name}-{seed}"),
            runtime,
            tuple(overrides),
            name=scenario.name,
        )
        for path, scenario in loaded
        for seed in (seed_list or [scenario.seed])
    ]
    _clear_or_exit(lambda o: clear_suite_dir(o, [Path(spec.out) for spec in specs]), out)
    try:
        with count_progress("suite", len(specs), enabled=progress and fancy()) as advance:
            results = run_local(specs, jobs, advance)
    except SuiteInterrupted as stopped:
        # What ran is reported (the runs cut short as INTERRUPTED, in junit as errors): a CI that
        # cancelled the job still shows which runs held and where their directories are.
        _report(out, stopped.results, f"suite: interrupted, {len(stopped.results)} of {len(specs)} runs")
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    _report(out, results, f"suite: {len(specs)} runs")
    code = worst(r.exit_code for r in results)
    print(f"junit: {out / 'junit.xml'}  table: {out / 'suite.csv'}  exit {code}")
    raise typer.Exit(code)


def _report(out: Path, results: list[RunResult], title: str) -> None:
    """suite.csv and junit.xml of these runs, the table on stdout, each run's reason on stderr."""
    from bench.suite import TABLE_COLUMNS, junit_suites, table_rows, write_table
    from reports import write_junit_suites

    rows = table_rows(results)
    write_table(out / "suite.csv", rows)
    write_junit_suites(out / "junit.xml", "emsp-bench suite", junit_suites(results))
    shown = [row[:-1] for row in rows]  # the run directory is in suite.csv
    print_table(title, TABLE_COLUMNS[:-1], shown)
    for result in results:
        if result.message:
            typer.echo(f"{result.scenario} seed {result.seed}: {result.message}", err=True)


def sweep(
    scenario: Annotated[str, typer.Argument(help="A built-in scenario name or a YAML file.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=V1,V2,...",
            help="A swept parameter and its values, e.g. demand.arrivals_per_hour=50,100,200 (repeatable: "
            "the grid is every combination).",
        ),
    ] = None,
    seeds: Annotated[str, typer.Option(help="Seeds per grid point: 7, 1-3 or 1,5,9-10.")] = "1-3",
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="PATH",
            help="A summary path to tabulate and plot (repeatable; default: sessions.completed, "
            "authorizations.latency_ms.p99, reconciliation.matched, energy_kwh.invoiced).",
        ),
    ] = None,
    jobs: Annotated[int, typer.Option(help=JOBS_HELP)] = default_jobs(),
    dask: Annotated[
        str | None,
        typer.Option(
            metavar="local|tcp://HOST:8786",
            help="Run on Dask distributed: 'local' starts a LocalCluster of --jobs worker processes; "
            "an address joins a running scheduler (needs the 'sweep' extra).",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Sweep directory (default runs/sweep-<scenario>).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar (on a terminal).")] = True,
) -> None:
    """Run a scenario over a grid of parameter values x seeds: sweep.csv (+ .parquet), fits.csv, a plot of
    each metric against each swept parameter, and sweep.html. Exit 2 on invalid input, 3 when a run
    hit a bench fault, else 0 (a sweep measures; it does not grade expectations)."""
    from bench.outdir import clear_sweep_dir
    from bench.suite import EXIT_FAULT, EXIT_INVALID, parse_seeds
    from bench.sweep import DEFAULT_METRICS, parse_axes, plan, run_grid, table, validate
    from reports.sweep import SweepAxis, write_sweep

    check_jobs(jobs)
    metrics = list(dict.fromkeys(metric or DEFAULT_METRICS))
    try:
        axes = parse_axes(set_ or [])
        seed_list = parse_seeds(seeds)
        validate(scenario, axes, metrics)
    except OverrideError as exc:
        typer.echo(f"invalid input: --set {exc.path}: {exc.reason}", err=True)
        raise typer.Exit(2) from exc
    except ScenarioError as exc:
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    if dask is not None and dask != "local" and not dask.startswith(("tcp://", "tls://", "ucx://")):
        typer.echo(
            f"invalid input: --dask: 'local' or an address like tcp://host:8786, not {dask!r}", err=True
        )
        raise typer.Exit(2)
    if dask is not None:
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            typer.echo("invalid input: --dask needs Dask: pip install 'emsp-bench[sweep]'", err=True)
            raise typer.Exit(2) from exc
    target = out or Path("runs") / f"sweep-{Path(scenario).stem}"
    check_output(target, "--out", directory=True)
    specs = plan(scenario, axes, seed_list, target)
    _clear_or_exit(clear_sweep_dir, target)
    try:
        with count_progress("sweep", len(specs), enabled=progress and fancy()) as advance:
            results = run_grid(specs, jobs=jobs, dask=dask, on_done=advance)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    df = table(results, axes, metrics)
    sweep_axes = [SweepAxis(a.path, a.is_load) for a in axes]
    written = write_sweep(target, f"sweep of {scenario}: {len(specs)} runs", df, sweep_axes, metrics)
    from reports.sweep import scaling_fits

    fits = scaling_fits(df, sweep_axes, metrics)
    means = df[df["exit_code"].isin([0, 1])].groupby([a.path for a in axes] or ["point"], sort=False)[metrics]
    summary_rows = [
        (*(key if isinstance(key, tuple) else (key,)), *(_mean(part[m]) for m in metrics))
        for key, part in means
    ]
    swept = [a.path for a in axes] or ["point"]
    print_table(f"sweep: mean over {len(seed_list)} seed(s)", [*swept, *metrics], summary_rows)
    if not fits.empty:
        print_table("scaling fits", list(fits.columns), list(fits.itertuples(index=False)))
    for result in results:
        if result.message:
            typer.echo(f"{result.spec.out}: {result.message}", err=True)
    print("  ".join(f"{kind}: {path}" for kind, path in written.items()))
    codes = {r.exit_code for r in results}
    raise typer.Exit(EXIT_FAULT if EXIT_FAULT in codes else EXIT_INVALID if EXIT_INVALID in codes else 0)


def _mean(values: object) -> str:
    import pandas as pd

    series = pd.Series(values).map(lambda v: float(v) if v is not None else None)
    numbers = pd.to_numeric(series, errors="coerce")
    return "" if numbers.isna().all() else f"{numbers.mean():.6g}"
