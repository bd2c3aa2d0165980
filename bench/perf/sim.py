"""Benchmark of the `sim` runtime: simulated seconds and wire messages per wall second.

    python -m bench.perf.sim [--scale N] [--repeat K]

`--scale N` multiplies smoke's stations, drivers and arrival rate by N (one CPO, same tariff), to
show how the figures hold up as the world grows. Prints one line per run and the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench.logs import configure_run_logging
from bench.runtime.sim import SimRuntime
from bench.scenario import load_scenario
from bench.trace import WireTrace
from bench.world import build_world


def scaled(scale: int) -> tuple[object, Path]:
    scenario, base = load_scenario("smoke")
    if scale == 1:
        return scenario, base
    cpo = scenario.cpos[0]
    location = cpo.locations[0]
    stations = [
        station.model_copy(update={"id": f"{station.id}-x{copy}"})
        for copy in range(scale)
        for station in location.stations
    ]
    location = location.model_copy(update={"stations": stations})
    cpo = cpo.model_copy(update={"locations": [location]})
    demand = scenario.demand.model_copy(
        update={
            "drivers": scenario.demand.drivers * scale,
            "arrivals_per_hour": scenario.demand.arrivals_per_hour * scale,
        }
    )
    return scenario.model_copy(update={"cpos": [cpo], "demand": demand}), base


def run_once(scale: int, out: Path) -> tuple[float, float, int, int]:
    scenario, base = scaled(scale)
    world = build_world(
        scenario,  # type: ignore[arg-type]
        base,
        emsp_base_url="http://emsp.local/ocpi",
        cpo_base_urls={c.id: f"http://{c.id}.cpo.local/ocpi" for c in scenario.cpos},  # type: ignore[attr-defined]
    )
    trace = WireTrace(out / "trace.jsonl")
    started = time.perf_counter()
    result = SimRuntime(world, trace).run()
    wall = time.perf_counter() - started
    trace.close()
    simulated = (result.ended_at - world.scenario.start).total_seconds()
    sessions = sum(len(s.truth) for s in world.stations.values())
    return wall, simulated, sum(trace.counts.values()), sessions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configure_run_logging(None)  # the figures are about the models and the runtime, not log I/O
    rates, msg_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            wall, simulated, messages, sessions = run_once(args.scale, Path(tmp))
            rates.append(simulated / wall)
            msg_rates.append(messages / wall)
            print(
                f"scale {args.scale}: {sessions} visits, {messages} messages, {wall:.3f} s wall, "
                f"{simulated / wall:,.0f} sim-s/wall-s, {messages / wall:,.0f} msg/s"
            )
        tracemalloc.start()
        run_once(args.scale, Path(tmp))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"median: {statistics.median(rates):,.0f} simulated seconds per wall second, "
        f"{statistics.median(msg_rates):,.0f} messages per wall second; "
        f"peak traced memory {peak / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
