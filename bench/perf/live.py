"""Benchmark of the `live` runtime: how many stations one process holds, what a connection costs.

    python -m bench.perf.live [--sizes 100,500,2000] [--minutes 10] [--speed 300]

Three measurements, each printed with the figures it compares in the same run (neighbours make
absolute timings noisy):

- **connections**: N idle OCPP-J WebSocket connections opened with the live runtime's own options,
  both ends in this process, against the library defaults: RSS delta and tracemalloc delta per
  connection (one connection = a client end and a server end);
- **stations**: per size, a live run of `smoke` scaled to that many stations with real traffic, in
  a fresh process so its RSS is its own: stations booted, sessions, whether the run completed, wall
  time, peak RSS, and the marginal RSS per station between sizes (world, models and both ends);
- **ordered OCPI stream**: requests per second of one CPO's ordered stream over real HTTP (one
  request at a time, as the live runtime sends them), with and without TCP_NODELAY.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bench.perf.sim import scaled
from bench.runtime.live import WS_OPTIONS
from bench.runtime.live_http import HttpServer
from bench.runtime.live_run import _bound_socket, run_live
from bench.scenario import Scenario
from bench.trace import WireTrace
from emsp.wire import HttpRequest, HttpResponse

KIB = 1024


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


# ------------------------------------------------------------------ idle connections
async def _idle_connections(count: int, options: dict[str, Any]) -> tuple[float, float]:
    """(RSS bytes, traced bytes) per connection for `count` open, idle connections."""
    held = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await held.wait()

    sock = _bound_socket()
    sock.listen(1024)
    port = sock.getsockname()[1]
    async with await serve(handler, sock=sock, **options):
        clients = []
        await asyncio.sleep(0.1)
        rss0 = _rss()
        tracemalloc.start()
        traced0 = tracemalloc.get_traced_memory()[0]
        for start in range(0, count, 100):  # in batches: the listen backlog is finite
            clients += await asyncio.gather(
                *(
                    connect(f"ws://127.0.0.1:{port}/ocpp/CS-{i}", **options)
                    for i in range(start, min(count, start + 100))
                )
            )
        await asyncio.sleep(0.2)
        traced = tracemalloc.get_traced_memory()[0] - traced0
        tracemalloc.stop()
        rss = _rss() - rss0
        held.set()
        await asyncio.gather(*(client.close() for client in clients))
    return rss / count, traced / count


def measure_connections(count: int) -> None:
    for label, options in (("library defaults", {}), ("live runtime", WS_OPTIONS)):
        rss, traced = asyncio.run(_idle_connections(count, options))
        print(
            f"connections: {count} idle, {label:>16}: {rss / KIB:6.1f} KiB RSS, "
            f"{traced / KIB:6.1f} KiB traced per connection (both ends)"
        )


# ------------------------------------------------------------------ stations with real traffic
def _sized(stations: int, minutes: int) -> tuple[Scenario, Path]:
    scenario, base = scaled(max(1, stations // 4))
    assert isinstance(scenario, Scenario)
    return scenario.model_copy(update={"duration_minutes": minutes, "expectations": []}), base


def one_run(stations: int, minutes: int, speed: float) -> dict[str, Any]:
    scenario, base = _sized(stations, minutes)
    rss0 = _rss()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trace = WireTrace(Path(tmp) / "trace.jsonl")
        outcome: dict[str, Any] = {"stations": len(scenario.station_ids())}
        try:
            result = run_live(scenario, base, trace, speed=speed)
        except Exception as exc:  # the figure to report is that it did not hold, and why
            outcome.update(completed=False, reason=f"{type(exc).__name__}: {exc}")
            result = None
        finally:
            trace.close()
    outcome["wall_s"] = round(time.perf_counter() - started, 1)
    outcome["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB, 1)
    outcome["rss_growth_mib"] = round(
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * KIB - rss0) / 2**20, 1
    )
    if result is not None:
        world = result.world
        truths = [s for station in world.stations.values() for s in station.truth]
        auths = [a for cpo in world.cpos.values() for a in cpo.ocpi.truth.authorizations]
        outcome.update(
            completed=True,
            booted=sum(1 for s in world.stations.values() if s.booted),
            sessions=len(truths),
            authorizations_accepted=sum(1 for a in auths if a.result == "ALLOWED"),
            authorizations_other=sum(1 for a in auths if a.result != "ALLOWED"),
            unserved=result.unserved_arrivals,
            ocpi_backlog_max=result.ocpi_backlog_max,
        )
    return outcome


def measure_stations(sizes: list[int], minutes: int, speed: float) -> None:
    runs = []
    for size in sizes:
        command = [sys.executable, "-m", "bench.perf.live", "--one-run", str(size),
                   "--minutes", str(minutes), "--speed", str(speed)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            print(
                f"stations: {size}: the run process failed ({done.returncode}): {done.stderr.strip()[-300:]}"
            )
            continue
        run = json.loads(lines[-1])
        runs.append(run)
        print(f"stations: {json.dumps(run)}")
    for small, big in itertools.pairwise(runs):
        per_station = (
            (big["peak_rss_mib"] - small["peak_rss_mib"]) * 2**20 / (big["stations"] - small["stations"])
        )
        print(
            f"stations: marginal peak RSS {small['stations']} -> {big['stations']}: "
            f"{per_station / KIB:.1f} KiB per station (models, world and both ends of its connection)"
        )


# ------------------------------------------------------------------ ordered OCPI stream
def _plain_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0: asyncio leaves Nagle on
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _ordered_rate(sock: socket.socket, count: int) -> float:
    def handle(request: HttpRequest, now: datetime) -> HttpResponse:
        body = '{"status_code":1000,"timestamp":"2026-03-02T07:00:00Z"}'
        return HttpResponse(status=200, headers={"content-type": "application/json"}, body=body)

    server = HttpServer.for_handler(handle, lambda: datetime.now(UTC), sock)
    await server.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/ocpi/2.2.1/sessions/NL/EMS/S1"
    body = json.dumps({"id": "S1", "kwh": 1.5, "charging_periods": [{"start_date_time": "x"}] * 20})
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(10):
                await client.put(url, content=body)
            started = time.perf_counter()
            for _ in range(count):
                await client.put(url, content=body)
            return count / (time.perf_counter() - started)
    finally:
        await server.stop()


def measure_stream(count: int) -> None:
    with_nodelay = asyncio.run(_ordered_rate(_bound_socket(), count))
    without = asyncio.run(_ordered_rate(_plain_socket(), count))
    print(
        f"ordered OCPI stream: {with_nodelay:,.0f} requests/s with TCP_NODELAY, {without:,.0f} without "
        f"({with_nodelay / without:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,500,2000", help="station counts, comma-separated")
    parser.add_argument("--minutes", type=int, default=10, help="scenario minutes per run")
    parser.add_argument("--speed", type=float, default=300.0, help="scenario seconds per wall second")
    parser.add_argument("--connections", type=int, default=1000, help="idle connections to measure")
    parser.add_argument("--one-run", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from bench.logs import configure_run_logging

    configure_run_logging(None)
    if args.one_run is not None:
        print(json.dumps(one_run(args.one_run, args.minutes, args.speed)))
        return
    measure_stream(200)
    measure_connections(args.connections)
    measure_stations([int(size) for size in args.sizes.split(",")], args.minutes, args.speed)


if __name__ == "__main__":
    main()
