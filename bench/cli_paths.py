"""Output paths of the CLI, checked before any work starts.

A path the command cannot write (a file where a directory is wanted, a directory where a file is,
a parent that is a file or not writable) is invalid input: exit 2 naming the option, before a run
starts, never a traceback and exit 1 after it (1 grades the eMSP as failed in CI). The check
tries what it can (a file created and removed in the directory that would hold the output: root
passes every `os.access`, but not a read-only mount or /proc); it cannot foresee a full disk, so a
file written at the end goes through `write_output`, which says the same on failure.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer


def _creatable(path: Path) -> str | None:
    """Why `path` (absent) cannot be created with its missing parents, or None."""
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor} is a file, not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create it: {ancestor} is not writable"
    return _cannot_write_in(ancestor)


def _cannot_write_in(directory: Path) -> str | None:
    """Why no file can be created in `directory` (an existing one), found by trying, or None."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as exc:
        return f"cannot write in {directory}: {exc.strerror or exc}"


def dir_problem(path: Path) -> str | None:
    """Why `path` cannot be used as an output directory, or None."""
    if path.exists():
        if not path.is_dir():
            return "is a file, not a directory"
        return _cannot_write_in(path) if os.access(path, os.W_OK | os.X_OK) else "is not writable"
    return _creatable(path)


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be written as an output file, or None."""
    if path.is_dir():
        return "is a directory, not a file"
    if path.exists():
        if not os.access(path, os.W_OK):
            return "is not writable"
        if not path.is_file():  # a pipe or device: opening it may block (a FIFO without a reader)
            return None
        try:
            with path.open("a"):  # opened to append, nothing written: its content stays
                return None
        except OSError as exc:
            return f"cannot be written: {exc.strerror or exc}"
    return _creatable(path)


def check_output(path: Path, option: str, *, directory: bool) -> None:
    """Exit 2 naming `option` when `path` cannot be written (a directory when `directory`)."""
    problem = dir_problem(path) if directory else file_problem(path)
    if problem is not None:
        typer.echo(f"invalid input: {path}: {option}: {problem}", err=True)
        raise typer.Exit(2)


def write_output(path: Path, text: str, option: str) -> None:
    """Write `text` to `path`, creating its parents; a failure is invalid input: exit 2 naming
    `option` (`run --out` does the same when its directory cannot be made), never a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"invalid input: {path}: {option}: cannot be written: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from exc
