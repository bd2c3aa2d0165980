"""The `live` runtime: asyncio drives real sockets on loopback (principle 2).

OCPP travels over real WebSockets (subprotocol ocpp1.6 / ocpp2.0.1) between the virtual stations
and each mock CPO's CSMS; OCPI travels over real HTTP (uvicorn + httpx) between the CPOs and the
eMSP. The models are the same sans-IO objects as in `sim`; scenario time runs `speed` times faster
than the wall clock. This is the one place (with live_http) allowed to read the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bench.runtime.allocation import RETRY_EVERY, ConnectorAllocator, retries_for
from bench.runtime.live_http import HttpServer, send_http
from bench.scenario import Scenario
from bench.trace import WireTrace
from bench.world import World, build_world, horizon
from emsp.wire import OutboundRequest
from simulators.cpo.mock_cpo import MockCpoOutput
from simulators.ocppj import subprotocol
from simulators.station.base import EvProfile

EMSP = "emsp"
OCPI_PROTO = "ocpi2.2.1"


class ScaledClock:
    """Scenario time = start + wall time elapsed x speed, whole milliseconds."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed = start, speed
        self._t0 = time.monotonic()

    def restart(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        elapsed_ms = int((time.monotonic() - self._t0) * self.speed * 1000)
        return self.start + timedelta(milliseconds=elapsed_ms)

    def wall_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.speed)

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(self.wall_seconds_until(moment))


@dataclass
class LiveResult:
    world: World
    unserved_arrivals: int
    ended_at: datetime


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _Ordered:
    """One writer per direction keeps frames in the order the model produced them."""

    def __init__(self, send: Callable[[str], object]) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._send = send

    async def pump(self) -> None:
        while (item := await self.queue.get()) is not None:
            try:
                await self._send(item)  # type: ignore[misc]
            except ConnectionClosed:
                return


class LiveRuntime:
    def __init__(
        self, world: World, trace: WireTrace, clock: ScaledClock, ocpp_ports: dict[str, int]
    ) -> None:
        self.world, self.trace, self.clock = world, trace, clock
        self._ocpp_ports = ocpp_ports
        self._allocator = ConnectorAllocator(world.places)
        self._unserved = 0
        self._to_station: dict[str, _Ordered] = {}
        self._to_csms: dict[str, _Ordered] = {}
        self._pokes = {sid: asyncio.Event() for sid in world.stations}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(timeout=30.0)
        # Per CPO: an ordered stream (sessions, CDRs, locations: order matters) and a separate
        # real-time path for authorizations, so a queue of PATCHes never delays a driver.
        self._cpo_streams: dict[str, asyncio.Queue[OutboundRequest | None]] = {}
        self._connected = {sid: asyncio.Event() for sid in world.stations}

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ CPO side
    def cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None:
        for station_id, frame in output.frames:
            version = self.world.stations[station_id].version
            self.trace.ocpp(self.clock.now(), subprotocol(version), cpo_id, station_id, frame)
            self._to_station[station_id].queue.put_nowait(frame)
        for outbound in output.requests:
            if "/authorize" in outbound.request.url:
                self._spawn(self._cpo_call(cpo_id, outbound))
            else:
                self._cpo_streams[cpo_id].put_nowait(outbound)

    async def _cpo_stream(self, cpo_id: str) -> None:
        queue = self._cpo_streams[cpo_id]
        while (outbound := await queue.get()) is not None:
            await self._cpo_call(cpo_id, outbound)

    async def _cpo_call(self, cpo_id: str, outbound: OutboundRequest) -> None:
        cpo = self.world.cpos[cpo_id]
        self.trace.ocpi_request(self.clock.now(), OCPI_PROTO, cpo_id, EMSP, outbound.request)
        response = await send_http(self._client, outbound.request)
        self.trace.ocpi_response(self.clock.now(), OCPI_PROTO, EMSP, cpo_id, outbound.request, response)
        self.cpo_emit(cpo_id, cpo.on_ocpi_response(outbound.request_id, response, self.clock.now()))

    async def _emsp_outbound(self) -> None:
        """Send what the eMSP asks for (e.g. fetching a new partner's versions)."""
        emsp = self.world.emsp
        hosts = {url.split("/")[2]: cid for cid, url in self.world.cpo_base_urls.items()}
        while True:
            for outbound in emsp.pending_requests():
                cpo_id = hosts.get(outbound.request.url.split("/")[2], "?")
                self.trace.ocpi_request(self.clock.now(), OCPI_PROTO, EMSP, cpo_id, outbound.request)
                response = await send_http(self._client, outbound.request)
                self.trace.ocpi_response(
                    self.clock.now(), OCPI_PROTO, cpo_id, EMSP, outbound.request, response
                )
                emsp.on_response(outbound.request_id, response, self.clock.now())
            await asyncio.sleep(0.01)

    async def csms_connection(self, cpo_id: str, ws: ServerConnection) -> None:
        station_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request else ""
        if station_id not in self.world.stations or self.world.cpo_of(station_id) != cpo_id:
            await ws.close(1008, "unknown station")
            return
        cpo = self.world.cpos[cpo_id]
        writer = _Ordered(ws.send)
        self._to_station[station_id] = writer
        pump = asyncio.ensure_future(writer.pump())
        version = self.world.stations[station_id].version
        self.cpo_emit(cpo_id, cpo.on_station_connected(station_id, version, self.clock.now()))
        self._connected[station_id].set()
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.cpo_emit(cpo_id, cpo.on_station_frame(station_id, text, self.clock.now()))
        except ConnectionClosed:
            pass
        finally:
            writer.queue.put_nowait(None)
            await pump

    # ------------------------------------------------------------ station side
    def station_emit(self, station_id: str, frames: list[str]) -> None:
        station = self.world.stations[station_id]
        for frame in frames:
            self.trace.ocpp(
                self.clock.now(),
                subprotocol(station.version),
                station_id,
                self.world.cpo_of(station_id),
                frame,
            )
            self._to_csms[station_id].queue.put_nowait(frame)
        self._pokes[station_id].set()

    async def station_life(self, station_id: str, stop: asyncio.Event) -> None:
        station = self.world.stations[station_id]
        port = self._ocpp_ports[self.world.cpo_of(station_id)]
        proto = subprotocol(station.version)
        uri = f"ws://127.0.0.1:{port}/ocpp/{station_id}"
        async with connect(uri, subprotocols=[Subprotocol(proto)], open_timeout=10) as ws:
            await self._connected[station_id].wait()
            writer = _Ordered(ws.send)
            self._to_csms[station_id] = writer
            pump = asyncio.ensure_future(writer.pump())
            self.station_emit(station_id, station.on_connected(self.clock.now()))
            reader = asyncio.ensure_future(self._station_reader(station_id, ws))
            await self._station_timer(station_id, stop)
            reader.cancel()
            writer.queue.put_nowait(None)
            await pump

    async def _station_reader(self, station_id: str, ws: ClientConnection) -> None:
        station = self.world.stations[station_id]
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.station_emit(station_id, station.on_frame(text, self.clock.now()))
        except ConnectionClosed:
            pass

    async def _station_timer(self, station_id: str, stop: asyncio.Event) -> None:
        station, poke = self.world.stations[station_id], self._pokes[station_id]
        while not stop.is_set():
            deadline = station.next_wakeup()
            poke.clear()
            timeout = self.clock.wall_seconds_until(deadline) if deadline is not None else 0.5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(poke.wait(), timeout=timeout)
            deadline = station.next_wakeup()
            if deadline is not None and self.clock.now() >= deadline:
                self.station_emit(station_id, station.on_wakeup(self.clock.now()))

    async def driver(self, index: int) -> None:
        arrival = self.world.arrivals[index]
        await self.clock.sleep_until(arrival.at)
        key = self._allocator.take(arrival.station_preference)
        for _ in range(retries_for(self.world.scenario.demand.patience_minutes)):
            if key is not None:
                break
            await self.clock.sleep_until(self.clock.now() + RETRY_EVERY)
            key = self._allocator.take(arrival.station_preference)
        if key is None:
            self._unserved += 1
            return
        station_id, connector = key
        station = self.world.stations[station_id]
        ev = EvProfile(power_kw=arrival.ev_power_kw, energy_kwh=arrival.energy_kwh)
        self.station_emit(
            station_id,
            station.plug_in(connector, token_uid=arrival.driver.token_uid, ev=ev, now=self.clock.now()),
        )
        await self.clock.sleep_until(self.clock.now() + arrival.stay)
        self._allocator.release(key)
        self.station_emit(station_id, station.unplug(connector, self.clock.now()))

    # ------------------------------------------------------------ run
    async def run(self, until: datetime, progress: Callable[[float], None] | None) -> int:
        for cpo_id in self.world.cpos:
            self._cpo_streams[cpo_id] = asyncio.Queue()
            self._spawn(self._cpo_stream(cpo_id))
        self._spawn(self._emsp_outbound())
        for cpo_id, cpo in self.world.cpos.items():
            self.cpo_emit(cpo_id, cpo.start(self.clock.now()))
        stop = asyncio.Event()
        stations = [asyncio.ensure_future(self.station_life(sid, stop)) for sid in self.world.stations]
        drivers = [asyncio.ensure_future(self.driver(i)) for i in range(len(self.world.arrivals))]
        total = max((until - self.clock.start).total_seconds(), 1.0)
        while self.clock.now() < until:
            await asyncio.sleep(min(0.2, self.clock.wall_seconds_until(until)) or 0.001)
            if progress is not None:
                progress(min((self.clock.now() - self.clock.start).total_seconds() / total, 1.0))
            for task in stations:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        await asyncio.gather(*drivers)
        stop.set()
        await asyncio.gather(*stations)
        for queue in self._cpo_streams.values():
            queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        await self._client.aclose()
        return self._unserved


async def _run_live(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    *,
    speed: float,
    database_url: str,
    scenario_file: str,
    progress: Callable[[float], None] | None,
) -> LiveResult:
    emsp_sock = _bound_socket()
    cpo_http = {cpo.id: _bound_socket() for cpo in scenario.cpos}
    cpo_ocpp = {cpo.id: _bound_socket() for cpo in scenario.cpos}
    emsp_url = f"http://127.0.0.1:{emsp_sock.getsockname()[1]}/ocpi"
    cpo_urls = {cid: f"http://127.0.0.1:{sock.getsockname()[1]}/ocpi" for cid, sock in cpo_http.items()}
    world = build_world(
        scenario,
        base_dir,
        emsp_base_url=emsp_url,
        cpo_base_urls=cpo_urls,
        database_url=database_url,
        scenario_file=scenario_file,
    )
    clock = ScaledClock(scenario.start, speed)
    runtime = LiveRuntime(world, trace, clock, {cid: s.getsockname()[1] for cid, s in cpo_ocpp.items()})

    servers = [HttpServer.for_emsp(world.emsp, clock.now, emsp_sock)]
    servers += [
        HttpServer.for_handler(world.cpos[cid].handle_ocpi, clock.now, sock) for cid, sock in cpo_http.items()
    ]
    ws_servers = []
    for cid, sock in cpo_ocpp.items():
        sock.listen()
        ws_servers.append(
            await serve(
                partial(runtime.csms_connection, cid),
                sock=sock,
                subprotocols=[Subprotocol(subprotocol("1.6")), Subprotocol(subprotocol("2.0.1"))],
            )
        )
    for server in servers:
        await server.start()
    clock.restart()
    until = horizon(world)
    try:
        unserved = await runtime.run(until, progress)
    finally:
        for ws_server in ws_servers:
            ws_server.close()
            await ws_server.wait_closed()
        for server in servers:
            await server.stop()
    # Latencies were measured on the scaled clock; report them in real milliseconds.
    for cpo in world.cpos.values():
        truth = cpo.ocpi.truth
        truth.authorizations[:] = [
            type(a)(
                a.at,
                a.station_id,
                a.token_uid,
                a.result,
                (a.latency_ms / Decimal(str(speed))).quantize(Decimal("0.001")),
            )
            for a in truth.authorizations
        ]
    return LiveResult(world=world, unserved_arrivals=unserved, ended_at=clock.now())


def run_live(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    *,
    speed: float,
    database_url: str = "sqlite://",
    scenario_file: str = "<scenario>",
    progress: Callable[[float], None] | None = None,
) -> LiveResult:
    return asyncio.run(
        _run_live(
            scenario,
            base_dir,
            trace,
            speed=speed,
            database_url=database_url,
            scenario_file=scenario_file,
            progress=progress,
        )
    )
