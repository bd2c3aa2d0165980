"""A sweep's table -> scaling fits, plots of each metric against each swept parameter, one HTML page.

The table (one row per run: swept values, seed, exit code, metrics) is written as CSV (exact figures)
and, when pyarrow is installed, Parquet (metrics as float64, for analysis). Plots show the mean over
seeds with a band from the lowest to the highest seed; one line per combination of the other swept
parameters. Where the parameter is load, a straight line and a power law are fitted to the means
(least squares; the power law in log-log space) and each is given with its R² on the metric itself.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

FIT_COLUMNS = ("metric", "parameter", "others", "model", "formula", "r2", "points", "best")


@dataclass(frozen=True, slots=True)
class SweepAxis:
    path: str
    is_load: bool


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(
        series.map(lambda v: float(v) if isinstance(v, Decimal | int | float) else v), errors="coerce"
    )


def _groups(df: pd.DataFrame, others: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    if not others:
        return [("", df)]
    out = []
    for key, part in df.groupby(list(others), sort=False):
        values = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{p}={v}" for p, v in zip(others, values, strict=True)), part))
    return out


def _r2(y: np.ndarray, predicted: np.ndarray) -> float:
    residual = float(np.sum((y - predicted) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else float("nan")
    return 1 - residual / total


def fit(x: np.ndarray, y: np.ndarray) -> list[tuple[str, str, float]]:
    """(model, formula, R²) for a straight line and, where x and y are positive, a power law."""
    fits = []
    slope, intercept = np.polyfit(x, y, 1)
    fits.append(("linear", f"y = {intercept:.4g} + {slope:.4g}·x", _r2(y, intercept + slope * x)))
    if (x > 0).all() and (y > 0).all():
        exponent, log_a = np.polyfit(np.log(x), np.log(y), 1)
        a = math.exp(log_a)
        fits.append(("power", f"y = {a:.4g}·x^{exponent:.3f}", _r2(y, a * x**exponent)))
    return fits


def scaling_fits(df: pd.DataFrame, axes: Sequence[SweepAxis], metrics: Sequence[str]) -> pd.DataFrame:
    """Fits of each metric's mean over seeds against each load parameter, the others held fixed."""
    ok = df[df["exit_code"].isin([0, 1])]
    rows: list[tuple[str, str, str, str, str, float | None, int, str]] = []
    for axis, metric in itertools.product([a for a in axes if a.is_load], metrics):
        others = [a.path for a in axes if a.path != axis.path]
        for label, part in _groups(ok, others):
            means = (
                pd.DataFrame({"x": _numeric(part[axis.path]), "y": _numeric(part[metric])})
                .dropna()
                .groupby("x")["y"]
                .mean()
            )
            if len(means) < 3:
                too_few = "needs 3 load levels or more"
                rows.append((metric, axis.path, label, "none", too_few, None, len(means), ""))
                continue
            x, y = means.index.to_numpy(dtype=float), means.to_numpy(dtype=float)
            fits = fit(x, y)
            best = max(fits, key=lambda f: -1.0 if math.isnan(f[2]) else f[2])[0]
            for model, formula, r2 in fits:
                mark = "yes" if model == best else ""
                rows.append((metric, axis.path, label, model, formula, round(r2, 4), len(means), mark))
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))


def plot_metric(
    df: pd.DataFrame, axes: Sequence[SweepAxis], axis: SweepAxis, metric: str, path: Path
) -> Path:
    ok = df[df["exit_code"].isin([0, 1])]
    others = [a.path for a in axes if a.path != axis.path]
    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    ax = fig.subplots()
    levels = list(dict.fromkeys(df[axis.path].tolist()))
    numeric = _numeric(pd.Series(levels)).notna().all()
    position = {v: (float(v) if numeric else i) for i, v in enumerate(levels)}
    for index, (label, part) in enumerate(_groups(ok, others)):
        stats = (
            pd.DataFrame({"x": part[axis.path].map(position), "y": _numeric(part[metric])})
            .dropna()
            .groupby("x")["y"]
            .agg(["mean", "min", "max"])
            .sort_index()
        )
        if stats.empty:
            continue
        color = f"C{index % 10}"
        ax.plot(stats.index, stats["mean"], marker="o", color=color, label=label or "mean over seeds")
        ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2)
    if not numeric:
        ax.set_xticks(list(position.values()), [str(v) for v in levels])
    ax.set_xlabel(axis.path)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}\nvs {axis.path}", fontsize=10)
    ax.legend(fontsize=8, title="mean; band: lowest-highest seed", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def write_sweep(
    out: Path, title: str, df: pd.DataFrame, axes: Sequence[SweepAxis], metrics: Sequence[str]
) -> dict[str, Path]:
    """sweep.csv (+ sweep.parquet), fits.csv, one PNG per metric x parameter, sweep.html."""
    out.mkdir(parents=True, exist_ok=True)
    written = {"csv": out / "sweep.csv", "fits": out / "fits.csv", "html": out / "sweep.html"}
    df.to_csv(written["csv"], index=False, lineterminator="\n")
    try:
        import pyarrow  # noqa: F401

        numeric = df.copy()
        for column in metrics:
            numeric[column] = _numeric(numeric[column]).astype("float64")
        for axis in axes:
            as_number = _numeric(numeric[axis.path])
            numeric[axis.path] = as_number if as_number.notna().all() else numeric[axis.path].astype(str)
        numeric.to_parquet(out / "sweep.parquet", index=False)
        written["parquet"] = out / "sweep.parquet"
    except ImportError:
        pass
    fits = scaling_fits(df, axes, metrics)
    fits.to_csv(written["fits"], index=False, lineterminator="\n")
    images = []
    for metric, axis in itertools.product(metrics, axes):
        name = f"plot_{_slug(metric)}__{_slug(axis.path)}.png"
        images.append(plot_metric(df, axes, axis, metric, out / name))
    written["html"].write_text(_page(title, df, fits, images), encoding="utf-8")
    return written


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def _table_html(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, df: pd.DataFrame, fits: pd.DataFrame, images: Sequence[Path]) -> str:
    figures = "".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode()}"></figure>'
        for p in images
    )
    fits_html = _table_html(fits) if not fits.empty else "<p>No load parameter swept: no scaling fit.</p>"
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Scaling fits (mean over seeds; R² on the metric)</h2>{fits_html}"
        f"<h2>Plots</h2>{figures}<h2>Runs ({len(df)})</h2>{_table_html(df)}</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}"
    "table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #ddd;padding:.2rem .5rem}"
    "th{background:#f4f4f4}figure{display:inline-block;margin:0 1rem 1rem 0}img{max-width:100%}"
)
