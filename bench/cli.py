"""`emsp-bench`: run scenarios, list them, price tariffs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bench.cli_conformance import conformance_app
from bench.cli_dialects import dialects
from bench.cli_diff import diff
from bench.cli_output import fancy, print_table, run_progress
from bench.cli_paths import check_output, write_output
from bench.cli_serve import serve_app
from bench.cli_suite import suite, sweep
from bench.cli_tariff import tariff_app
from bench.overrides import Override, OverrideError, parse_set
from bench.scenario import ScenarioError, builtin_names, load_scenario

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    help="Hardware-in-the-loop simulation and conformance test bench for eMSPs.",
    no_args_is_help=True,
    add_completion=False,
    context_settings=HELP_OPTIONS,
)
app.add_typer(tariff_app, name="tariff")
app.add_typer(serve_app, name="serve")
app.add_typer(conformance_app, name="conformance")
app.command()(suite)
app.command()(sweep)
app.command()(diff)
app.command()(dialects)
err = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"emsp-bench {version('emsp-bench')}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Hardware-in-the-loop simulation and conformance test bench for eMSPs."""


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
    speed: Annotated[
        float | None,
        typer.Option(help="live: scenario seconds per wall second (default 600; 1 with --csms-url)."),
    ] = None,
    csms_url: Annotated[
        str | None,
        typer.Option(
            "--csms-url",
            metavar="URL",
            help="live: every station connects to this external CSMS (ws:// or wss://, the station id "
            "appended) instead of a mock CPO's; only what the CSMS answers is graded.",
        ),
    ] = None,
    csms_port: Annotated[
        int | None,
        typer.Option(
            "--csms-port",
            metavar="PORT",
            help="live: the mock CSMS of the scenario's i-th CPO listens on PORT + i (a real charger "
            "configured in advance); more fixed ports under `ports:` in the scenario.",
        ),
    ] = None,
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
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="PATH=VALUE",
            help="Change one scenario field before validation, e.g. demand.arrivals_per_hour=100 or "
            "cpos[0].ocpi_link.latency_ms=2000. Repeatable.",
        ),
    ] = None,
) -> None:
    """Run a scenario; exit 0 when every expectation held, 1 when one failed, 2 on invalid input,
    3 when the run could not complete (a fault of the bench itself)."""
    from bench.runner import run_scenario
    from bench.runtime.faults import SimRuntimeError
    from bench.runtime.live import LiveRuntimeError
    from bench.truth import BenchDisagreement

    if runtime not in ("sim", "live"):
        typer.echo(f"error: --runtime: must be 'sim' or 'live', not {runtime!r}", err=True)
        raise typer.Exit(2)
    show = progress and fancy(sys.stderr)
    try:
        overrides = [parse_set(spec) for spec in set_ or []]
    except OverrideError as exc:
        typer.echo(f"invalid input: --set {exc.path}: {exc.reason}", err=True)
        raise typer.Exit(2) from exc
    try:
        start, span = _progress_estimate(scenario, overrides) if show else (datetime.now(UTC), timedelta())
        with run_progress(f"{scenario} ({runtime})", start, span, enabled=show) as bar:
            outcome = run_scenario(
                scenario,
                runtime="live" if runtime == "live" else "sim",
                seed=seed,
                out=out_dir,
                speed=speed,
                database_url=database_url,
                progress=bar,
                trace_mode=trace,  # type: ignore[arg-type]  # run_scenario validates it (exit 2)
                trace_gzip=trace_gzip,
                overrides=overrides,
                on_horizon=bar.span_known,
                csms_url=csms_url,
                csms_port=csms_port,
                on_endpoints=_print_endpoints,
            )
    except ScenarioError as exc:
        # Plain, unwrapped text: one line a CI log or a script can grep.
        typer.echo(f"invalid input: {exc}", err=True)
        raise typer.Exit(2) from exc
    except (LiveRuntimeError, SimRuntimeError, BenchDisagreement) as exc:
        typer.echo(f"run aborted (a fault of the bench, not of the eMSP): {exc}", err=True)
        raise typer.Exit(3) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:  # a bug of the bench: exit 3, never 1 (which grades the eMSP as failed)
        import traceback

        traceback.print_exc(file=sys.stderr)
        typer.echo(
            f"run aborted (a fault of the bench, not of the eMSP): {type(exc).__name__}: {exc}", err=True
        )
        raise typer.Exit(3) from exc
    _print_outcome(outcome)
    timing = outcome.summary.get("timing", {})
    if timing.get("valid") is False:  # said on the console too: the figures above describe the machine
        typer.echo(f"timing not valid: {timing.get('note', '')}", err=True)
    if outcome.fault_reason:  # exit 3 with timing valid: only stall-sized latency misses failed
        typer.echo(outcome.fault_reason, err=True)
    raise typer.Exit(outcome.exit_code)


def _print_endpoints(found: dict[str, object]) -> None:
    """Where a live run listens, on stderr as soon as it is known (also in endpoints.json)."""
    lines = ["endpoints (endpoints.json):"]
    emsp = found.get("emsp")
    if isinstance(emsp, dict):
        lines.append(f"  eMSP OCPI versions: {emsp['versions_url']}")
    cpos = found.get("cpos")
    for cpo_id, where in cpos.items() if isinstance(cpos, dict) else []:
        lines.append(f"  {cpo_id}: CSMS {where['csms_url']}<station id>")
        if "csms_tls_url" in where:
            lines.append(f"  {cpo_id}: CSMS (profiles 2, 3) {where['csms_tls_url']}<station id>")
        lines.append(f"  {cpo_id}: OCPI versions {where['ocpi_versions_url']}")
    hubs = found.get("hubs")
    for hub_id, where in hubs.items() if isinstance(hubs, dict) else []:
        lines.append(f"  {hub_id} (hub): OCPI versions {where['ocpi_versions_url']}")
    typer.echo("\n".join(lines), err=True)


def _progress_estimate(scenario: str, overrides: list[Override]) -> tuple[datetime, timedelta]:
    """Scenario start and a first guess of the span (the runner tells the real one in sim)."""
    loaded, _ = load_scenario(scenario, overrides)
    return loaded.start, timedelta(minutes=loaded.duration_minutes + loaded.settle_minutes)


def _print_outcome(outcome: object) -> None:
    from bench.runner import RunOutcome

    assert isinstance(outcome, RunOutcome)
    s, perf = outcome.summary, outcome.performance
    if s.get("mode") == "external_csms":
        from bench.external_csms import external_lines

        title = f"{s['scenario']} · seed {s['seed']} · live against an external CSMS"
        _print_rows(title, external_lines(s), outcome)
        return
    if s.get("mode") == "external_emsp":
        from bench.external_emsp import external_emsp_lines

        _print_rows(f"{s['scenario']} · seed {s['seed']} · live against an external eMSP",
                    external_emsp_lines(s), outcome)  # fmt: skip
        return
    auth, e = s["authorizations"], s["energy_kwh"]
    rows = [
        ("sessions started / completed", f"{s['sessions']['started']} / {s['sessions']['completed']}"),
        ("authorizations accepted / rejected", f"{auth['accepted']} / {auth['rejected']}"),
        ("authorization latency p50 / p95 ms", f"{auth['latency_ms']['p50']} / {auth['latency_ms']['p95']}"),
        ("energy kWh truth / cdr / invoiced", f"{e['truth']} / {e['cdr']} / {e['invoiced']}"),
        ("revenue", ", ".join(f"{v} {k}" for k, v in s["revenue"].items()) or "-"),
        ("reconciliation", ", ".join(f"{k} {v}" for k, v in s["reconciliation"].items() if v) or "-"),
        ("messages", ", ".join(f"{k} {v}" for k, v in s["messages"].items())),
        (
            "wall time",
            f"{perf['wall_seconds']} s ({perf['sim_seconds_per_wall_second']}x real time, "
            f"{perf['messages_per_wall_second']} msg/s)",
        ),
    ]
    title = f"{s['scenario']} · seed {s['seed']} · {s['runtime']}"
    _print_rows(title, rows, outcome)


def _print_rows(title: str, rows: list[tuple[str, str]], outcome: object) -> None:
    from bench.runner import RunOutcome

    assert isinstance(outcome, RunOutcome)
    if fancy():
        table = Table(title=title, show_header=False)
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:
        print(title)
        for name, value in rows:
            print(f"  {name}: {value}")
    for result in outcome.expectations:
        verdict = "PASS" if result.passed else "FAIL"
        line = f"{result.name}: {result.metric} {result.op} {result.expected} (got {result.actual})"
        if fancy():
            out.print(f"[{'green' if result.passed else 'red'}]{verdict}[/] {line}", highlight=False)
        else:
            print(f"{verdict} {line}")
    print(f"run directory: {outcome.run_dir}")


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory (holds summary.json).")]) -> None:
    """(Re)build report.html and its plots from a run directory's records."""
    from reports import RunRecordsError, write_report
    from reports.html import REPORT_FILE

    if run_dir.is_dir():  # not one: write_report says so (exit 2 below)
        check_output(run_dir / REPORT_FILE, "RUN_DIR", directory=False)
    try:
        page = write_report(run_dir)
    except RunRecordsError as exc:
        typer.echo(f"invalid run directory: {exc}", err=True)
        raise typer.Exit(2) from exc
    out.print(f"report: {page}")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    rows = []
    for name in builtin_names():
        try:
            scenario, _ = load_scenario(name)
            rows.append((name, ", ".join(scenario.tags) or "-", scenario.description))
        except ScenarioError as exc:
            rows.append((name, "-", f"invalid: {exc.reason}"))
    print_table("", ("name", "tags", "description"), rows)


@app.command("infer-dialect")
def infer_dialect(
    trace: Annotated[Path, typer.Argument(help="A wire trace (trace.jsonl[.gz]) in the bench's format.")],
    partner: Annotated[str | None, typer.Option(help="Actor id of the CPO (default: the first).")] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the profile here (default: stdout).")
    ] = None,
) -> None:
    """Infer the dialect profile of a CPO from a wire trace, with each knob's evidence line."""
    from bench.infer_dialect import as_profile, infer, partners_in, read_trace

    if out_file is not None:
        check_output(out_file, "--out", directory=False)
    try:
        lines = list(read_trace(trace))
    except (OSError, ValueError) as exc:
        typer.echo(f"{trace}: (file): not a readable wire trace: {exc}", err=True)
        raise typer.Exit(2) from exc
    known = [p for p in partners_in(lines) if p != "emsp"]
    if not known:
        typer.echo(f"{trace}: (file): holds no OCPI request of a CPO; nothing to infer from", err=True)
        raise typer.Exit(2)
    chosen = partner or known[0]
    if chosen not in known:
        typer.echo(f"{trace}: --partner: {chosen!r} sent no OCPI request; known: {known}", err=True)
        raise typer.Exit(2)
    text = as_profile(infer(lines, chosen), f"inferred-{chosen}", str(trace))
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        write_output(out_file, text, "--out")
        out.print(f"profile: {out_file}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
