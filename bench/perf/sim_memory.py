"""Where the memory a `sim` run keeps per completed session goes, by source line (issue 7).

    python -m bench.perf.sim_memory [--sizes 500,1500] [--database file|memory] [--top 40]

Each size runs in a fresh child process under tracemalloc: a snapshot after building the world and
one after the run (world alive, garbage collected); their difference per source line, minus the
same at the smaller size, divided by the sessions completed in between, is what one more completed
session keeps, allocation site by allocation site (one-off costs such as caches cancel out). With
`--database file` (the default) SQLite's pages are on disk, so this is the process's own objects.
tracemalloc counts Python allocations only: the RSS figure of `bench.perf.sim --sweep` also has
the allocator's slack and, with a memory database, SQLite's pages.
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


def _kept(sessions: int, database: str) -> Kept:
    with logs_dropped(), tempfile.TemporaryDirectory() as tmp:
        scenario, base = sized(max(sessions // 4, 4), sessions)
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
    parser.add_argument("--sizes", default="500,1500", help="two sessions counts: small,large")
    parser.add_argument("--database", choices=["memory", "file"], default="file")
    parser.add_argument("--top", type=int, default=40, help="lines to print")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_kept(args.child, args.database)))
        return
    small, large = [
        json.loads(
            subprocess.run(
                [sys.executable, "-m", "bench.perf.sim_memory", "--child", size, "--database", args.database],
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
        f"tracemalloc, {args.database} database: {sum(r[0] for r in rows):.0f} B kept per completed "
        f"session ({small['completed']} -> {large['completed']} completed)"
    )
    for size, count, where in rows[: args.top]:
        print(f"{size:8.0f} B {count:6.2f} objects  {where}")


if __name__ == "__main__":
    main()
