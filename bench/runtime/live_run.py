"""Sets up and tears down the sockets of a `live` run around the LiveRuntime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from websockets.asyncio.server import Server, serve
from websockets.typing import Subprotocol

from bench.runtime.live import WS_OPTIONS, LiveRuntime, LiveRuntimeError
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_http import HttpServer
from bench.runtime.live_lag import LagFigures
from bench.runtime.live_timeline import Applied
from bench.scenario import Scenario
from bench.trace import WireTrace
from bench.world import World, build_world, horizon
from simulators.ocppj import subprotocol

__all__ = ["LiveResult", "LiveRuntimeError", "run_live"]


@dataclass
class LiveResult:
    world: World
    unserved_arrivals: int
    ended_at: datetime
    ocpi_backlog_max: int
    lag: LagFigures  # how far the runtime fell behind its scenario clock
    applied: list[Applied] = field(default_factory=list)  # timeline steps, as really applied


def _bound_socket() -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # accepted sockets inherit the listener's proto (and, on Linux, its TCP_NODELAY). With proto 0,
    # every response waited for Nagle + the peer's delayed ACK: ~40 ms per request on loopback.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


# Both ends of every OCPP connection live in this process: two descriptors per station, plus the
# listeners, the HTTP pools' connections and the files of the run.
FDS_SPARE = 512


def raise_fd_limit(stations: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (the default soft 1,024 holds ~500 stations);
    a hard limit too low for the scenario is a clear error before any socket is opened."""
    needed = 2 * stations + FDS_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise LiveRuntimeError(
            f"{stations} stations need about {needed} open files (both ends of each OCPP connection are "
            f"in this process), but the hard limit is {hard}: raise it (ulimit -Hn, LimitNOFILE=)"
        )
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft)


@contextlib.contextmanager
def _steady_gc() -> Iterator[None]:
    """The world lives for the whole run: freeze it out of the collector's scans and collect young
    objects less often. A full collection over a big world stalls the event loop for hundreds of
    milliseconds (the lag probe saw 0.6 s on peak-hour), which every real-time answer then waits
    out. Collection timing changes no output."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


async def _run_live(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    *,
    speed: float,
    database_url: str,
    scenario_file: str,
    progress: Callable[[float], None] | None,
    milestone: Callable[[str], None] | None,
) -> LiveResult:
    raise_fd_limit(len(scenario.station_ids()))
    emsp_sock = _bound_socket()
    cpo_http = {cpo.id: _bound_socket() for cpo in scenario.cpos}
    cpo_ocpp = {cpo.id: _bound_socket() for cpo in scenario.cpos}
    sockets = [emsp_sock, *cpo_http.values(), *cpo_ocpp.values()]
    servers: list[HttpServer] = []
    ws_servers: list[Server] = []
    try:
        emsp_url = f"http://127.0.0.1:{_port(emsp_sock)}/ocpi"
        cpo_urls = {cid: f"http://127.0.0.1:{_port(sock)}/ocpi" for cid, sock in cpo_http.items()}
        world = build_world(scenario, base_dir, emsp_base_url=emsp_url, cpo_base_urls=cpo_urls,
                            database_url=database_url, scenario_file=scenario_file)  # fmt: skip
        clock = ScaledClock(scenario.start, speed)
        runtime = LiveRuntime(world, trace, clock, {cid: _port(s) for cid, s in cpo_ocpp.items()})
        runtime.milestone = milestone
        servers.append(HttpServer.for_emsp(world.emsp, clock.now, emsp_sock))
        servers += [
            HttpServer.for_handler(runtime.cpo_handler(cid), clock.now, s) for cid, s in cpo_http.items()
        ]
        protocols = [Subprotocol(subprotocol("1.6")), Subprotocol(subprotocol("2.0.1"))]
        for cid, sock in cpo_ocpp.items():
            # asyncio's default backlog (100) drops the SYNs of a boot storm: the kernel caps this
            # at net.core.somaxconn.
            handler = partial(runtime.csms_connection, cid)
            ws_servers.append(
                await serve(handler, sock=sock, subprotocols=protocols, backlog=4096, **WS_OPTIONS)
            )
        for server in servers:
            await server.start()
        clock.hold()  # until the stations have booted (LiveRuntime.run)
        with _steady_gc():
            unserved = await runtime.run(horizon(world), progress)
    finally:
        for ws_server in ws_servers:
            ws_server.close()
            await ws_server.wait_closed()
        for server in servers:
            await server.stop()
        for sock in sockets:
            sock.close()
    # Authorization latencies are already the links' scenario delays plus the eMSP's real answer
    # time (LiveRuntime._cpo_authorize), comparable with sim's.
    return LiveResult(
        world, unserved, clock.now(), runtime.backlog_max, runtime.lag.figures(), runtime.timeline.applied
    )


def run_live(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    *,
    speed: float,
    database_url: str = "sqlite://",
    scenario_file: str = "<scenario>",
    progress: Callable[[float], None] | None = None,
    milestone: Callable[[str], None] | None = None,
) -> LiveResult:
    return asyncio.run(
        _run_live(scenario, base_dir, trace, speed=speed, database_url=database_url,
                  scenario_file=scenario_file, progress=progress, milestone=milestone)
    )  # fmt: skip
