"""PNG plots of a run. Deterministic bytes: fixed size/dpi, matplotlib default style, no metadata.

Figures are built with the object API (`matplotlib.figure.Figure`) rather than pyplot: no global
figure registry to leak into or close, no GUI backend selected, safe to call from any thread. PNG
export goes through the Agg canvas regardless of the process-wide backend.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import style
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

FIGSIZE = (8.0, 4.5)
DPI = 100
BIN = "15min"
PERCENTILES = (50, 95, 99)
_MATCHED = "matched"


def plot_sessions_over_time(sessions: pd.DataFrame, path: Path) -> Path:
    """Active sessions (step) and session starts per 15-minute bin, sharing a UTC time axis."""
    starts = _naive_utc(sessions["started_at"]) if len(sessions) else pd.Series([], dtype="datetime64[us]")
    starts = starts.dropna()
    if starts.empty:
        return _save_no_data(path, "Sessions over time")
    ends = _naive_utc(sessions["ended_at"])
    with _figure() as fig:
        ax_active, ax_starts = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
        times, active = _active_steps(starts, ends.loc[starts.index])
        ax_active.step(times, active, where="post", color="C0")
        ax_active.set_ylabel("active sessions")
        ax_active.set_title("Sessions over time")
        ax_active.set_ylim(bottom=0)
        ax_active.yaxis.set_major_locator(MaxNLocator(integer=True))

        per_bin = starts.dt.floor(BIN).value_counts().sort_index()
        width = pd.Timedelta(BIN) / pd.Timedelta(days=1)  # bar width in matplotlib date units (days)
        ax_starts.bar(per_bin.index.to_numpy(), per_bin.to_numpy(), width=width, align="edge", color="C1")
        ax_starts.set_ylabel(f"starts / {BIN}")
        ax_starts.set_xlabel("time (UTC)")
        ax_starts.yaxis.set_major_locator(MaxNLocator(integer=True))
        _date_axis(ax_starts)
        return _save(fig, path)


def plot_authorization_latency(
    authorizations: pd.DataFrame, path: Path, *, marks: Mapping[str, float] | None = None
) -> Path:
    """Latency histogram with p50/p95/p99 lines. `marks` (e.g. the summary's official percentiles,
    keys "p50"/"p95"/"p99") override percentiles computed here so plot and KPI table agree."""
    latencies = (
        pd.to_numeric(authorizations["latency_ms"], errors="coerce").dropna().to_numpy(dtype=float)
        if len(authorizations)
        else np.array([], dtype=float)
    )
    if latencies.size == 0:
        return _save_no_data(path, "Authorization latency")
    with _figure() as fig:
        ax = fig.subplots()
        bins = int(min(50, max(10, np.sqrt(latencies.size))))
        ax.hist(latencies, bins=bins, color="C0", alpha=0.8)
        for (label, value), line in zip(_percentile_marks(latencies, marks), ("--", "-.", ":"), strict=True):
            ax.axvline(value, color="C3", linestyle=line, label=f"{label} = {value:g} ms")
        ax.set_title(f"Authorization latency (n = {latencies.size})")
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("authorizations")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper right")
        return _save(fig, path)


def plot_latency_per_partner(authorizations: pd.DataFrame, path: Path) -> Path:
    """Authorization latency over scenario time, one colour per partner: every answer as a dot and the
    p95 of each 15-minute bin as a line, so one partner degrading stands out against the others."""
    if not len(authorizations):
        return _save_no_data(path, "Authorization latency per partner")
    data = pd.DataFrame(
        {
            "at": _naive_utc(authorizations["at"]),
            "partner": authorizations["partner"].astype(str),
            "latency": pd.to_numeric(authorizations["latency_ms"], errors="coerce"),
        }
    ).dropna()
    if data.empty:
        return _save_no_data(path, "Authorization latency per partner")
    with _figure() as fig:
        ax = fig.subplots()
        for index, (partner, rows) in enumerate(sorted(data.groupby("partner"), key=lambda kv: str(kv[0]))):
            colour = f"C{index % 10}"
            ax.scatter(rows["at"].to_numpy(), rows["latency"].to_numpy(), s=6, color=colour, alpha=0.35)
            p95 = rows.groupby(rows["at"].dt.floor(BIN))["latency"].quantile(0.95, interpolation="higher")
            middle = p95.index + pd.Timedelta(BIN) / 2  # a bin's figure belongs to its middle
            ax.plot(middle.to_numpy(), p95.to_numpy(), color=colour, marker="o", markersize=3,
                    label=f"{partner} p95 / {BIN}")  # fmt: skip
        ax.set_title("Authorization latency per partner (at the CPO, scenario time)")
        ax.set_xlabel("time (UTC)")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower left", fontsize="small")  # the lines run along the top
        _date_axis(ax)
        return _save(fig, path)


def plot_energy(sessions: pd.DataFrame, path: Path) -> Path:
    """Truth vs CDR energy per session, matched vs mismatched, with the y = x diagonal."""
    if len(sessions):
        both = sessions["truth_energy_kwh"].notna() & sessions["cdr_energy_kwh"].notna()
        points = sessions.loc[both]
    else:
        points = sessions
    if points.empty:
        return _save_no_data(path, "Energy: truth vs CDR")
    truth = points["truth_energy_kwh"].map(float).to_numpy(dtype=float)
    cdr = points["cdr_energy_kwh"].map(float).to_numpy(dtype=float)
    matched = (points["class"] == _MATCHED).to_numpy()
    with _figure() as fig:
        ax = fig.subplots()
        top = float(max(truth.max(), cdr.max(), 0.0)) * 1.05 or 1.0
        ax.plot([0, top], [0, top], color="0.6", linewidth=1, label="CDR = truth")
        ax.scatter(truth[matched], cdr[matched], s=14, color="C0", label=f"matched ({matched.sum()})")
        ax.scatter(
            truth[~matched], cdr[~matched], s=22, color="C3", marker="x", label=f"other ({(~matched).sum()})"
        )
        ax.set_title("Energy per session: truth vs CDR")
        not_shown = len(sessions) - len(points)
        if not_shown:
            # Typically missing CDRs or refused tokens: say so rather than silently dropping them.
            note = f"{not_shown} row(s) without both truth and CDR energy not shown"
            ax.text(
                0.98, 0.02, note, ha="right", va="bottom", fontsize=8, color="0.4", transform=ax.transAxes
            )
        ax.set_xlabel("truth (kWh)")
        ax.set_ylabel("CDR (kWh)")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal", adjustable="box")
        ax.legend(loc="upper left")
        return _save(fig, path)


def _active_steps(starts: pd.Series, ends: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Step series of concurrently active sessions. Open sessions stay active to the last event."""
    last = max(starts.max(), ends.max()) if ends.notna().any() else starts.max()
    events = [(t, 1) for t in starts] + [(t, -1) for t in ends.dropna()]
    events.sort(key=lambda e: (e[0], e[1]))  # at equal times ends come first: no phantom peak
    times = [events[0][0], *[t for t, _ in events], last]
    counts = np.cumsum([0, *[d for _, d in events]])
    return np.array(times, dtype="datetime64[us]"), np.append(counts, counts[-1])


def _percentile_marks(values: np.ndarray, marks: Mapping[str, float] | None) -> list[tuple[str, float]]:
    result = []
    for pct in PERCENTILES:
        key = f"p{pct}"
        given = marks.get(key) if marks else None
        value = float(given) if isinstance(given, int | float) else float(np.percentile(values, pct))
        result.append((key, value))
    return result


def _naive_utc(values: pd.Series) -> pd.Series:
    # matplotlib's date converter is happiest with naive datetimes; the axis is labelled UTC.
    times = pd.to_datetime(values, utc=True)
    return times.dt.tz_localize(None)


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


@contextmanager
def _figure() -> Iterator[Figure]:
    # The default style ignores any user matplotlibrc, so output does not depend on the machine.
    with style.context("default"):
        yield Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Software=None drops the "matplotlib version …" tEXt chunk; PNGs carry no date by default.
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _save_no_data(path: Path, title: str) -> Path:
    with _figure() as fig:
        ax = fig.subplots()
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(
            0.5, 0.5, "no data", ha="center", va="center", fontsize=16, color="0.5", transform=ax.transAxes
        )
        return _save(fig, path)
