"""A large sim world is up within a driver's patience: the stations' staggered connections are
bounded in total, so its early drivers do not give up on stations that have not booted yet."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import yaml

from bench.runner import run_scenario
from bench.runtime.sim import BOOT_GAP_MS, BOOT_SPREAD_MS, connect_delay_ms

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_a_small_world_connects_its_stations_100_ms_apart_as_always() -> None:
    # The built-in scenarios (at most 210 stations) keep their timing, so their outputs too.
    for stations in (1, 4, 210, BOOT_SPREAD_MS // BOOT_GAP_MS):
        assert [connect_delay_ms(k, stations) for k in range(stations)] == [
            100 * (k + 1) for k in range(stations)
        ]


def test_a_large_world_connects_within_the_spread_in_order() -> None:
    stations = 25_000  # 100 ms apart: the last one 41.7 scenario minutes after the start
    delays = [connect_delay_ms(k, stations) for k in range(stations)]
    assert delays[-1] == BOOT_SPREAD_MS
    assert all(a < b for a, b in pairwise(delays))  # one after another, in order


def _boot_storm(tmp_path: Path, stations: int, patience_minutes: int) -> Path:
    """`stations` one-connector stations, drivers arriving from the first second on."""
    data = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    data |= {"name": "boot-storm", "duration_minutes": 2, "settle_minutes": 5, "expectations": []}
    data["cpos"][0]["tariffs"]["STD"] = str(SCENARIOS / "tariffs" / "standard.json")
    data["cpos"][0]["locations"][0]["stations"] = [
        {"id": f"CS-{i}", "ocpp": "1.6", "connectors": 1} for i in range(stations)
    ]
    data["demand"] |= {
        "drivers": 200,
        "unknown_tokens": 0,
        "arrivals_per_hour": 3000,
        "patience_minutes": patience_minutes,
        "stay_minutes": {"min": 1, "max": 2},
    }
    path = tmp_path / "boot-storm.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_early_drivers_in_a_large_world_find_their_station_booted_within_their_patience(
    tmp_path: Path,
) -> None:
    # 2,500 stations 100 ms apart took 250 s to connect: drivers of the first minute at the last
    # stations gave up after their 3 minutes of patience (14 of them), with a connector free for each.
    patience = 3
    assert timedelta(milliseconds=BOOT_SPREAD_MS) < timedelta(minutes=patience)
    outcome = run_scenario(str(_boot_storm(tmp_path, 2500, patience)), out=tmp_path / "run", report=False)
    start = outcome.world.scenario.start
    assert sum(a.at - start < timedelta(minutes=1) for a in outcome.world.arrivals) >= 40
    sessions = outcome.summary["sessions"]
    assert sessions["unserved_arrivals"] == 0
    assert sessions["started"] == len(outcome.world.arrivals)
