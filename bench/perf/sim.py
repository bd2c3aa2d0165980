"""Benchmark of the `sim` runtime against the goals of issue 7 (scale and speed of `sim`).

    python -m bench.perf.sim [--scales 1,4,16] [--repeat K] [--trace full|full.gz|ocpi|off]
    python -m bench.perf.sim --sweep [--sizes 1000,2000,4000,8000]
    python -m bench.perf.sim --big [--build-only]
    (each with [--database memory|file])

Every measured run happens in a fresh child process, so its RSS is its own and no earlier run's
garbage or caches flatter it. Around the runs, this process measures the project's OCPP codec
(simulators/ocppj/codec.py: encode + schema validate + decode + validate of a typical frame mix)
and prints the sim's validated messages per wall second as a ratio of that rate, both from the same
run (the machine is shared: absolute figures move with its load, same-run ratios much less).

- **scales**: smoke with its stations, drivers and arrival rate multiplied by N (one location);
- **sweep**: worlds of four-station locations sized by sessions (2 hours), a linear fit of wall
  time against sessions (slope = wall seconds per session, R^2), and the marginal memory per
  completed session between the smallest and the largest;
- **big**: 5,000 stations, 20,000 sessions, 2 hours: wall time (world building and run) and peak RSS.

Memory per completed session is the RSS the run kept (after it, with the world still alive, minus
after building the world) divided by the sessions completed; the marginal figure between sizes
also removes one-off costs such as compiled schemas and caches. The sweep's worlds grow with their
sessions (stations, arrival rate), so its marginal also counts what is kept per station and per
session in flight; what completed sessions alone keep, the same world run longer, is
`bench.perf.sim_memory`'s default figure. With `--database file` the eMSP
stores in a SQLite file (as `emsp-bench run --database-url sqlite:///...`): the RSS kept is then
the process's own objects, and what the eMSP stored per session is printed apart (file size).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.perf.sim_worlds import codec_round_trips, scaled

__all__ = ["scaled"]  # bench.perf.live builds its worlds with it

KIB = 1024


def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.perf.sim_child", *args], check=True, capture_output=True, text=True
    )
    line = out.stdout.strip().splitlines()[-1]
    result: dict[str, Any] = json.loads(line)
    return result


def _codec_rate() -> float:
    """Round trips per wall second, best of three short bursts (less noise from neighbours)."""
    return max(codec_round_trips(0.5) for _ in range(3))


def _codec_cpu_rate() -> float:
    """Round trips per CPU second of this process (neighbours on a shared machine barely move it)."""
    return max(codec_round_trips(0.5, time.process_time) for _ in range(3))


def _line(label: str, r: dict[str, Any]) -> str:
    wall, completed = r["wall_s"], max(r["completed"], 1)
    kept = (r["rss_end"] - r["rss_built"]) / completed
    return (
        f"{label}: {r['stations']} stations, {r['sessions']} sessions ({r['completed']} completed), "
        f"{r['messages']} messages; build {r['build_s']:.2f} s, run {wall:.2f} s wall; "
        f"{r['simulated_s'] / wall:,.0f} sim-s/wall-s, {r['messages'] / wall:,.0f} msg/s, "
        f"{wall / completed * 1000:.2f} ms/session; CPU {r['cpu_s']:.2f} s: "
        f"{r['messages'] / r['cpu_s']:,.0f} msg/CPU-s, {r['cpu_s'] / completed * 1000:.2f} CPU-ms/session; "
        f"RSS after build {r['rss_built'] / 2**20:.0f} MiB, "
        f"peak {r['rss_peak'] / 2**20:.0f} MiB, kept {kept / KIB:.1f} KiB/completed session"
        + (
            f"; database file {r['db_bytes'] / completed / KIB:.1f} KiB/completed session"
            if "db_bytes" in r
            else ""
        )
    )


def _fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x: (a, b, R^2)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    b = sxy / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return a, b, 1 - ss_res / ss_tot if ss_tot else 1.0


def _codec_summary(
    rates: list[float], msg_rates: list[float], cpu_rates: list[float], msg_cpu: list[float]
) -> None:
    codec = statistics.median(rates)
    sim = statistics.median(msg_rates)
    print(
        f"codec: {codec:,.0f} encode+decode round trips per wall second (same run, median of "
        f"{len(rates)}); sim {sim:,.0f} msg/s = {sim / codec:.3f}x the codec (goal >= 0.6x, >= 50,000 msg/s)"
    )
    codec, sim = statistics.median(cpu_rates), statistics.median(msg_cpu)
    print(
        f"codec: {codec:,.0f} round trips per CPU second; sim {sim:,.0f} msg per CPU second = "
        f"{sim / codec:.3f}x the codec (CPU time: what a loaded, shared machine does not inflate)"
    )


def _marginal_memory(runs: list[dict[str, Any]], completed: list[float], database: str) -> str:
    """The marginal memory per completed session between the smallest and the largest run: with a
    memory database, the RSS kept (objects and stored rows together); with a file database, the
    process's own objects (RSS kept) and, apart, the database file's growth."""
    sessions = max(completed[-1] - completed[0], 1)
    kept = [r["rss_end"] - r["rss_built"] for r in runs]
    objects = (kept[-1] - kept[0]) / sessions / KIB
    if database == "memory":
        return (
            f"marginal memory kept per completed session (memory database): {objects:.2f} KiB "
            "in total, process objects and database together (goal <= 2 KiB)"
        )
    stored = (runs[-1]["db_bytes"] - runs[0]["db_bytes"]) / sessions / KIB
    return (
        f"marginal per completed session (file database): process objects (RSS kept) {objects:.2f} KiB "
        f"(goal <= 2 KiB) + database file {stored:.2f} KiB = {objects + stored:.2f} KiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scales", default="1,4,16", help="smoke multiplied by each (comma-separated)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scale (the median is reported)")
    parser.add_argument("--trace", choices=["full", "full.gz", "ocpi", "off"], default="full")
    parser.add_argument("--sweep", action="store_true", help="fit wall time per session over --sizes")
    parser.add_argument("--sizes", default="1000,2000,4000,8000", help="sessions per sweep world")
    parser.add_argument("--big", action="store_true", help="5,000 stations, 20,000 sessions, 2 hours")
    parser.add_argument("--build-only", action="store_true", help="with --big: build the world only")
    parser.add_argument(
        "--database",
        choices=["memory", "file"],
        default="memory",
        help="the eMSP's SQLite (file: in a temp dir)",
    )
    args = parser.parse_args()
    trace = ["--trace", args.trace, "--database", args.database]
    codec_rates, cpu_rates = [_codec_rate()], [_codec_cpu_rate()]
    msg_rates: list[float] = []
    msg_cpu: list[float] = []
    if args.big:
        r = _child(
            ["--sessions", "20000", "--stations", "5000", *trace, *(["--build-only"] * args.build_only)]
        )
        if args.build_only:
            print(
                f"big world: {r['stations']} stations, {r['sessions']} planned visits: built in "
                f"{r['build_s']:.2f} s, RSS {r['rss_built'] / 2**20:.0f} MiB "
                f"(+{(r['rss_built'] - r['rss_start']) / 2**20:.0f} MiB for the world)"
            )
            return
        print(_line("big", r) + f"; total {r['build_s'] + r['wall_s']:.1f} s (goal < 60 s on one core)")
        msg_rates.append(r["messages"] / r["wall_s"])
        msg_cpu.append(r["messages"] / r["cpu_s"])
    elif args.sweep:
        runs = []
        for size in [int(s) for s in args.sizes.split(",")]:
            r = _child(["--sessions", str(size), "--stations", str(max(size // 4, 4)), *trace])
            print(_line(f"sweep {size}", r), flush=True)
            runs.append(r)
            msg_rates.append(r["messages"] / r["wall_s"])
            msg_cpu.append(r["messages"] / r["cpu_s"])
            codec_rates.append(_codec_rate())
            cpu_rates.append(_codec_cpu_rate())
        xs = [float(r["completed"]) for r in runs]
        a, b, r2 = _fit(xs, [r["wall_s"] for r in runs])
        print(
            f"fit wall = {a:.3f} s + {b * 1000:.3f} ms x sessions: R^2 = {r2:.4f} (goal >= 0.98, "
            f"constant cost per session); per-session cost first/last "
            f"{runs[0]['wall_s'] / xs[0] * 1000:.2f}/{runs[-1]['wall_s'] / xs[-1] * 1000:.2f} ms"
        )
        a, b, r2 = _fit(xs, [r["cpu_s"] for r in runs])
        print(f"fit CPU = {a:.3f} s + {b * 1000:.3f} ms x sessions: R^2 = {r2:.4f}")
        print(_marginal_memory(runs, xs, args.database))
    else:
        for scale in [int(s) for s in args.scales.split(",")]:
            walls, per_scale = [], []
            for _ in range(args.repeat):
                r = _child(["--scale", str(scale), *trace])
                walls.append(r["wall_s"])
                per_scale.append(r)
                codec_rates.append(_codec_rate())
                cpu_rates.append(_codec_cpu_rate())
            r = per_scale[walls.index(statistics.median_low(walls))]
            print(_line(f"scale {scale}", r), flush=True)
            msg_rates.append(r["messages"] / r["wall_s"])
            msg_cpu.append(r["messages"] / r["cpu_s"])
    _codec_summary(codec_rates, msg_rates, cpu_rates, msg_cpu)


if __name__ == "__main__":
    main()
