"""Roaming hubs in the `live` runtime: each hub is a real HTTP party on its own socket.

The model is the same sans-IO OcpiHub the sim runtime drives (sim_hub.py). Here the hub serves
requests on uvicorn (its deferred answers, the forwards, are awaited by the ASGI front through
`take_response`, as the eMSP's credentials answers are), and sends its own requests (forwards,
HubClientInfo PUTs, handshakes, store-and-forward retries, probes) with its own httpx client:
toward the eMSP over the hub's `link` (one LiveLink each way), toward a CPO behind it over that
CPO's OCPI links, as in sim. `added_latency` holds every request the hub sends and every request
it serves before it handles it (the answer then leaves at once: the same total as sim's delayed
answer). An `outage` of the hub cuts every link to it: the runtime (live.py) refuses or answers
503 in front of the hub's socket, and the hub's own calls meet the same.

Timeouts: the scenario clock runs `speed` times faster than the wall, so the hub's own deadlines
would turn a partner's real milliseconds of processing into seconds of scenario time. The runtime
times the hub's calls out itself (`timeouts_by_runtime`), on the links' scenario holds plus the
real time the receiver took, as live authorization latencies are measured (live.py).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.hubs import EMSP_CONNECTION, emsp_registered
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_http import TRANSPORT_FAILED, HttpServer, send_http
from bench.runtime.live_links import LiveLink, sleep_until
from bench.runtime.live_timeline import OutageSpan, outage_mode
from bench.trace import WireTrace
from bench.world import World
from emsp.api import handler_app
from emsp.pulse import Pulse
from emsp.wire import Deferred, HttpRequest, HttpResponse, OutboundRequest
from simulators.cpo.mock_cpo import MockCpoOutput
from simulators.hub import OcpiHub, Status

EMSP = "emsp"
PROTO = "ocpi2.2.1"  # the hub emulator speaks OCPI 2.2.1 only (so do the CPOs behind it)


class HubHost(Protocol):
    """What the hubs need from the live runtime (live.py's LiveRuntime): its clock, world, trace
    and links' generator, the CPOs' OCPI links, the outages, and to run tasks and CPO output.
    A protocol, so this module and live.py do not import each other."""

    world: World
    trace: WireTrace
    clock: ScaledClock
    _rng: random.Random
    _outages: list[OutageSpan]
    _to_emsp: dict[str, LiveLink]
    _from_emsp: dict[str, LiveLink]

    def _spawn(
        self, what: str, coro: Coroutine[Any, Any, None], *, call: bool = False
    ) -> asyncio.Task[None]: ...

    def cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None: ...


AUTHORIZE = "/authorize"  # a CPO's real-time authorization: its latency is measured (live.py)


class Holds:
    """Wall seconds the hub held a CPO's authorization for scenario time (its added latency, its
    link to the eMSP) inside the CPO's wait for the answer, by the request's X-Correlation-ID, which
    the hub's forward keeps: the CPO counts them in scenario ms, not as real processing time."""

    def __init__(self) -> None:
        self._held: dict[str, float] = {}

    def add(self, correlation: str | None, seconds: float) -> None:
        if correlation:
            self._held[correlation] = self._held.get(correlation, 0.0) + seconds

    def take(self, correlation: str | None) -> float:
        return self._held.pop(correlation, 0.0) if correlation else 0.0


def _correlation(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-correlation-id"), None)


class _HubDelay:
    """ASGI front: the hub's own processing time before it handles a request (scenario ms / speed)."""

    def __init__(self, app: ASGIApp, seconds: float, holds: Holds) -> None:
        self.app, self.seconds, self.holds = app, seconds, holds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.seconds > 0:
            if AUTHORIZE in scope["path"]:
                self.holds.add(_correlation(scope), self.seconds)
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class LiveHubs:
    def __init__(self, runtime: HubHost, unavailable: HttpResponse) -> None:
        self._rt = runtime
        self._unavailable = unavailable
        world = runtime.world
        self.hubs: dict[str, OcpiHub] = world.hubs
        self.channels = world.channels  # CPO id -> hub id
        self.hosts = {urlsplit(url).netloc: hub_id for hub_id, url in world.hub_base_urls.items()}
        specs = {spec.id: spec.link for spec in world.scenario.hubs}
        speed, now = runtime.clock.speed, runtime.clock.now
        # The hub's link, one LiveLink per direction: the runtime's eMSP calls to the hub use them too.
        self.to_emsp = {h: LiveLink(specs[h], runtime._rng, speed, now=now) for h in self.hubs}
        self.from_emsp = {h: LiveLink(specs[h], runtime._rng, speed, now=now) for h in self.hubs}
        self._clients = {hub_id: httpx.AsyncClient(timeout=30.0) for hub_id in self.hubs}
        self.holds = Holds()
        self._pokes = {hub_id: asyncio.Event() for hub_id in self.hubs}
        self._answered = {hub_id: Pulse() for hub_id in self.hubs}  # wakes the ASGI front's deferred waits
        self._not_started = {
            hub_id: [c for c, h in self.channels.items() if h == hub_id] for hub_id in self.hubs
        }
        for hub in self.hubs.values():
            hub.timeouts_by_runtime = True

    def peer_of(self, cpo_id: str) -> str:
        """Whom a CPO's OCPI requests reach: its hub, or the eMSP."""
        return self.channels.get(cpo_id, EMSP)

    # ------------------------------------------------------------------ serving
    def server(self, hub_id: str, sock: socket.socket) -> HttpServer:
        hub, clock = self.hubs[hub_id], self._rt.clock

        def handle(request: HttpRequest, now: datetime) -> HttpResponse | Deferred:
            answer = hub.handle(request, now)
            self._drain(hub_id)  # a forward goes out now; its answer comes through take_response
            return answer

        app = handler_app(
            handle, clock.now, title=f"roaming hub {hub_id}", deferred=hub, pulse=self._answered[hub_id]
        )
        delay = hub.added_latency.total_seconds() / clock.speed
        return HttpServer(_HubDelay(app, delay, self.holds), sock)

    # ------------------------------------------------------------------ run
    def start(self) -> None:
        """The hub registers toward the eMSP; its CPOs start once that connection is up."""
        for hub_id, hub in self.hubs.items():
            hub.register(EMSP_CONNECTION, self._rt.clock.now())
            self._drain(hub_id)
            self._rt._spawn(f"timer of hub {hub_id}", self._timer(hub_id))

    def ready(self) -> bool:
        """Every hub reached the eMSP and every CPO behind it registered with its hub: the run's
        world is up (the live runtime holds its clock until then, as sim's world starts up)."""
        return all(c.status is Status.CONNECTED for hub in self.hubs.values() for c in hub.registry.all())

    def busy(self) -> int:
        """Hubs that still hold messages for a receiver (the drain waits for them; the hub's calls in
        flight are the runtime's calls). Not its probes: an offline party is probed forever."""
        return sum(hub.holds_messages() for hub in self.hubs.values())

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def _drain(self, hub_id: str) -> None:
        """After every call into the hub: the requests it wants sent, its next wakeup, its CPOs."""
        for outbound in self.hubs[hub_id].pending_requests():
            self._rt._spawn(
                f"hub {hub_id} call to {outbound.partner}", self._send(hub_id, outbound), call=True
            )
        self._pokes[hub_id].set()
        self._answered[hub_id].pulse()
        waiting = self._not_started[hub_id]
        if waiting and emsp_registered(self.hubs[hub_id]):
            self._not_started[hub_id] = []
            for cpo_id in waiting:
                self._rt.cpo_emit(cpo_id, self._rt.world.cpos[cpo_id].start(self._rt.clock.now()))

    async def _timer(self, hub_id: str) -> None:
        """The hub's own wakeups (store-and-forward retries, probes), on the scenario clock."""
        hub, poke, clock = self.hubs[hub_id], self._pokes[hub_id], self._rt.clock
        loop = asyncio.get_running_loop()
        while True:
            poke.clear()
            deadline = hub.next_wakeup()
            timeout = clock.wall_seconds_until(deadline) if deadline is not None else 1.0
            timer = loop.call_later(timeout, poke.set)
            try:
                await poke.wait()
            finally:
                timer.cancel()
            deadline = hub.next_wakeup()
            if deadline is not None and clock.now() >= deadline:
                hub.on_wakeup(clock.now())
                self._drain(hub_id)

    # ------------------------------------------------------------------ the hub's own calls
    def _links(self, hub_id: str, peer: str) -> tuple[LiveLink, LiveLink]:
        """(toward the receiver, back to the hub) for a call of the hub."""
        if peer == EMSP_CONNECTION:
            return self.to_emsp[hub_id], self.from_emsp[hub_id]
        return self._rt._from_emsp[peer], self._rt._to_emsp[peer]  # a CPO's OCPI link, both ways

    async def _send(self, hub_id: str, outbound: OutboundRequest) -> None:
        rt, hub, clock = self._rt, self.hubs[hub_id], self._rt.clock
        peer = EMSP if outbound.partner == EMSP_CONNECTION else outbound.partner
        added = hub.added_latency.total_seconds() / clock.speed
        await asyncio.sleep(added)
        out, back = self._links(hub_id, outbound.partner)
        loop = asyncio.get_running_loop()
        rt.trace.ocpi_request(clock.now(), PROTO, hub_id, peer, outbound.request)
        sent = loop.time()
        up_at = out.arrival()
        await sleep_until(up_at)
        mode = outage_mode(rt._outages, clock.now(), hub_id, peer)
        if mode == "refused":  # the connection is refused: it never reached the receiver
            await sleep_until(back.arrival())
            hub.on_unreachable(outbound.request_id, clock.now())
            self._drain(hub_id)
            return
        asked = loop.time()
        if mode is not None:
            response = self._unavailable
        else:
            response = await send_http(self._clients[hub_id], outbound.request)
        answered = loop.time()
        if response.status != TRANSPORT_FAILED:
            rt.trace.ocpi_response(clock.now(), PROTO, peer, hub_id, outbound.request, response)
        down_at = back.arrival()
        await sleep_until(down_at)
        if AUTHORIZE in outbound.request.url:  # a forward a CPO waits on: it counts these in scenario ms
            held = added + (up_at - sent) + (down_at - answered)
            self.holds.add(outbound.request.header("X-Correlation-ID"), held)
        now = clock.now()
        if response.status == TRANSPORT_FAILED:
            hub.on_unreachable(outbound.request_id, now)
        elif outage_mode(rt._outages, now, hub_id, peer) == "refused":
            # The link broke while the answer travelled: to the hub, the connection was reset.
            hub.on_lost(outbound.request_id, now)
        else:
            # Scenario time of the call: the links' holds plus the receiver's real processing time.
            took_ms = out.scenario_ms(up_at - sent) + back.scenario_ms(down_at - answered)
            took_ms += (answered - asked) * 1000
            if took_ms > hub.call_timeout(outbound.request_id).total_seconds() * 1000:
                hub.on_timeout(outbound.request_id, now)  # its answer is then recorded as late
            hub.on_response(outbound.request_id, response, now)
        self._drain(hub_id)
