"""One measured `sim` run for `bench.perf.sim`, in its own process; prints its figures as one JSON line.

python -m bench.perf.sim_child --scale N | --sessions N --stations M  [--trace full|full.gz|ocpi|off]
[--database memory|file] [--build-only]

--database file: the eMSP stores in a SQLite file in a temporary directory (as `emsp-bench run
--database-url sqlite:///...`) instead of in memory, so the RSS the run keeps is the process's own
objects, not the stored sessions, CDRs and events; the file's size is reported as `db_bytes`.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import cast

from bench.logs import logs_dropped
from bench.perf.sim_worlds import scaled, sized
from bench.runtime.sim import SimRuntime
from bench.trace import TraceMode, WireTrace
from bench.world import build_world


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=0)
    parser.add_argument("--stations", type=int, default=0)
    parser.add_argument("--trace", choices=["full", "full.gz", "ocpi", "off"], default="full")
    parser.add_argument("--database", choices=["memory", "file"], default="memory")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    # The figures are about the models and the runtime, not log I/O.
    with logs_dropped(), tempfile.TemporaryDirectory() as tmp:
        _measure(args, Path(tmp))


def _measure(args: argparse.Namespace, tmp: Path) -> None:
    scenario, base = scaled(args.scale) if args.scale else sized(args.stations, args.sessions)
    db_file = tmp / "emsp.sqlite" if args.database == "file" else None
    rss_start = _rss()
    started = time.perf_counter()
    world = build_world(
        scenario,
        base,
        emsp_base_url="http://emsp.local/ocpi",
        cpo_base_urls={c.id: f"http://{c.id}.cpo.local/ocpi" for c in scenario.cpos},
        database_url="sqlite://" if db_file is None else f"sqlite:///{db_file}",
    )
    build = time.perf_counter() - started
    rss_built = _rss()
    figures: dict[str, float | int] = {
        "stations": len(world.stations),
        "sessions": len(world.arrivals),
        "build_s": build,
        "rss_start": rss_start,
        "rss_built": rss_built,
    }
    if not args.build_only:
        mode, _, packed = args.trace.partition(".")  # the run's --trace, "full.gz": --trace-gzip
        name = "trace.jsonl.gz" if packed else "trace.jsonl"
        trace = WireTrace(None if mode == "off" else tmp / name, cast(TraceMode, mode))
        started, cpu = time.perf_counter(), time.process_time()
        result = SimRuntime(world, trace).run()
        trace.close()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        figures |= {
            "wall_s": wall,
            "cpu_s": cpu,  # this process's CPU time: what a loaded, shared machine does not inflate
            "simulated_s": (result.ended_at - world.scenario.start).total_seconds(),
            "messages": sum(trace.counts.values()),
            "completed": sum(
                1
                for s in world.stations.values()
                for t in s.truth
                if t.transaction_id is not None and t.unplugged_at is not None
            ),
            "rss_end": _rss(),
        }
        if db_file is not None:  # with its write-ahead log: what the run stored
            figures["db_bytes"] = sum(f.stat().st_size for f in tmp.glob(db_file.name + "*"))
        world.emsp.db.engine.dispose()  # before the temporary directory goes
    figures["rss_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
