"""The sim benchmark's worlds and its fit: what the figures it prints are computed from."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.perf.sim import _fit, _marginal_memory
from bench.perf.sim_memory import _world_size
from bench.perf.sim_worlds import codec_round_trips, sized


def test_the_fit_finds_a_line_and_says_how_well_it_fits() -> None:
    a, b, r2 = _fit([1.0, 2.0, 4.0, 8.0], [3.0, 5.0, 9.0, 17.0])
    assert (round(a, 9), round(b, 9), round(r2, 9)) == (1.0, 2.0, 1.0)
    assert _fit([1.0, 2.0, 3.0, 4.0], [1.0, 4.0, 9.0, 16.0])[2] < 0.98  # a square is not constant cost


def test_the_marginal_memory_names_objects_and_database_file_apart() -> None:
    kib = 1024
    runs = [
        {"rss_built": 0, "rss_end": 100 * kib, "db_bytes": 50 * kib},
        {"rss_built": 10 * kib, "rss_end": 410 * kib, "db_bytes": 250 * kib},
    ]
    # 100 more sessions: (400 - 100) KiB kept and (250 - 50) KiB stored more
    line = _marginal_memory(runs, [100.0, 200.0], "file")
    assert "process objects (RSS kept) 3.00 KiB" in line and "database file 2.00 KiB = 5.00 KiB" in line
    line = _marginal_memory(runs, [100.0, 200.0], "memory")
    assert "(memory database): 3.00 KiB in total" in line


def test_a_sized_world_spreads_stations_over_sites_with_one_driver_per_visit() -> None:
    scenario, _ = sized(stations=40, sessions=200)
    (cpo,) = scenario.cpos
    assert len(cpo.locations) == 10 and all(len(loc.stations) == 4 for loc in cpo.locations)
    ids = [s.id for loc in cpo.locations for s in loc.stations]
    assert len(set(ids)) == 40
    assert (scenario.demand.drivers, scenario.demand.arrivals_per_hour) == (200, 100)


def test_the_memory_breakdown_grows_a_run_by_its_duration_unless_told_to_grow_the_world() -> None:
    # Same world and arrival rate, three times as long: only completed sessions differ.
    small, large = (sized(*_world_size(n, 500, "duration")) for n in (500, 1500))
    assert [len(loc.stations) for loc in small[0].cpos[0].locations] == [
        len(loc.stations) for loc in large[0].cpos[0].locations
    ]
    assert small[0].demand.arrivals_per_hour == large[0].demand.arrivals_per_hour == 250
    assert (small[0].duration_minutes, large[0].duration_minutes) == (120, 360)
    assert _world_size(1500, 500, "world") == (375, 1500, 2)


def test_the_codec_baseline_counts_validated_round_trips() -> None:
    assert codec_round_trips(0.01) > 0
    assert codec_round_trips(0.01, time.process_time) > 0  # per CPU second, as the sim's CPU figure


def test_a_child_run_reports_what_the_goals_need() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.perf.sim_child", "--scale", "1", "--trace", "off"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["stations"] == 4 and figures["messages"] > 0 and figures["cpu_s"] > 0
    assert 0 < figures["completed"] <= figures["sessions"]
    assert figures["rss_built"] > 0 and figures["rss_peak"] >= figures["rss_built"]


def test_a_child_run_on_a_database_file_reports_what_the_emsp_stored() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.perf.sim_child",
            "--scale",
            "1",
            "--trace",
            "off",
            "--database",
            "file",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["completed"] > 0 and figures["db_bytes"] > 0


def test_the_memory_breakdown_is_the_growth_per_line_between_two_runs() -> None:
    from bench.perf.sim_memory import marginal_by_line

    small = {"completed": 100, "lines": {"a.py:1": [1000, 10], "b.py:2": [500, 5], "once.py:3": [9000, 1]}}
    large = {"completed": 300, "lines": {"a.py:1": [5000, 50], "b.py:2": [500, 5], "new.py:4": [400, 2]}}
    assert marginal_by_line(small, large) == [
        (20.0, 0.2, "a.py:1"),  # 4000 B more over 200 sessions
        (2.0, 0.01, "new.py:4"),
        (0.0, 0.0, "b.py:2"),  # a one-off cost: no growth
        (-45.0, -0.005, "once.py:3"),
    ]
