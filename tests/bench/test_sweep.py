"""`emsp-bench sweep`: the grid, its validation, the scaling fits, and the same figures on Dask."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.scenario import BUILTIN_DIR, ScenarioError
from bench.sweep import grid, parse_axes, plan, validate
from reports.sweep import SweepAxis, fit, scaling_fits

runner = CliRunner()


def _tiny(tmp_path: Path) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "smoke.yaml").read_text())
    data["name"] = "tiny"
    data["duration_minutes"] = 20
    data["settle_minutes"] = 10
    data["demand"] |= {"drivers": 3, "arrivals_per_hour": 6, "stay_minutes": {"min": 5, "max": 10}}
    data["cpos"][0]["tariffs"]["STD"] = str(BUILTIN_DIR / "tariffs" / "standard.json")
    data["cpos"][0]["locations"][0]["stations"] = data["cpos"][0]["locations"][0]["stations"][:2]
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_grid_is_every_combination_first_axis_slowest(tmp_path: Path) -> None:
    axes = parse_axes(["demand.arrivals_per_hour=50,100,200", "cpos[0].ocpi_link.latency_ms=80,2000"])
    points = [tuple(o.value for o in point) for point in grid(axes)]
    assert points == [(50, 80), (50, 2000), (100, 80), (100, 2000), (200, 80), (200, 2000)]
    assert [a.is_load for a in axes] == [True, False]
    specs = plan("smoke", axes, [1, 2], tmp_path)
    assert len(specs) == 12 and specs[3].out == str(tmp_path / "runs" / "p1-seed2")
    assert all(s.trace == "off" and not s.report for s in specs)


def test_the_same_path_twice_is_refused() -> None:
    with pytest.raises(ScenarioError, match="swept twice"):
        parse_axes(["demand.drivers=1,2", "demand.drivers=3"])


@pytest.mark.parametrize(
    ("sets", "metrics", "field", "reason"),
    [
        (["demand.arrivals_per_hour=50,-1"], [], "demand.arrivals_per_hour", "greater than 0"),
        (["demand.nope=1,2"], [], "--set demand.nope", "is not a field"),
        ([], ["sessions.complete"], "--metric sessions.complete", "is not a summary path"),
        ([], ["partners.cpo-zz.cdrs"], "--metric partners.cpo-zz.cdrs", "is not a summary path"),
        # The table's own columns: a second 'seed' column would claim values that never ran.
        (["seed=1,2"], [], "--set seed", "use --seeds"),
        ([], ["seed"], "--metric seed", "already a column"),
        (["demand.drivers=1,2"], ["demand.drivers"], "--metric demand.drivers", "already a column"),
    ],
)
def test_an_invalid_point_or_metric_is_refused_before_any_run(
    sets: list[str], metrics: list[str], field: str, reason: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        validate("smoke", parse_axes(sets), metrics or ["sessions.completed"])
    assert caught.value.field == field and reason in caught.value.reason


def test_the_cli_names_a_bad_metric_and_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sweep", "smoke", "--metric", "nope.x", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "--metric nope.x" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("args", [["--set", "seed=1,2"], ["--metric", "seed"]])
def test_the_cli_refuses_a_second_seed_column_with_exit_2(tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["sweep", "smoke", *args, "--seeds", "1", "--out", str(tmp_path / "s")])
    assert result.exit_code == 2 and "seed" in result.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("y_of_x", "model"),
    [(lambda x: 3 + 2 * x, "linear"), (lambda x: 5 * x**1.5, "power"), (lambda x: 0.5 * x**0.5, "power")],
)
def test_an_exact_curve_fits_with_r2_one(y_of_x: object, model: str) -> None:
    x = np.array([50.0, 100.0, 200.0, 400.0])
    assert callable(y_of_x)
    fits = {name: (formula, r2) for name, formula, r2 in fit(x, y_of_x(x))}
    assert math.isclose(fits[model][1], 1.0, abs_tol=1e-9)


def test_fits_need_three_load_levels_and_skip_failed_runs() -> None:
    axes = [SweepAxis("demand.arrivals_per_hour", True), SweepAxis("cpos[0].ocpi_link.latency_ms", False)]
    df = pd.DataFrame(
        {
            "demand.arrivals_per_hour": [50, 100, 200, 50, 100],
            "cpos[0].ocpi_link.latency_ms": [80, 80, 80, 2000, 2000],
            "exit_code": [0, 1, 0, 0, 3],
            "sessions.completed": [10, 20, 40, 10, None],
        }
    )
    fits = scaling_fits(df, axes, ["sessions.completed"])
    at_80 = fits[fits["others"] == "cpos[0].ocpi_link.latency_ms=80"]
    assert set(at_80["model"]) == {"linear", "power"} and (at_80["r2"] == 1.0).all()
    at_2000 = fits[fits["others"] == "cpos[0].ocpi_link.latency_ms=2000"]
    assert at_2000["model"].tolist() == ["none"] and at_2000["points"].tolist() == [1]


@pytest.mark.slow
def test_a_grid_gives_identical_figures_locally_and_on_a_dask_local_cluster(tmp_path: Path) -> None:
    scenario = _tiny(tmp_path)
    args = ["sweep", str(scenario), "--set", "demand.arrivals_per_hour=3,6,12"]
    args += ["--set", "cpos[0].ocpi_link.latency_ms=80,2000", "--seeds", "1", "--jobs", "2"]
    local = runner.invoke(app, [*args, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    on_dask = runner.invoke(app, [*args, "--dask", "local", "--out", str(tmp_path / "dask")])
    assert on_dask.exit_code == 0, on_dask.output
    for name in ("sweep.csv", "fits.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()
    table = pd.read_csv(tmp_path / "local" / "sweep.csv")
    assert len(table) == 6 and (table["exit_code"] == 0).all()
    # The link latency shows in the authorization latency: the swept value really reached the run.
    slow = table[table["cpos[0].ocpi_link.latency_ms"] == 2000]["authorizations.latency_ms.p99"]
    assert (slow >= 4000).all()
    html = (tmp_path / "local" / "sweep.html").read_text()
    assert html.count("data:image/png;base64,") == 8  # 4 metrics x 2 parameters, embedded
    assert (tmp_path / "local" / "sweep.parquet").is_file()
