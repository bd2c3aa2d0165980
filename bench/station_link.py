"""A virtual station on a real WebSocket to any CSMS (hardware in the loop, the station side).

Runs one sans-IO `VirtualStation` against a CSMS URL (`ws://host:port/path/<station_id>`) on the wall
clock: frames in and out, its timers, a reconnect after a Reset (`reconnect_requested`) or a lost
connection (with backoff). Actions of the driver (`plug_in`, `unplug`) go through `act`, so their
frames are sent at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
import websockets

from bench.ocpp_security import basic_authorization
from simulators.ocppj import subprotocol
from simulators.station.base import VirtualStation

Clock = Callable[[], datetime]
# Told of every frame: (direction "out" to the CSMS / "in" from it, frame text, instant).
WireTap = Callable[[str, str, datetime], None]
LINGER = timedelta(seconds=5)  # after a Reset, how long the old connection may finish its exchange


def wall_clock() -> datetime:
    return datetime.now(UTC)


class StationLinkError(Exception):
    """The CSMS did not accept the station's OCPP version (no agreed subprotocol)."""


class StationLink:
    """`password` (profiles 1 and 2; bytes: a 1.6 AuthorizationKey's octets): sent as HTTP Basic auth,
    the station id as username; `tls` (profiles 2 and 3, a `wss://` URL): trusts the CSMS's CA and, for
    profile 3, holds the station's client certificate (`bench.ocpp_security.client_context`)."""

    def __init__(
        self,
        station: VirtualStation,
        url: str,
        *,
        clock: Clock = wall_clock,
        password: str | bytes | None = None,
        tls: ssl.SSLContext | None = None,
        tap: WireTap | None = None,
    ) -> None:
        if (tls is not None) != url.startswith("wss://"):
            raise ValueError(f"{url}: a TLS context goes with a wss:// URL and only with one")
        self.station = station
        self._headers = (
            {"Authorization": basic_authorization(station.station_id, password)}
            if password is not None
            else {}
        )
        self._tls = tls
        station.reconnects_on_reset = True
        self.url = url
        self.clock = clock
        self.booted = asyncio.Event()
        self.connections = 0
        self.refusals = 0  # handshakes the CSMS answered with an HTTP error (e.g. 401: wrong password)
        self.failures = 0  # connections that failed otherwise (refused port, TLS, timeout, dropped)
        self.last_error = ""
        self.tap = tap
        self._ws: websockets.ClientConnection | None = None
        self._wake = asyncio.Event()
        self.log = structlog.get_logger("emsp_bench.station").bind(station_id=station.station_id, url=url)

    async def act(self, action: Callable[[datetime], list[str]]) -> None:
        """Run a driver action on the station (e.g. `lambda now: st.plug_in(...)`) and send its frames."""
        await self._send(action(self.clock()))
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, backoff_s: float = 1.0) -> None:
        """Stay connected until `stop` is set; reconnect after a Reset or a lost connection."""
        while not stop.is_set():
            try:
                async with websockets.connect(
                    self.url, subprotocols=[websockets.Subprotocol(subprotocol(self.station.version))],
                    ping_interval=None, open_timeout=10,
                    additional_headers=self._headers, ssl=self._tls,
                ) as ws:  # fmt: skip
                    if ws.subprotocol != subprotocol(self.station.version):
                        raise StationLinkError(
                            f"{self.url} agreed to no OCPP {self.station.version} subprotocol"
                        )
                    self._ws = ws
                    self.connections += 1
                    self.log.info("connected", connection=self.connections)
                    await self._serve(ws, stop)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake) as exc:
                self.log.warning("connection lost", error=str(exc))
                if isinstance(exc, websockets.InvalidStatus):
                    self.refusals += 1
                elif not isinstance(exc, websockets.ConnectionClosed):
                    self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff_s)
            finally:
                self._ws = None

    async def _serve(self, ws: websockets.ClientConnection, stop: asyncio.Event) -> None:
        await self._send(self.station.on_connected(self.clock()))
        receive: asyncio.Future[str | bytes] = asyncio.ensure_future(ws.recv())
        stopping = asyncio.ensure_future(stop.wait())
        linger: datetime | None = None
        try:
            while True:
                due = self.station.next_wakeup()
                timeout = None if due is None else max(0.0, (due - self.clock()).total_seconds())
                if linger is not None:
                    timeout = min(timeout or 0.1, 0.1)
                woken = asyncio.ensure_future(self._wake.wait())
                waiting: set[asyncio.Future[Any]] = {receive, stopping, woken}
                done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                self._wake.clear()
                if stopping in done:
                    return
                if receive in done:
                    text = receive.result()  # raises ConnectionClosed: reconnect
                    receive = asyncio.ensure_future(ws.recv())
                    if isinstance(text, str):
                        if self.tap is not None:
                            self.tap("in", text, self.clock())
                        await self._send(self.station.on_frame(text, self.clock()))
                due = self.station.next_wakeup()
                if due is not None and due <= self.clock():
                    await self._send(self.station.on_wakeup(self.clock()))
                if self.station.booted:
                    self.booted.set()
                if self.station.reconnect_requested:
                    # Reboot once what was under way is answered (a charger finishes its exchange
                    # before it drops the line; a CSMS may still be reading our last answer).
                    linger = linger or self.clock() + LINGER
                    flight = self.station.endpoint.in_flight
                    if flight is None or self.clock() >= linger:
                        self.log.info("rebooting: reconnecting")
                        return  # run() opens a new connection and the station boots again
        finally:
            receive.cancel()
            stopping.cancel()

    async def _send(self, frames: list[str]) -> None:
        ws = self._ws
        for frame in frames:
            if ws is None:
                return  # not connected: the station keeps its CALLs queued until it is
            if self.tap is not None:
                self.tap("out", frame, self.clock())
            await ws.send(frame)
