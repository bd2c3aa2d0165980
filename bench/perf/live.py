"""Benchmark of the `live` runtime: how many stations one process holds, what a connection costs.

    python -m bench.perf.live [--sizes 100,500,1000,2000] [--minutes 10] [--speed 20] [--arrivals 600]

Three measurements, each printed with the figures it compares in the same run (neighbours make
absolute timings noisy):

- **connections**: N idle OCPP-J WebSocket connections opened as the live runtime opens them
  (bench/runtime/live_ws.py), both ends in this process, against websockets' asyncio layer with its
  defaults: RSS delta and tracemalloc delta per connection (one connection = a client end and a
  server end), each in its own process (tracemalloc's bookkeeping would count as RSS);
- **stations**: per size, a live run of `smoke` scaled to that many stations with real traffic, in
  a fresh process so its RSS is its own: stations booted, sessions completed, CDRs, messages, wall
  time, RSS per connection (the RSS grown between two quiet moments, divided by the stations,
  without tracemalloc: from "servers up, the parties' opening OCPI exchange done, no station
  connected", the heap's free pages handed back first so that the connections cannot fill them
  unseen, to "every station connected and booted, what that caused over OCPI delivered", as it
  is, holes left by the boot exchange included; both on the held scenario clock before any
  driver came: the sockets, both WebSocket ends, the runtime's per-station state and what booting
  left in the models, never an OCPI body in flight),
  peak RSS, and whether the run reconciled (every completed
  session has its CDR and matches: the traffic was real, not idle sockets); then the marginal peak
  RSS per station between sizes (world, models, traffic and both ends);
- **ordered OCPI stream**: requests per second of one CPO's ordered stream over real HTTP (one
  request at a time, as the live runtime sends them), with and without TCP_NODELAY.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import itertools
import json
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from bench.perf.sim import scaled
from bench.runtime.live_http import HttpServer
from bench.runtime.live_run import _bound_socket, run_live
from bench.runtime.live_ws import WsServer, connect_ws, serve_ws
from bench.scenario import Range, Scenario
from bench.trace import WireTrace
from bench.truth import truth_sessions
from bench.world import World
from emsp.reconciliation import reconcile
from emsp.wire import HttpRequest, HttpResponse
from reports.outcomes import is_mismatch
from simulators.ocppj import subprotocol

KIB = 1024


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _trim() -> None:
    """Hand the heap's free pages back to the OS (glibc): RSS is then the memory in use."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    malloc_trim(0)


# ------------------------------------------------------------------ idle connections
async def _library_pairs(count: int, path_of: Callable[[int], str], held: asyncio.Event) -> list[Any]:
    """`count` idle connections with websockets' asyncio layer and its default options."""

    async def handler(ws: ServerConnection) -> None:
        await held.wait()

    sock = _bound_socket()
    sock.listen(1024)
    server = await serve(handler, sock=sock)
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp/"
    clients: list[Any] = [server]
    for start in range(0, count, 100):  # in batches: the listen backlog is finite
        batch = range(start, min(count, start + 100))
        clients += await asyncio.gather(*(connect(url + path_of(i)) for i in batch))
    return clients


async def _live_pairs(count: int, path_of: Callable[[int], str], held: asyncio.Event) -> list[Any]:
    """`count` idle connections as the live runtime opens them (bench/runtime/live_ws.py)."""
    protocols = [Subprotocol(subprotocol("1.6"))]
    sock = _bound_socket()
    server = await serve_ws(sock, protocols, lambda end, request: None, backlog=1024)
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp/"
    clients: list[Any] = [server]
    for start in range(0, count, 100):
        batch = range(start, min(count, start + 100))
        clients += await asyncio.gather(
            *(connect_ws(url + path_of(i), "ocpp1.6", _ignore, timeout=10) for i in batch)
        )
    return clients


def _ignore(text: str) -> None:
    return None


async def _idle_connections(count: int, label: str, traced: bool) -> float:
    """RSS bytes (or, `traced`, bytes traced by tracemalloc) per connection for `count` open, idle
    connections. One or the other per process: tracemalloc's own bookkeeping would count as RSS."""
    held = asyncio.Event()
    await asyncio.sleep(0.1)
    rss0 = _rss()
    if traced:
        tracemalloc.start()
    opened = await (_live_pairs if label == "live runtime" else _library_pairs)(
        count, lambda i: f"CS-{i}", held
    )
    await asyncio.sleep(0.2)
    grown = tracemalloc.get_traced_memory()[0] if traced else _rss() - rss0
    tracemalloc.stop()
    held.set()
    server, clients = opened[0], opened[1:]
    await asyncio.gather(*(client.close() for client in clients))
    if isinstance(server, WsServer):
        await server.close()
    else:
        server.close()
        await server.wait_closed()
    return grown / count


def measure_connections(count: int) -> None:
    # Each in a fresh process: memory freed by one measurement would be reused by the next, and its
    # RSS delta would show less than the connections cost.
    for label in ("library defaults", "live runtime"):
        figures = []
        for kind in ("rss", "traced"):
            command = [sys.executable, "-m", "bench.perf.live", "--idle", f"{label}:{kind}",
                       "--connections", str(count)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            figures.append(done.stdout.strip() or f"failed: {done.stderr.strip()[-300:]}")
        print(
            f"connections: {count} idle, {label:>16}: {figures[0]} KiB RSS, "
            f"{figures[1]} KiB traced per connection (both ends)"
        )


def idle_run(label: str, count: int) -> str:
    label, kind = label.rsplit(":", 1)
    return f"{asyncio.run(_idle_connections(count, label, kind == 'traced')) / KIB:6.1f}"


# ------------------------------------------------------------------ stations with real traffic
def _peak_rss() -> int:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * KIB
    return 0


def sized(stations: int, minutes: int, arrivals_per_hour: int) -> tuple[Scenario, Path]:
    """`smoke` with `stations` stations, arrivals for `minutes`, short stays: a run that ends soon
    after its last arrival. Arrivals are set apart from the station count: the in-process eMSP, not
    the stations' connections, bounds how many sessions per wall second a run can take."""
    scenario, base = scaled(max(1, stations // 4))
    assert isinstance(scenario, Scenario)
    demand = scenario.demand.model_copy(
        update={
            "drivers": max(24, arrivals_per_hour * minutes // 60),
            "arrivals_per_hour": arrivals_per_hour,
            "stay_minutes": Range(min=Decimal(5), max=Decimal(15)),
            "patience_minutes": 5,
        }
    )
    update = {"duration_minutes": minutes, "settle_minutes": 5, "demand": demand, "expectations": []}
    return scenario.model_copy(update=update), base


def traffic(world: World, messages: int) -> dict[str, Any]:
    """What flowed and whether it reconciles: the proof that the connections carried real sessions."""
    truths = truth_sessions(world)
    records = world.emsp.records()
    classes = {k: v for k, v in reconcile(truths, records).counts().items() if v}
    completed = sum(1 for t in truths if t.transaction_id is not None and t.ended_at is not None)
    cdrs = sum(1 for c in records.cdrs if not c.credit)
    # What the report and the suite count as mismatches (one list: reports/outcomes.py)
    wrong = {k: v for k, v in classes.items() if is_mismatch(k)}
    results = Counter(a.result for cpo in world.cpos.values() for a in cpo.ocpi.truth.authorizations)
    return {
        "booted": sum(1 for s in world.stations.values() if s.booted),
        "sessions_completed": completed,
        "cdrs": cdrs,
        "messages": messages,
        "authorizations": dict(sorted(results.items())),
        "reconciliation": classes,
        # Real traffic: sessions ran, every completed one has its CDR and reconciles.
        "reconciled": completed > 0
        and cdrs == completed
        and classes.get("matched") == completed
        and not wrong,
    }


def one_run(stations: int, minutes: int, speed: float, arrivals_per_hour: int) -> dict[str, Any]:
    scenario, base = sized(stations, minutes, arrivals_per_hour)
    rss: dict[str, int] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trace = WireTrace(Path(tmp) / "trace.jsonl")
        outcome: dict[str, Any] = {"stations": len(scenario.station_ids())}

        def milestone(name: str) -> None:
            if name == "connecting":
                _trim()  # free heap pages the connections would otherwise reuse without growing RSS
            rss[name] = _rss()
            outcome[f"{name}_at_s"] = round(time.perf_counter() - started, 1)

        try:
            result = run_live(scenario, base, trace, speed=speed, milestone=milestone)
        except Exception as exc:  # the figure to report is that it did not hold, and why
            outcome.update(completed=False, reason=f"{type(exc).__name__}: {exc}")
            result = None
        finally:
            trace.close()
    outcome["wall_s"] = round(time.perf_counter() - started, 1)
    outcome["peak_rss_mib"] = round(_peak_rss() / 2**20, 1)
    if "booted" in rss:
        # Between the two quiet milestones (LiveRuntime.milestone): the sockets, both WebSocket
        # ends, the runtime's per-station state and the boot exchange; no driver has come yet.
        per = (rss["booted"] - rss["connecting"]) / outcome["stations"]
        outcome["rss_per_connection_kib"] = round(per / KIB, 1)
    if result is not None:
        outcome.update(
            completed=True, unserved=result.unserved_arrivals, ocpi_backlog_max=result.ocpi_backlog_max
        )
        # How far the run fell behind its scenario clock (scenario ms): a size the machine cannot hold.
        outcome.update(lag_ms_p99=round(result.lag.p99_ms), lag_ms_max=round(result.lag.max_ms))
        outcome.update(traffic(result.world, sum(trace.counts.values())))
    return outcome


def measure_stations(sizes: list[int], minutes: int, speed: float, arrivals_per_hour: int) -> None:
    runs = []
    for size in sizes:
        command = [sys.executable, "-m", "bench.perf.live", "--one-run", str(size), "--minutes", str(minutes),
                   "--speed", str(speed), "--arrivals", str(arrivals_per_hour)]  # fmt: skip
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
        print(
            f"stations: {run['stations']:>5} -> booted {run.get('booted', '-')}, sessions completed "
            f"{run.get('sessions_completed', '-')}, CDRs {run.get('cdrs', '-')}, messages "
            f"{run.get('messages', '-')}, wall {run['wall_s']} s, "
            f"{run.get('rss_per_connection_kib', '-')} KiB RSS per connection (both ends), "
            f"reconciled: {run.get('reconciled', False)}, behind the clock p99/max "
            f"{run.get('lag_ms_p99', '-')}/{run.get('lag_ms_max', '-')} scenario ms"
            + ("" if run.get("completed") else f" -- did not complete: {run.get('reason')}")
        )
    for small, big in itertools.pairwise(runs):
        per_station = (
            (big["peak_rss_mib"] - small["peak_rss_mib"]) * 2**20 / (big["stations"] - small["stations"])
        )
        print(
            f"stations: marginal peak RSS {small['stations']} -> {big['stations']}: "
            f"{per_station / KIB:.1f} KiB per station (world, models, traffic, both ends)"
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
    parser.add_argument("--sizes", default="100,500,1000,2000", help="station counts, comma-separated")
    parser.add_argument("--minutes", type=int, default=10, help="scenario minutes with arrivals per run")
    parser.add_argument("--speed", type=float, default=20.0, help="scenario seconds per wall second")
    parser.add_argument("--arrivals", type=int, default=600, help="driver arrivals per scenario hour")
    parser.add_argument("--connections", type=int, default=1000, help="idle connections to measure")
    parser.add_argument("--one-run", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--idle", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from bench.logs import logs_dropped

    with logs_dropped():
        _main(args)


def _main(args: argparse.Namespace) -> None:
    if args.one_run is not None:
        print(json.dumps(one_run(args.one_run, args.minutes, args.speed, args.arrivals)))
        return
    if args.idle is not None:
        print(idle_run(args.idle, args.connections))
        return
    measure_stream(200)
    measure_connections(args.connections)
    sizes = [int(size) for size in args.sizes.split(",")]
    measure_stations(sizes, args.minutes, args.speed, args.arrivals)


if __name__ == "__main__":
    main()
