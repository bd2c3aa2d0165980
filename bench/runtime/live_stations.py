"""The station side of the `live` runtime: virtual stations on real WebSockets, and their drivers.

Each station connects to its CPO's CSMS, boots, wakes on its own deadlines, and, in a
`station_offline` window, really drops its connection and reconnects (bench/events.py). Drivers
arrive on the scenario clock and plug in. A mixin of LiveRuntime (bench/runtime/live.py), which owns
the state declared here.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import structlog
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.http11 import Request

from bench.demand import Arrival
from bench.runtime.allocation import RETRY_EVERY, ConnectorAllocator, retries_for
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_flag import Flag
from bench.runtime.live_links import FrameLine, LiveLink
from bench.runtime.live_security import LiveSecurity
from bench.runtime.live_ws import ClientEnd, ServerEnd, connect_ws
from bench.trace import WireTrace
from bench.world import World, plug_in_token, quote_for
from simulators.cpo.mock_cpo import MockCpoOutput
from simulators.ocppj import subprotocol

log = structlog.get_logger("bench.live")

CONNECT_TIMEOUT_S = 10.0  # wall seconds for one attempt of a station to reach its CSMS
# Thousands of stations dialling at once overflow the accept queue and time out in their handshakes
# (1,000 stations failed so on a loaded machine): at most CONNECTING handshakes are in flight, so
# boots are staggered, and as real stations do, one that fails retries after a growing, randomised
# back-off (wall time: a fault of the sockets, not of the scenario).
CONNECTING = 64
CONNECT_ATTEMPTS = 6
RECONNECT_BACKOFF_S = 0.5  # wall seconds before the 2nd attempt; doubled each time, x1-1.5 at random
# Thousands of stations share one process, so each WebSocket end is a bare protocol object
# (live_ws): OCPP-J frames are small JSON texts, so no permessage-deflate (a zlib context each way
# per connection), and no WebSocket pings (OCPP makes them optional, and the stations' Heartbeats
# already show the link alive): both ends are in this process.


class LiveRuntimeError(RuntimeError):
    """The live run could not complete; a fault of the bench or its sockets, not of the eMSP."""


def _dropped(text: str) -> None:
    return None


class _CsmsFrames:
    """What a CSMS end hands on (its on_text): a station's frames to its CPO. A slotted callable, not
    a functools.partial (with its arguments tuple and keywords dict): one per connection."""

    __slots__ = ("cpo_id", "side", "station_id")

    def __init__(self, side: StationSide, cpo_id: str, station_id: str) -> None:
        self.side, self.cpo_id, self.station_id = side, cpo_id, station_id

    def __call__(self, text: str) -> None:
        self.side._csms_frame(self.cpo_id, self.station_id, text)


class _StationFrames:
    """What a station's end hands on (its on_text): the CSMS's frames to the station."""

    __slots__ = ("side", "station_id")

    def __init__(self, side: StationSide, station_id: str) -> None:
        self.side, self.station_id = side, station_id

    def __call__(self, text: str) -> None:
        self.side._station_frame(self.station_id, text)


class _LineCut:
    """What a station's end does when its connection closes under it (its on_close)."""

    __slots__ = ("side", "station_id")

    def __init__(self, side: StationSide, station_id: str) -> None:
        self.side, self.station_id = side, station_id

    def __call__(self) -> None:
        self.side._line_cut(self.station_id)


def _nothing() -> None:
    return None


class StationWakeups:
    """A station's wakeups while it waits in one state (online or not): the event loop's timer
    calls it when it is due, a poke (its next wakeup moved, or the wait may be over) on the loop's
    next turn; `done` resolves once the run stops or the station's line should change.

    Callbacks, not a coroutine per wait (with the awaited Flag's own coroutine and waiter list):
    thousands of stations wait so for the whole run. Same steps as the loop it replaces: at each
    wake the station's due wakeup runs first, then the wait may end, else the timer is set anew
    for its next wakeup (every 0.5 s when it has none, to see the line's state)."""

    __slots__ = ("_handle", "_online", "_side", "_station_id", "_stop", "done")

    def __init__(self, side: StationSide, station_id: str, stop: asyncio.Event, online: bool) -> None:
        self._side, self._station_id, self._stop, self._online = side, station_id, stop, online
        self._handle: asyncio.Handle | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _waiting(self) -> bool:
        side, station_id = self._side, self._station_id
        return (
            not self._stop.is_set()
            and side._want_online[station_id] == self._online
            and station_id not in side._cut
        )

    def start(self) -> None:
        if self._waiting():
            self._arm()
        else:
            self.done.set_result(None)

    def poke(self) -> None:
        if self.done.done():
            return
        if isinstance(self._handle, asyncio.TimerHandle):
            self._handle.cancel()
        elif self._handle is not None:
            return  # already due on the loop's next turn
        self._handle = asyncio.get_running_loop().call_soon(self._wake)

    def close(self) -> None:
        """Its waiter is done with it (also when cancelled)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._side._wakeups.get(self._station_id) is self:
            del self._side._wakeups[self._station_id]

    def _arm(self) -> None:
        side = self._side
        deadline = side.world.stations[self._station_id].next_wakeup()
        timeout = side.clock.wall_seconds_until(deadline) if deadline is not None else 0.5
        self._handle = asyncio.get_running_loop().call_later(timeout, self._wake)

    def _wake(self) -> None:
        self._handle = None
        if self.done.done():
            return
        side, station_id = self._side, self._station_id
        station = side.world.stations[station_id]
        deadline = station.next_wakeup()
        if deadline is not None and side.clock.now() >= deadline:
            side.station_emit(station_id, station.on_wakeup(side.clock.now()))  # pokes: moved
        if self._handle is not None:  # what the wakeup poked is looked at here, now
            self._handle.cancel()
            self._handle = None
        if self._waiting():
            self._arm()
        else:
            self.done.set_result(None)


class StationSide:
    # Security profiles (run_live sets them when a station has one): credentials and TLS listeners.
    security: LiveSecurity | None = None
    tls_ports: Mapping[str, int] = MappingProxyType({})
    station_host: str = "127.0.0.1"  # the mock CSMS's address as a URL writes it
    # An external eMSP without a contract API: which token a driver presents at a station (run_live).
    token_source: Callable[[Arrival, str], str] | None = None
    world: World
    trace: WireTrace
    clock: ScaledClock
    _allocator: ConnectorAllocator
    _unserved: int
    _ocpp_ports: dict[str, int]
    _to_station: dict[str, FrameLine]
    _to_csms: dict[str, FrameLine]
    _wakeups: dict[str, StationWakeups]
    _connected: dict[str, Flag]
    _booted: dict[str, Flag]
    _booted_count: int
    _handshakes: asyncio.Semaphore
    _failures: list[tuple[str, BaseException]]
    _want_online: dict[str, bool]
    _cut: set[str]  # stations whose connection closed under them, until they reconnect
    _back_online: dict[str, Callable[[datetime], None]]

    def cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None:
        raise NotImplementedError

    def _ocpp_link(self, station_id: str) -> LiveLink:
        raise NotImplementedError

    def csms_connection(self, cpo_id: str, end: ServerEnd, request: Request) -> None:
        """A station's handshake was accepted by the CSMS of `cpo_id`: its frames go to the CPO
        model as they arrive (no task per connection), the CPO's to it through the link's delay."""
        station_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        if station_id not in self.world.stations or self.world.cpo_of(station_id) != cpo_id:
            end.start_close(1008, "unknown station")
            return
        # A closed end drops what is still sent to it: the station left, what it missed is its loss.
        writer = FrameLine(self._ocpp_link(station_id), end.send_now)
        self._to_station[station_id] = writer
        end.on_close = writer.close
        end.on_text = _CsmsFrames(self, cpo_id, station_id)
        what = f"CSMS of {cpo_id} serving {station_id}"
        try:
            version = self.world.stations[station_id].version
            cpo = self.world.cpos[cpo_id]
            self.cpo_emit(cpo_id, cpo.on_station_connected(station_id, version, self.clock.now()))
            self._connected[station_id].set()
        except Exception as exc:  # called inside the event loop's reader: record it, never lose it
            self._failures.append((what, exc))

    def _csms_frame(self, cpo_id: str, station_id: str, text: str) -> None:
        try:
            cpo = self.world.cpos[cpo_id]
            self.cpo_emit(cpo_id, cpo.on_station_frame(station_id, text, self.clock.now()))
        except Exception as exc:  # called inside the event loop's reader: record it, never lose it
            self._failures.append((f"CSMS of {cpo_id} serving {station_id}", exc))

    # ------------------------------------------------------------ station side
    async def app_start(self, token_uid: str, station_id: str, connector: int, at: datetime) -> bool:
        raise NotImplementedError  # LiveRuntime: START_SESSION through the eMSP's contract API

    def station_emit(self, station_id: str, frames: list[str]) -> None:
        station = self.world.stations[station_id]
        for frame in frames:
            cpo_id = self.world.cpo_of(station_id)
            self.trace.ocpp(self.clock.now(), subprotocol(station.version), station_id, cpo_id, frame)
            self._to_csms[station_id].put(frame)
        self._poke(station_id)

    async def _connect(self, station_id: str, on_text: Callable[[str], None]) -> ClientEnd:
        station = self.world.stations[station_id]
        port = self._ocpp_ports[self.world.cpo_of(station_id)]
        uri = f"ws://{self.station_host}:{port}/ocpp/{station_id}"
        tls: ssl.SSLContext | None = None
        headers: dict[str, str] = {}
        if self.security is not None:  # a security profile (bench/runtime/live_security.py)
            tls, headers = self.security.station_options(station_id)
            if tls is not None:
                port = self.tls_ports[self.world.cpo_of(station_id)]
                uri = f"wss://{self.station_host}:{port}/ocpp/{station_id}"
        rng = random.Random(f"live-connect-{station_id}")  # back-off jitter only: no effect on models
        failure: BaseException | None = None
        for attempt in range(CONNECT_ATTEMPTS):
            if attempt:
                await asyncio.sleep(RECONNECT_BACKOFF_S * 2 ** (attempt - 1) * rng.uniform(1.0, 1.5))
            async with self._handshakes:
                try:
                    return await connect_ws(
                        uri,
                        subprotocol(station.version),
                        on_text,
                        timeout=CONNECT_TIMEOUT_S,
                        headers=headers,
                        tls=tls,
                    )
                except InvalidStatus as exc:
                    status = exc.response.status_code
                    if status in (401, 403):  # refused: trying again changes nothing
                        raise LiveRuntimeError(
                            f"station {station_id} was refused by its mock CSMS (HTTP {status}"
                            f": {exc.response.body.decode('utf-8', 'replace').strip()}): the scenario's "
                            "security configuration, a fault of the bench, not of the eMSP"
                        ) from exc
                    failure = exc
                except (OSError, TimeoutError, InvalidHandshake) as exc:
                    failure = exc
        raise LiveRuntimeError(
            f"station {station_id} could not reach its CSMS in {CONNECT_ATTEMPTS} attempts: "
            f"{type(failure).__name__}: {failure}"
        )

    async def _station_life(self, station_id: str, stop: asyncio.Event) -> None:
        """Connect, boot, and live until the end; a `station_offline` window really drops the
        WebSocket (after the exchange under way, as sim's set_online says) and reconnects."""
        station = self.world.stations[station_id]
        first, cut = True, False
        while not stop.is_set():
            self._connected[station_id].clear()
            # What the CSMS sends before this station's writer is in place waits here, in order.
            early: list[str] = []
            end = await self._connect(station_id, early.append)
            end.on_close = _LineCut(self, station_id)
            try:
                try:
                    await asyncio.wait_for(self._connected[station_id].wait(), CONNECT_TIMEOUT_S)
                except TimeoutError:
                    raise LiveRuntimeError(f"station {station_id} was not accepted by its CSMS") from None
                writer = FrameLine(self._ocpp_link(station_id), end.send_now)
                self._to_csms[station_id] = writer
                if first:
                    self.station_emit(station_id, station.on_connected(self.clock.now()))
                    first = False
                elif cut:
                    # A new OCPP-J session, as StationLink after a lost connection: what was in
                    # flight is given up (a transaction message goes again) and the station boots
                    # first; then what it queued meanwhile follows.
                    self.station_emit(station_id, station.on_connected(self.clock.now()))
                    self._reconnected(station_id)
                else:
                    self._reconnected(station_id)
                end.on_text = _StationFrames(self, station_id)
                for text in early:
                    self._station_frame(station_id, text)
                try:
                    while True:
                        wakeups = self._station_timer(station_id, stop, online=True)
                        try:
                            await wakeups.done
                        finally:
                            wakeups.close()
                        if stop.is_set():
                            await self._station_settled(station_id, writer)
                            return
                        if station_id in self._cut or await self._line_drops(station_id, writer, stop):
                            break
                        self._reconnected(station_id)  # the window closed before the line dropped
                finally:
                    end.on_close = _nothing  # hanging up ourselves is no cut
                    end.on_text = _dropped  # as a hung-up line: what the CSMS still sends is lost
                    writer.close()
                    await writer.flushed()
            finally:
                await end.close()
            cut = station_id in self._cut
            self._cut.discard(station_id)
            wakeups = self._station_timer(station_id, stop, online=False)  # metering goes on, offline
            try:
                await wakeups.done
            finally:
                wakeups.close()

    def take_offline(self, station_id: str, now: datetime) -> None:
        """Timeline: the station loses its connection (sim: SimRuntime._set_online(False))."""
        self._allocator.set_online(station_id, False)  # a driver's app shows it unavailable
        self._want_online[station_id] = False
        self.station_emit(station_id, self.world.stations[station_id].set_online(False, now))

    def bring_online(self, station_id: str, applied: Callable[[datetime], None]) -> None:
        """Timeline: the window is over; the station reconnects, then replays what it queued."""
        self._want_online[station_id] = True
        self._back_online[station_id] = applied
        self._poke(station_id)

    def _line_cut(self, station_id: str) -> None:
        """The station's connection closed under it (a network blip, the CSMS hung up): as a real
        charger it queues what it sends from now on, then reconnects and boots again. Ended without
        that, the run would go on with a deaf station and grade what it missed as the eMSP's."""
        self._cut.add(station_id)
        log.warning(
            "station connection lost: reconnecting", station_id=station_id, at=self.clock.now().isoformat()
        )
        station = self.world.stations[station_id]
        self.station_emit(station_id, station.set_online(False, self.clock.now()))

    def _reconnected(self, station_id: str) -> None:
        now = self.clock.now()
        self._allocator.set_online(station_id, True)
        self.station_emit(station_id, self.world.stations[station_id].set_online(True, now))
        applied = self._back_online.pop(station_id, None)
        if applied is not None:
            applied(now)

    async def _line_drops(self, station_id: str, writer: FrameLine, stop: asyncio.Event) -> bool:
        """Offline: the exchange under way completes, then the line drops (True). False: the window
        ended (or the run) first, and the connection simply stays up."""
        endpoint = self.world.stations[station_id].endpoint
        while endpoint.in_flight is not None or writer.pending():
            if station_id in self._cut:
                return True  # already dropped: no answer is coming on that line
            if stop.is_set() or self._want_online[station_id]:
                return False
            await asyncio.sleep(0.005)
        return True

    def _station_frame(self, station_id: str, text: str) -> None:
        """A frame from the CSMS, handed over as it arrives (no reader task per station)."""
        try:
            station = self.world.stations[station_id]
            self.station_emit(station_id, station.on_frame(text, self.clock.now()))
            if station.booted and not self._booted[station_id].is_set():
                self._booted[station_id].set()
                self._booted_count += 1
        except Exception as exc:  # called inside the event loop's reader: record it, never lose it
            self._failures.append((f"station {station_id}", exc))

    async def _station_settled(self, station_id: str, writer: FrameLine) -> None:
        """Before hanging up at the end, the calls the station still has to send or hear back about
        finish (a StopTransaction queued behind a MeterValues, say): cut short, the CSMS would never
        learn that a session ended and its CDR would go missing. Bounded: an offline station keeps
        its queue."""
        endpoint = self.world.stations[station_id].endpoint
        loop = asyncio.get_running_loop()
        give_up = loop.time() + CONNECT_TIMEOUT_S
        while endpoint.in_flight is not None or endpoint.queued or writer.pending():
            if loop.time() > give_up:
                return
            await asyncio.sleep(0.05)

    def _station_timer(self, station_id: str, stop: asyncio.Event, *, online: bool) -> StationWakeups:
        """Wake the station when it is due, until the run stops or the station's line should
        change (`online` is the state it is in): await its `done`, then `close` it."""
        wakeups = StationWakeups(self, station_id, stop, online)
        self._wakeups[station_id] = wakeups
        wakeups.start()
        return wakeups

    def _poke(self, station_id: str) -> None:
        """The station's next wakeup may have moved, or its wait be over."""
        wakeups = self._wakeups.get(station_id)
        if wakeups is not None:
            wakeups.poke()

    async def _driver(self, index: int, until: datetime) -> None:
        arrival = self.world.arrivals[index]
        await self.clock.sleep_until(arrival.at)
        key = self._allocator.take(arrival.station_choice, arrival.stations)
        for _ in range(retries_for(self.world.scenario.demand.patience_minutes)):
            if key is not None:
                break
            await self.clock.sleep_until(self.clock.now() + RETRY_EVERY)
            key = self._allocator.take(arrival.station_choice, arrival.stations)
        if key is None:
            self._unserved += 1
            return
        station_id, connector = key
        station = self.world.stations[station_id]
        # An early arrival waits for its station to connect and boot, as a driver would (the link
        # may not even be up yet: thousands of stations connect at the start), up to their patience
        # as in sim; counted unserved as sim counts it, once that ran out before the end of the run.
        patience_ends = self.clock.now() + timedelta(minutes=self.world.scenario.demand.patience_minutes)
        if not await self.clock.wait_until(self._booted[station_id], min(patience_ends, until)):
            self._allocator.release(key)
            if patience_ends < until:
                self._unserved += 1
            return
        ev = arrival.ev()
        # One instant for both: the quote is filed under the plug-in time the truth looks it up by.
        now = self.clock.now()
        quote_for(self.world, arrival, station_id, connector, now)  # the driver's app asks first
        token = (
            plug_in_token(self.world, arrival, station_id, connector, now)
            if self.token_source is None
            else self.token_source(arrival, station_id)  # an external eMSP's own tokens
        )
        app = arrival.app_start and await self.app_start(token, station_id, connector, now)
        self.station_emit(
            station_id, station.plug_in(connector, token_uid=token, ev=ev, now=now, await_remote=app)
        )
        await self.clock.sleep_until(self.clock.now() + arrival.stay)
        self._allocator.release(key)
        self.station_emit(station_id, station.unplug(connector, self.clock.now()))
