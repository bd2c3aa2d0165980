"""`emsp-bench suite`: many scenarios x seeds in parallel processes, one JUnit and one table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from bench.cli_output import count_progress, fancy, print_table
from bench.overrides import Override, OverrideError, parse_set
from bench.scenario import ScenarioError

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
    from bench.suite import (
        TABLE_COLUMNS,
        RunSpec,
        discover,
        junit_suites,
        load_all,
        parse_seeds,
        run_local,
        table_rows,
        worst,
        write_table,
    )
    from reports import write_junit_suites

    overrides = parse_sets(set_)
    check_jobs(jobs)
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
        RunSpec(str(path), seed, str(out / f"{scenario.name}-{seed}"), runtime, tuple(overrides))
        for path, scenario in loaded
        for seed in (seed_list or [scenario.seed])
    ]
    try:
        with count_progress("suite", len(specs), enabled=progress and fancy()) as advance:
            results = run_local(specs, jobs, advance)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    rows = table_rows(results)
    write_table(out / "suite.csv", rows)
    write_junit_suites(out / "junit.xml", "emsp-bench suite", junit_suites(results))
    shown = [row[:-1] for row in rows]  # the run directory is in suite.csv
    print_table(f"suite: {len(specs)} runs", TABLE_COLUMNS[:-1], shown)
    code = worst(r.exit_code for r in results)
    for result in results:
        if result.message:
            typer.echo(f"{result.scenario} seed {result.seed}: {result.message}", err=True)
    print(f"junit: {out / 'junit.xml'}  table: {out / 'suite.csv'}  exit {code}")
    raise typer.Exit(code)
