"""Sets up and tears down the sockets of a `live` run around the LiveRuntime."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import ipaddress
import resource
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from websockets.typing import Subprotocol

from bench.demand import Arrival
from bench.runtime.live import LiveRuntime, LiveRuntimeError
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_http import HttpServer
from bench.runtime.live_lag import LagFigures
from bench.runtime.live_security import make_security
from bench.runtime.live_timeline import Applied
from bench.runtime.live_ws import WsServer, serve_ws
from bench.scenario import CpoPorts, Scenario, ScenarioError
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


# `ports.host` values that listen on every interface, loopback included.
WILDCARDS = ("0.0.0.0", "::", "")


def listen_family(host: str) -> socket.AddressFamily:
    """IPv6 for an IPv6 address (`::`, `::1`, ...), else IPv4 (an IPv4 address or a host name)."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def local_host(host: str) -> str:
    """Where the parties (and stations) of this process reach a server listening on `host`."""
    return "127.0.0.1" if host in WILDCARDS else host


def url_host(host: str) -> str:
    """`host` as a URL writes it: an IPv6 address in brackets (RFC 3986 section 3.2.2)."""
    return f"[{host}]" if ":" in host else host


def _bound_socket(
    host: str = "127.0.0.1", port: int = 0, where: tuple[str, str] | None = None
) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # accepted sockets inherit the listener's proto (and, on Linux, its TCP_NODELAY). With proto 0,
    # every response waited for Nagle + the peer's delayed ACK: ~40 ms per request on loopback.
    family = listen_family(host)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6 and host in WILDCARDS:
        # Dual stack: `::` takes IPv4 too, so the parties reach each other on 127.0.0.1 as with 0.0.0.0.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        # Listening here, not only binding: SO_REUSEADDR (kept, so that a re-run binds a port its
        # predecessor left in TIME_WAIT) lets Linux bind one port twice while neither socket listens,
        # so a port another run holds shows up only at listen(). The server's own listen() later
        # just sets its backlog.
        sock.listen()
    except OSError as exc:
        sock.close()
        if where is None:
            raise
        # A fixed port (scenario `ports:` or --csms-port) that is taken: invalid input, exit 2.
        raise ScenarioError(where[0], where[1], f"cannot listen on {host}:{port}: {exc.strerror}") from exc
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


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
# Above asyncio's socket read buffer (256 KiB, shrunk to what was read): reads stay in the heap as
# glibc would place them anyway, rather than costing an mmap, mremap and munmap each.
BIG_BLOCK = 512 * 1024


def big_blocks_back_to_the_os() -> None:
    """Blocks of BIG_BLOCK and more are mmapped, so each goes back to the OS once freed.

    glibc raises its mmap threshold to the largest mmapped block freed (up to 32 MiB): once the
    first OCPI body listing thousands of locations (MiBs) is freed, the next ones come from the heap
    and leave holes there that stay in the process's RSS for the whole run (~3.5 KiB per station at
    2,000 stations). A fixed threshold keeps every such transient block out of the heap; small
    objects are unaffected. Process-wide; a libc without mallopt: nothing to do."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(M_MMAP_THRESHOLD, BIG_BLOCK)


@contextlib.contextmanager
def _steady_gc() -> Iterator[None]:
    """The world lives for the whole run: freeze it out of the collector's scans and collect young
    objects less often. A full collection over a big world stalls the event loop for hundreds of
    milliseconds (the lag probe saw 0.6 s on peak-hour), which every real-time answer then waits
    out. Collection timing changes no output. Only the young generations are collected first (the
    world's building garbage): a full collection scans every object of the process, which in a
    process running many worlds (a test worker) grows with everything it holds."""
    thresholds = gc.get_threshold()
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def pushed_token(world: World, arrival: Arrival, station_id: str) -> str:
    """Against an external eMSP that issued its own tokens (no contract API to issue the bench's):
    the n-th known driver presents the (n mod count)-th valid token, in uid order, that the eMSP gave
    the station's CPO so far; a driver with an unknown token, or before any arrived, keeps its own."""
    if not arrival.driver.known:
        return arrival.driver.token_uid
    tokens = world.cpos[world.cpo_of(station_id)].ocpi.received_tokens()
    valid = sorted(uid for uid, token in tokens.items() if token.get("valid", True))
    if not valid:
        return arrival.driver.token_uid
    number = [d.token_uid for d in world.drivers if d.known].index(arrival.driver.token_uid)
    return valid[number % len(valid)]


def check_fixed_ports(scenario: Scenario, scenario_file: str) -> None:
    """Before the run directory is touched: the host (scenario `ports.host`) and every fixed port
    (scenario `ports:`, --csms-port) can be listened on (exit 2 otherwise). A port taken between this
    check and the run is still refused."""
    host = scenario.ports.host
    try:
        _bound_socket(host).close()  # any free port: whether this machine has the address at all
    except OSError as exc:  # an address of another machine, or no host name (gaierror)
        reason = f"cannot listen on {host!r}: {exc.strerror}; an IP address or host name of this machine"
        raise ScenarioError(scenario_file, "ports.host", reason) from exc
    fixed = [("ports.emsp", scenario.ports.emsp)] + [
        (f"ports.cpos.{cid}.{name}", getattr(spec, name))
        for cid, spec in scenario.ports.cpos.items()
        for name in ("csms", "csms_tls", "ocpi")
    ]
    for where, port in fixed:
        if port is not None:
            _bound_socket(scenario.ports.host, port, (scenario_file, where)).close()


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def endpoints(
    host: str,
    emsp_versions_url: str,
    cpo_urls: dict[str, str],
    csms_ports: dict[str, int],
    tls_ports: dict[str, int],
    hub_urls: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Where a live run's servers listen: what a real charger or eMSP is configured with."""
    out: dict[str, Any] = {
        "emsp": {"versions_url": emsp_versions_url},
        "cpos": {
            cid: {
                "csms_url": f"ws://{host}:{csms_ports[cid]}/ocpp/",  # + the station id
                **({"csms_tls_url": f"wss://{host}:{tls_ports[cid]}/ocpp/"} if cid in tls_ports else {}),
                "ocpi_versions_url": f"{url}/versions",
            }
            for cid, url in cpo_urls.items()
        },
    }
    if hub_urls:  # only a run with hubs has the key
        out["hubs"] = {hid: {"ocpi_versions_url": f"{url}/versions"} for hid, url in hub_urls.items()}
    return out


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
    external_emsp: tuple[str, dict[str, str]] | None = None,
    on_endpoints: Callable[[dict[str, Any]], None] | None = None,
    pushed_tokens: bool = False,
) -> LiveResult:
    raise_fd_limit(len(scenario.station_ids()))
    big_blocks_back_to_the_os()
    ports = scenario.ports

    def bind(port: int | None, field: str) -> socket.socket:
        return _bound_socket(ports.host, port or 0, (scenario_file, field) if port else None)

    fixed = {cpo.id: ports.cpos.get(cpo.id, CpoPorts()) for cpo in scenario.cpos}
    emsp_sock = bind(ports.emsp, "ports.emsp")
    cpo_http = {cid: bind(p.ocpi, f"ports.cpos.{cid}.ocpi") for cid, p in fixed.items()}
    hub_http = {hub.id: bind(None, f"hubs.{hub.id}") for hub in scenario.hubs}  # live_hub.py
    cpo_ocpp = {cid: bind(p.csms, f"ports.cpos.{cid}.csms") for cid, p in fixed.items()}
    certs = tempfile.TemporaryDirectory(prefix="emsp-bench-certs-")
    security = make_security(scenario, Path(certs.name), local_host(ports.host))
    cpo_tls = {
        cpo.id: bind(fixed[cpo.id].csms_tls, f"ports.cpos.{cpo.id}.csms_tls")
        for cpo in scenario.cpos
        if security is not None and security.needs_tls([s.id for loc in cpo.locations for s in loc.stations])
    }
    sockets = [emsp_sock, *cpo_http.values(), *hub_http.values(), *cpo_ocpp.values(), *cpo_tls.values()]
    servers: list[HttpServer] = []
    ws_servers: list[WsServer] = []
    try:
        # Where the parties reach each other (and a real box reaches them): a wildcard listens
        # everywhere, loopback included.
        here = url_host(local_host(ports.host))
        emsp_url = f"http://{here}:{_port(emsp_sock)}/ocpi"
        cpo_urls = {cid: f"http://{here}:{_port(sock)}/ocpi" for cid, sock in cpo_http.items()}
        hub_urls = {hid: f"http://{here}:{_port(sock)}/ocpi" for hid, sock in hub_http.items()}
        world = build_world(scenario, base_dir, emsp_base_url=emsp_url, cpo_base_urls=cpo_urls,
                            database_url=database_url, scenario_file=scenario_file,
                            external_emsp=external_emsp, hub_base_urls=hub_urls,
                            keyed_tokens=True)  # fmt: skip
        clock = ScaledClock(scenario.start, speed)
        runtime = LiveRuntime(world, trace, clock, {cid: _port(s) for cid, s in cpo_ocpp.items()})
        runtime.milestone = milestone
        runtime.emsp_in_process = external_emsp is None
        runtime.station_host = here  # the stations connect where the mock CSMS listens
        runtime.security = security
        runtime.tls_ports = {cid: _port(sock) for cid, sock in cpo_tls.items()}
        if pushed_tokens:
            runtime.token_source = partial(pushed_token, world)
        if on_endpoints is not None:
            on_endpoints(
                endpoints(
                    here,
                    external_emsp[0] if external_emsp else f"{emsp_url}/versions",
                    cpo_urls,
                    {cid: _port(s) for cid, s in cpo_ocpp.items()},
                    runtime.tls_ports,
                    hub_urls,
                )
            )
        servers.append(HttpServer.for_emsp(world.emsp, clock.now, emsp_sock))
        servers += [
            HttpServer.for_handler(runtime.cpo_handler(cid), clock.now, s) for cid, s in cpo_http.items()
        ]
        if runtime.hubs is not None:
            servers += [runtime.hubs.server(hid, sock) for hid, sock in hub_http.items()]
        protocols = [Subprotocol(subprotocol("1.6")), Subprotocol(subprotocol("2.0.1"))]
        for cid, sock in cpo_ocpp.items():
            # asyncio's default backlog (100) drops the SYNs of a boot storm: the kernel caps this
            # at net.core.somaxconn.
            handler = partial(runtime.csms_connection, cid)
            check = None if security is None else security.check(tls=False)
            ws_servers.append(await serve_ws(sock, protocols, handler, check=check, backlog=4096))
        for cid, sock in cpo_tls.items():
            assert security is not None
            handler = partial(runtime.csms_connection, cid)
            ws_servers.append(
                await serve_ws(sock, protocols, handler, check=security.check(tls=True),
                               tls=security.server_ssl(), backlog=4096)
            )  # fmt: skip
        for server in servers:
            await server.start()
        clock.hold()  # until the stations have booted (LiveRuntime.run)
        with _steady_gc():
            unserved = await runtime.run(horizon(world), progress)
    finally:
        for ws_server in ws_servers:
            await ws_server.close()
        for server in servers:
            await server.stop()
        for sock in sockets:
            sock.close()
        certs.cleanup()
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
    external_emsp: tuple[str, dict[str, str]] | None = None,
    on_endpoints: Callable[[dict[str, Any]], None] | None = None,
    pushed_tokens: bool = False,
) -> LiveResult:
    """`pushed_tokens`: the eMSP's drivers present the tokens the (external) eMSP gave the CPO.
    `on_endpoints`: told where every server of the run listens (endpoints.json), before any
    station connects. `external_emsp`: (versions URL, token A per CPO) of an eMSP under test
    (bench/external_emsp.py)."""
    return asyncio.run(
        _run_live(scenario, base_dir, trace, speed=speed, database_url=database_url,
                  scenario_file=scenario_file, progress=progress, milestone=milestone,
                  external_emsp=external_emsp, on_endpoints=on_endpoints, pushed_tokens=pushed_tokens)
    )  # fmt: skip
