"""`emsp-bench dialects [NAME|FILE]`: the mock CPO's dialect profiles (personas) and their knobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.cli_output import print_table
from simulators.dialects.profile import DialectError, load_profile, profile_names


def dialects(
    name: Annotated[
        str | None,
        typer.Argument(help="A built-in profile name or a profile YAML file: print the knobs it sets."),
    ] = None,
    all_knobs: Annotated[
        bool, typer.Option("--all", help="With NAME: every knob, not only those set away from spec-strict.")
    ] = False,
) -> None:
    """List the built-in CPO dialect profiles, or show the knobs one of them sets (exit 2: invalid)."""
    if name is None:
        rows: list[tuple[str, int | str, str]] = []
        for builtin in profile_names():
            try:
                profile = load_profile(builtin)
                rows.append((builtin, len(profile.non_default()), profile.description))
            except DialectError as exc:
                rows.append((builtin, "-", f"invalid: {exc}"))
        print_table("", ("name", "knobs", "description"), rows)
        return
    try:
        profile = load_profile(name, Path.cwd())
    except DialectError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{profile.name}: {profile.description}")
    knobs = profile.model_dump(exclude={"name", "description"}) if all_knobs else profile.non_default()
    if not knobs:
        typer.echo("(every knob as spec-strict)")
        return
    print_table("", ("knob", "value"), [(k, _text(v)) for k, v in knobs.items()])


def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
