"""The timeline's `link` events as windows per link, one reading for both runtimes (sim turns the
instants into its integer milliseconds, live keeps them as scenario datetimes)."""

from __future__ import annotations

from datetime import datetime

from bench.events import LinkChange
from bench.scenario import LinkSpec, Scenario

Window = tuple[datetime, datetime, LinkSpec]  # [from, until): the spec of a timeline `link` event


def link_windows(scenario: Scenario) -> dict[tuple[str, str], list[Window]]:
    """(cpo id, "ocpp" | "ocpi") -> the `link` windows of that link, in file order (first wins)."""
    windows: dict[tuple[str, str], list[Window]] = {}
    for event in scenario.events:
        if isinstance(event, LinkChange):
            spec = LinkSpec(
                latency_ms=event.latency_ms,
                jitter_ms=event.jitter_ms,
                loss=event.loss,
                duplicate=event.duplicate,
                reorder=event.reorder,
            )
            windows.setdefault((event.cpo, event.link), []).append((event.start, event.end, spec))
    return windows
