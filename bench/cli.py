"""`emsp-bench`: run scenarios, list them, price tariffs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.cli_serve import serve_app
from bench.cli_tariff import tariff_app
from bench.scenario import ScenarioError, builtin_names, load_scenario

app = typer.Typer(
    help="Hardware-in-the-loop simulation and conformance test bench for eMSPs.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(tariff_app, name="tariff")
app.add_typer(serve_app, name="serve")
err = Console(stderr=True)
out = Console()


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="A built-in scenario name (see `scenarios`) or a YAML file.")
    ],
    runtime: Annotated[
        str, typer.Option(metavar="sim|live", help="sim (simpy, virtual time) or live (real sockets).")
    ] = "sim",
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default: runs/<scenario>-<seed>).")
    ] = None,
    speed: Annotated[float, typer.Option(help="live: scenario seconds per wall second.")] = 600.0,
    database_url: Annotated[str, typer.Option(help="eMSP storage (SQLAlchemy URL).")] = "sqlite://",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    trace: Annotated[
        str,
        typer.Option(
            metavar="full|ocpi|off",
            help="Wire trace: full (every OCPP frame and OCPI call), ocpi (OCPI calls only), "
            "off (no trace file). The summary counts every message whatever the mode.",
        ),
    ] = "full",
    trace_gzip: Annotated[
        bool, typer.Option("--trace-gzip", help="Write the trace gzip-compressed, as trace.jsonl.gz.")
    ] = False,
) -> None:
    """Run a scenario; exit 0 when every expectation held, 1 when one failed, 2 on invalid input,
    3 when the run could not complete (a fault of the bench itself)."""
    from bench.runner import run_scenario
    from bench.runtime.faults import SimRuntimeError
    from bench.runtime.live import LiveRuntimeError

    if runtime not in ("sim", "live"):
        typer.echo(f"error: --runtime: must be 'sim' or 'live', not {runtime!r}", err=True)
        raise typer.Exit(2)
    show = progress and sys.stderr.isatty() and not _ci()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=err,
            disable=not show,
            transient=True,
        ) as bar:
            task = bar.add_task(f"{scenario} ({runtime})", total=1.0)
            outcome = run_scenario(
                scenario,
                runtime="live" if runtime == "live" else "sim",
                seed=seed,
                out=out_dir,
                speed=speed,
                database_url=database_url,
                progress=lambda done: bar.update(task, completed=done),
                trace_mode=trace,  # type: ignore[arg-type]  # run_scenario validates it (exit 2)
                trace_gzip=trace_gzip,
            )
    except ScenarioError as exc:
        # Plain, unwrapped text: one line a CI log or a script can grep.
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (LiveRuntimeError, SimRuntimeError) as exc:
        typer.echo(f"run aborted (a fault of the bench, not of the eMSP): {exc}", err=True)
        raise typer.Exit(3) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    _print_outcome(outcome)
    raise typer.Exit(outcome.exit_code)


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _print_outcome(outcome: object) -> None:
    from bench.runner import RunOutcome

    assert isinstance(outcome, RunOutcome)
    s, perf = outcome.summary, outcome.performance
    table = Table(title=f"{s['scenario']} · seed {s['seed']} · {s['runtime']}", show_header=False)
    table.add_row(
        "sessions started / completed", f"{s['sessions']['started']} / {s['sessions']['completed']}"
    )
    auth = s["authorizations"]
    table.add_row("authorizations accepted / rejected", f"{auth['accepted']} / {auth['rejected']}")
    table.add_row(
        "authorization latency p50 / p95 ms", f"{auth['latency_ms']['p50']} / {auth['latency_ms']['p95']}"
    )
    e = s["energy_kwh"]
    table.add_row("energy kWh truth / cdr / invoiced", f"{e['truth']} / {e['cdr']} / {e['invoiced']}")
    table.add_row("revenue", ", ".join(f"{v} {k}" for k, v in s["revenue"].items()) or "-")
    table.add_row("reconciliation", ", ".join(f"{k} {v}" for k, v in s["reconciliation"].items() if v) or "-")
    table.add_row("messages", ", ".join(f"{k} {v}" for k, v in s["messages"].items()))
    table.add_row(
        "wall time",
        f"{perf['wall_seconds']} s ({perf['sim_seconds_per_wall_second']}x real time, "
        f"{perf['messages_per_wall_second']} msg/s)",
    )
    out.print(table)
    for result in outcome.expectations:
        mark = "[green]PASS[/]" if result.passed else "[red]FAIL[/]"
        out.print(
            f"{mark} {result.name}: {result.metric} {result.op} {result.expected} (got {result.actual})"
        )
    out.print(f"run directory: {outcome.run_dir}")


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory (holds summary.json).")]) -> None:
    """(Re)build report.html and its plots from a run directory's records."""
    from reports import RunRecordsError, write_report

    try:
        page = write_report(run_dir)
    except RunRecordsError as exc:
        typer.echo(f"invalid run directory: {exc}", err=True)
        raise typer.Exit(2) from exc
    out.print(f"report: {page}")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    table = Table("name", "description")
    for name in builtin_names():
        try:
            scenario, _ = load_scenario(name)
            table.add_row(name, scenario.description)
        except ScenarioError as exc:
            table.add_row(name, f"[red]invalid: {exc.reason}[/]")
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
