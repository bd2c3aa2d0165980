"""Where the memory a `sim` run keeps per completed session goes, by source line (issue 7).

    python -m bench.perf.sim_memory [--sizes 1000,3000] [--grow duration|world]
                                    [--database file|memory] [--top 40]

Each size runs in a fresh child process under tracemalloc: a snapshot after building the world and
one after the run (world alive, garbage collected); their difference per source line, minus the
same at the smaller size, divided by the sessions completed in between, is what one more completed
session keeps, allocation site by allocation site. With `--database file` (the default) SQLite's
pages are on disk, so this is the process's own objects. tracemalloc counts Python allocations
only: the RSS figure of `bench.perf.sim --sweep` also has the allocator's slack and, with a memory
database, SQLite's pages.

What the difference cancels depends on how the larger run is larger (`--grow`):
- duration (the default): both runs have the smaller size's world (a station per 4 sessions, one
  driver per session, its arrival rate: the smaller size over 2 hours) and the larger one runs
  longer (2 h x larger / smaller), so it differs by completed sessions only. Cancelled: one-off
  costs (compiled schemas, first-use imports), what is kept per station (its connection, its
  published Location) and per session in progress (as many in flight in both), and caches, which
  are full at both sizes (the ones that fill with the run's instants or bodies hold at most a few
  thousand entries, filled within the first few hundred sessions). Left: what each completed
  session adds for good, which is what a long run grows by (issue 7, item 7: <= 2 KiB).
- world: as `bench.perf.sim --sweep` does, stations and arrival rate grow with the sessions (2 hours
  each), so what is kept per station and per session in flight counts as per session too: an upper
  bound that mixes a bigger world into the growth of a longer run.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

from bench.logs import logs_dropped
from bench.perf.sim_worlds import sized
from bench.runtime.sim import SimRuntime
from bench.trace import WireTrace
from bench.world import build_world

Kept = dict[str, Any]  # {"completed": int, "lines": {where: [bytes, objects]}}


def marginal_by_line(small: Kept, large: Kept) -> list[tuple[float, float, str]]:
    """(bytes, objects, where) per completed session between two runs, largest first."""
    sessions = max(large["completed"] - small["completed"], 1)
    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for sign, run in ((-1, small), (1, large)):
        for where, (size, count) in run["lines"].items():
            sizes[where] += sign * size
            counts[where] += sign * count
    rows = [(sizes[w] / sessions, counts[w] / sessions, w) for w in sizes]
    return sorted(rows, key=lambda row: (-row[0], row[2]))


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    root = str(Path(__file__).resolve().parents[2]) + "/"
    return filename.removeprefix(root)


def _world_size(sessions: int, smaller: int, grow: str) -> tuple[int, int, float]:
    """(stations, sessions, hours) of the run of `sessions` when the smaller run has `smaller`."""
    if grow == "world":
        return max(sessions // 4, 4), sessions, 2
    return max(smaller // 4, 4), sessions, 2 * sessions / smaller


def _kept(sessions: int, smaller: int, grow: str, database: str) -> Kept:
    with logs_dropped(), tempfile.TemporaryDirectory() as tmp:
        scenario, base = sized(*_world_size(sessions, smaller, grow))
        world = build_world(
            scenario,
            base,
            emsp_base_url="http://emsp.local/ocpi",
            cpo_base_urls={c.id: f"http://{c.id}.cpo.local/ocpi" for c in scenario.cpos},
            database_url="sqlite://" if database == "memory" else f"sqlite:///{Path(tmp) / 'emsp.sqlite'}",
        )
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        trace = WireTrace(None, "off")
        SimRuntime(world, trace).run()
        trace.close()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        lines: dict[str, list[int]] = {}
        for stat in after.compare_to(before, "lineno"):
            frame = stat.traceback[0]
            where = f"{_short(frame.filename)}:{frame.lineno}"
            size, count = lines.get(where, [0, 0])
            lines[where] = [size + stat.size_diff, count + stat.count_diff]
        completed = sum(
            1
            for s in world.stations.values()
            for t in s.truth
            if t.transaction_id is not None and t.unplugged_at is not None
        )
        world.emsp.db.engine.dispose()  # before the temporary directory goes
    return {"completed": completed, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,3000", help="two sessions counts: smaller,larger")
    parser.add_argument(
        "--grow",
        choices=["duration", "world"],
        default="duration",
        help="the larger run: the same world for longer (default), or a larger world",
    )
    parser.add_argument("--database", choices=["memory", "file"], default="file")
    parser.add_argument("--top", type=int, default=40, help="lines to print")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    smaller = int(args.sizes.split(",")[0])
    if args.child:
        print(json.dumps(_kept(args.child, smaller, args.grow, args.database)))
        return
    options = ["--sizes", args.sizes, "--grow", args.grow, "--database", args.database]
    small, large = [
        json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.perf.sim_memory", "--child", size, *options],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for size in args.sizes.split(",")
    ]
    rows = marginal_by_line(small, large)
    print(
        f"tracemalloc, {args.database} database, larger run grown by {args.grow}: "
        f"{sum(r[0] for r in rows):.0f} B kept per completed session "
        f"({small['completed']} -> {large['completed']} completed)"
    )
    for size, count, where in rows[: args.top]:
        print(f"{size:8.0f} B {count:6.2f} objects  {where}")


if __name__ == "__main__":
    main()
