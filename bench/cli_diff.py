"""`emsp-bench diff RUN_A RUN_B`: what changed between two run directories; a CI gate on metrics."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from bench.cli_output import print_table
from bench.cli_paths import check_output, write_output


def diff(
    run_a: Annotated[Path, typer.Argument(help="The reference run directory (holds summary.json).")],
    run_b: Annotated[Path, typer.Argument(help="The run directory compared with it.")],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            metavar="PATH[:up|:down]",
            help="A summary path to gate on (repeatable). The bad direction is inferred (up for latencies, "
            "refusals and mismatch classes, down otherwise) or given after ':'.",
        ),
    ] = None,
    max_regression: Annotated[
        list[str] | None,
        typer.Option(
            "--max-regression",
            metavar="PCT",
            help="How far (percent of RUN_A's value) a --metric may move in its bad direction: once for "
            "all, or once per --metric in order. Default 0.",
        ),
    ] = None,
    html_file: Annotated[
        Path | None, typer.Option("--html", help="Also write the comparison as HTML.")
    ] = None,
) -> None:
    """Show the summary figures, per-partner figures, reconciliation classes, expectations and scenario
    settings that differ; exit 1 when a --metric regressed past its --max-regression, 2 on invalid input."""
    from reports.diff import check_gates, diff_runs, parse_gate, render_html, table_rows
    from reports.load import RunRecordsError

    if html_file is not None:
        check_output(html_file, "--html", directory=False)
    metrics, limits = metric or [], max_regression or []
    if limits and not metrics:
        _invalid("--max-regression: give the --metric it applies to")
    if len(limits) not in (0, 1, len(metrics)):
        _invalid(
            f"--max-regression: give it once, or once per --metric ({len(metrics)}), not {len(limits)} times"
        )
    try:
        pcts = [Decimal(text) for text in limits] or [Decimal(0)]
    except InvalidOperation:
        _invalid(f"--max-regression: not a number: {limits}")
    if any(not p.is_finite() or p < 0 for p in pcts):
        _invalid("--max-regression: a percentage >= 0")
    try:
        gates = [parse_gate(m, pcts[i] if len(pcts) > 1 else pcts[0]) for i, m in enumerate(metrics)]
        result = diff_runs(run_a, run_b)
        outcomes = check_gates(run_a, run_b, gates)
    except (RunRecordsError, ValueError) as exc:
        _invalid(str(exc))
    print(f"A: {result.label_a}  ({run_a})")
    print(f"B: {result.label_b}  ({run_b})")
    if result.expectations:
        rows = [(c.name, c.a, c.b) for c in result.expectations]
        print_table("expectations that changed", ("expectation", "A", "B"), rows)
    print_table(
        f"{len(result.figures)} figures changed, {result.unchanged} the same",
        ("section", "figure", "A", "B", "change", "%"),
        table_rows(result),
    )
    for outcome in outcomes:
        print(outcome.line())
    if html_file is not None:
        write_output(html_file, render_html(result, outcomes), "--html")
        print(f"html: {html_file}")
    raise typer.Exit(1 if any(o.regressed for o in outcomes) else 0)


def _invalid(reason: str) -> NoReturn:
    typer.echo(f"invalid input: {reason}", err=True)
    raise typer.Exit(2)
