"""Terminal output of the CLI: rich on a terminal; plain, non-wrapping lines in CI logs and pipes.

A CI log (CI=true) or a pipe gets no colour, no box drawing, no progress bar and no wrapping at 80
columns: each row is one line a person can read and a script can grep.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def fancy(stream: object = None) -> bool:
    """Rich output only on an interactive terminal outside CI."""
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty()) and not in_ci()


def print_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], *, console: Console | None = None
) -> None:
    text = plain_table(title, headers, rows)
    console = console or Console()
    # Rich only when the table fits: it would otherwise cut figures short ("238.0…").
    if fancy() and max(map(len, text.splitlines()), default=0) + 3 * len(headers) < console.width:
        table = Table(*headers, title=title)
        for row in rows:
            table.add_row(*(str(cell) for cell in row))
        console.print(table)
        return
    print(text)


def plain_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Aligned columns, two spaces apart, never wrapped (CI logs are wide)."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title] if title else []
    for row in cells:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


class RunProgress:
    """Progress of one run: fraction done -> the scenario time reached (once the span is known)."""

    def __init__(self, update: Callable[[float, str], None], start: datetime, span: timedelta) -> None:
        self._update, self.start, self.span = update, start, span

    def span_known(self, start: datetime, stop: datetime) -> None:
        self.start, self.span = start, stop - start

    def __call__(self, done: float) -> None:
        at = self.start + self.span * max(0.0, min(1.0, done))
        self._update(done, at.strftime("%a %H:%M UTC"))


@contextmanager
def run_progress(label: str, start: datetime, span: timedelta, *, enabled: bool) -> Iterator[RunProgress]:
    """A progress bar with the scenario time reached and the ETA; a no-op when not `enabled`.
    `span` is an estimate until the runner tells the real one (`RunProgress.span_known`)."""
    err = Console(stderr=True)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("scenario {task.fields[at]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1.0, at="")
        yield RunProgress(lambda done, at: bar.update(task, completed=done, at=at), start, span)


@contextmanager
def count_progress(label: str, total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """Runs done of `total` with the ETA (suites and sweeps); a no-op when not `enabled`."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)
