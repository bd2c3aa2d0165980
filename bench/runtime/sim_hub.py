"""Roaming hubs in the `sim` runtime: every hop through a hub is a message of its own.

A CPO behind a hub sends to the hub over its own OCPI link (cpo <-> hub); the hub talks to the eMSP
over the hub's `link`. Each hop is traced separately (cpo -> hub request, hub -> emsp request with
the hub's new X-Request-ID and the same X-Correlation-ID, and their answers), as are the hub's own
calls (handshakes, HubClientInfo PUTs, store-and-forward retries, probes). The hub's
`added_latency` delays every message it sends. An `outage` of a hub id cuts every link to it, as an
eMSP outage does: `refused` resets the connection, `http_503` answers a page without an envelope.
The runtime (sim.py) calls in at four places: a CPO behind a hub sends, the eMSP sends to a hub's
host, the eMSP answers a hub, and the start (CPOs behind a hub start once the hub reached the eMSP).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

import simpy

from bench.hubs import EMSP_CONNECTION, emsp_registered
from bench.runtime.sim_events import call_after
from bench.runtime.sim_link import Link
from bench.scenario import LinkSpec
from bench.trace import WireTrace
from bench.world import World
from emsp.wire import Deferred, HttpResponse, OutboundRequest
from simulators.cpo.mock_cpo import MockCpoOutput
from simulators.hub import OcpiHub

EMSP = "emsp"
PROTO = "ocpi2.2.1"  # the hub emulator speaks OCPI 2.2.1 only (so do the CPOs behind it)


class HubHost(Protocol):
    """What the hubs need from the sim runtime (sim.py's SimRuntime): its clock, world and trace,
    the CPOs' OCPI links, its wakeup and deferred-answer books, and the calls the runtime makes
    for the eMSP and the CPOs. A protocol, so this module and sim.py do not import each other."""

    env: simpy.Environment
    world: World
    trace: WireTrace
    _to_emsp: dict[str, Link]
    _from_emsp: dict[str, Link]
    _wakeup_at: dict[str, int]
    _deferred: dict[str, tuple[str, OutboundRequest]]

    def now(self) -> datetime: ...

    def _at_ms(self, moment: datetime) -> int: ...

    def _outage(self, *parties: str) -> str | None: ...

    def _cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None: ...

    def _cpo_unreachable(self, cpo_id: str, request_id: str) -> None: ...

    def _emsp_got(self, request_id: str, response: HttpResponse) -> None: ...

    def _emsp_outbound(self) -> None: ...

    def _schedule_expiry(self) -> None: ...


class SimHubs:
    def __init__(
        self, runtime: HubHost, unavailable: HttpResponse, make_link: Callable[[LinkSpec], Link]
    ) -> None:
        self._rt = runtime
        self._unavailable = unavailable
        world = runtime.world
        self.hubs: dict[str, OcpiHub] = world.hubs
        self.channels = world.channels  # CPO id -> hub id
        self.hosts = {urlsplit(url).netloc: hub_id for hub_id, url in world.hub_base_urls.items()}
        links = {spec.id: spec.link for spec in world.scenario.hubs}
        self._to_emsp = {hub_id: make_link(links[hub_id]) for hub_id in self.hubs}
        self._from_emsp = {hub_id: make_link(links[hub_id]) for hub_id in self.hubs}
        # deferred id -> who waits for the hub's answer: a CPO (its id and request) or the eMSP
        self._waiting: dict[tuple[str, str], tuple[str, OutboundRequest]] = {}
        self._copies: dict[tuple[str, str], tuple[str, str]] = {}  # deferred id -> a link copy's (CPO, CDR)
        self._not_started = {
            hub_id: [c for c, h in self.channels.items() if h == hub_id] for hub_id in self.hubs
        }

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """The hub registers toward the eMSP; its CPOs start once that connection is up."""
        for hub_id, hub in self.hubs.items():
            hub.register(EMSP_CONNECTION, self._rt.now())
            self._drain(hub_id)

    def _start_cpos(self, hub_id: str) -> None:
        waiting = self._not_started[hub_id]
        if not waiting or not emsp_registered(self.hubs[hub_id]):
            return
        self._not_started[hub_id] = []
        for cpo_id in waiting:
            self._rt._cpo_emit(cpo_id, self._rt.world.cpos[cpo_id].start(self._rt.now()))

    # ------------------------------------------------------------------ plumbing
    def _after(self, hub_id: str, action: Callable[[], None]) -> None:
        """The hub's own processing time before a message it sends leaves it."""
        delay = round(self.hubs[hub_id].added_latency.total_seconds() * 1000)
        if delay <= 0:
            action()
            return
        call_after(self._rt.env, delay, lambda _event: action())

    def _drain(self, hub_id: str) -> None:
        """After every call into the hub: answers it can now give, requests it wants sent, its wakeup."""
        hub = self.hubs[hub_id]
        for deferred_id, response in hub.completed_responses():
            waiter, outbound = self._waiting.pop((hub_id, deferred_id))
            copy = self._copies.pop((hub_id, deferred_id), None)
            if copy is not None:  # a routing hub answers a copy once the eMSP answered its forward
                self._copy_answered(copy, response)
            if waiter == EMSP:
                self._answer_emsp(hub_id, outbound, response)
            else:
                self._answer_cpo(hub_id, waiter, outbound, response)
        for outbound in hub.pending_requests():
            if outbound.partner == EMSP_CONNECTION:
                self._after(hub_id, partial(self._send_emsp, hub_id, outbound))
            else:
                self._after(hub_id, partial(self._send_cpo, hub_id, outbound.partner, outbound))
        self._schedule_wakeup(hub_id)
        self._start_cpos(hub_id)

    def _schedule_wakeup(self, hub_id: str) -> None:
        rt = self._rt
        deadline = self.hubs[hub_id].next_wakeup()
        if deadline is None:
            return
        key = f"hub:{hub_id}"
        at = max(rt._at_ms(deadline), int(rt.env.now))
        if rt._wakeup_at.get(key) == at:
            return
        rt._wakeup_at[key] = at

        def fire(_event: simpy.Event) -> None:
            if rt._wakeup_at.get(key) != at:
                return  # superseded by a later schedule
            del rt._wakeup_at[key]
            self.hubs[hub_id].on_wakeup(rt.now())
            self._drain(hub_id)

        call_after(rt.env, at - int(rt.env.now), fire)

    def _accept(
        self, hub_id: str, waiter: str, outbound: OutboundRequest, copy: tuple[str, str] | None = None
    ) -> HttpResponse | None:
        """The hub handles a request; a deferred answer waits for `_drain` to find it. `copy`:
        (CPO, CDR id) of a link's duplicate CDR POST, whose answer tells if it was taken."""
        response = self.hubs[hub_id].handle(outbound.request, self._rt.now())
        if isinstance(response, Deferred):
            self._waiting[(hub_id, response.deferred_id)] = (waiter, outbound)
            if copy is not None:
                self._copies[(hub_id, response.deferred_id)] = copy
            return None
        if copy is not None:
            self._copy_answered(copy, response)
        return response

    def _copy_answered(self, copy: tuple[str, str], response: HttpResponse) -> None:
        cpo_id, cdr_id = copy
        self._rt.world.cpos[cpo_id].ocpi.link_copy_answered(cdr_id, response)

    # ------------------------------------------------------------------ CPO <-> hub
    def cpo_sends(self, cpo_id: str, outbound: OutboundRequest) -> None:
        """A request of a CPO behind a hub: over the CPO's OCPI link to its hub."""
        rt, hub_id = self._rt, self.channels[cpo_id]
        rt.trace.ocpi_request(rt.now(), PROTO, cpo_id, hub_id, outbound.request)
        link = rt._to_emsp[cpo_id]
        if link.duplicates():  # as toward the eMSP: a client retry, the hub serves both copies
            rt.trace.ocpi_request(rt.now(), PROTO, cpo_id, hub_id, outbound.request)
            cdr_id = rt.world.cpos[cpo_id].ocpi.cdr_posted_by(outbound.request_id)
            link.send(partial(self._at_hub_from_cpo, hub_id, cpo_id, outbound, False, cdr_id), request=True)
        link.send(partial(self._at_hub_from_cpo, hub_id, cpo_id, outbound, True), request=True)

    def _at_hub_from_cpo(
        self,
        hub_id: str,
        cpo_id: str,
        outbound: OutboundRequest,
        answered: bool,
        copy_of_cdr: str | None = None,
    ) -> None:
        """`copy_of_cdr`: the link's extra copy of that CDR's POST; a repeat at the eMSP if the hub's
        answer to it says it was taken (it forwarded it, or stored it to deliver)."""
        rt = self._rt
        mode = rt._outage(hub_id, cpo_id)
        if mode == "refused":
            if answered:  # the refusal travels back as a TCP reset
                rt._from_emsp[cpo_id].send(partial(rt._cpo_unreachable, cpo_id, outbound.request_id))
            return
        if mode is not None:
            if answered:
                self._answer_cpo(hub_id, cpo_id, outbound, self._unavailable, delayed=False)
            return
        copy = None if copy_of_cdr is None else (cpo_id, copy_of_cdr)
        response = self._accept(hub_id, cpo_id if answered else "", outbound, copy)
        if response is not None and answered:
            self._answer_cpo(hub_id, cpo_id, outbound, response)
        self._drain(hub_id)

    def _answer_cpo(
        self,
        hub_id: str,
        cpo_id: str,
        outbound: OutboundRequest,
        response: HttpResponse,
        *,
        delayed: bool = True,
    ) -> None:
        if not cpo_id:
            return  # the duplicate copy: its client never sees this answer
        rt = self._rt

        def leave() -> None:
            rt.trace.ocpi_response(rt.now(), PROTO, hub_id, cpo_id, outbound.request, response)
            rt._from_emsp[cpo_id].send(partial(self._cpo_got, hub_id, cpo_id, outbound.request_id, response))

        if delayed:
            self._after(hub_id, leave)
        else:  # a load balancer's 503 page: the hub itself is not there to add its delay
            leave()

    def _cpo_got(self, hub_id: str, cpo_id: str, request_id: str, response: HttpResponse) -> None:
        rt = self._rt
        cpo = rt.world.cpos[cpo_id]
        if rt._outage(hub_id, cpo_id) == "refused":
            # The link broke while the answer travelled: the CPO sees a reset though the hub served it.
            rt._cpo_emit(cpo_id, cpo.on_ocpi_lost(request_id, rt.now()))
            return
        rt._cpo_emit(cpo_id, cpo.on_ocpi_response(request_id, response, rt.now()))

    def _send_cpo(self, hub_id: str, cpo_id: str, outbound: OutboundRequest) -> None:
        """A request of the hub to a CPO behind it (a forward, a broadcast, HubClientInfo, a handshake)."""
        rt = self._rt
        rt.trace.ocpi_request(rt.now(), PROTO, hub_id, cpo_id, outbound.request)

        def at_cpo() -> None:
            mode = rt._outage(hub_id, cpo_id)
            if mode == "refused":
                rt._to_emsp[cpo_id].send(partial(self._hub_unreachable, hub_id, outbound.request_id))
                return
            cpo = rt.world.cpos[cpo_id]
            response = cpo.handle_ocpi(outbound.request, rt.now()) if mode is None else self._unavailable
            rt.trace.ocpi_response(rt.now(), PROTO, cpo_id, hub_id, outbound.request, response)
            rt._to_emsp[cpo_id].send(partial(self._hub_got, hub_id, outbound.request_id, response, cpo_id))
            caused = cpo.take_output()  # an OCPI command's OCPP call to a station (as bilaterally)
            if caused.frames or caused.requests:
                rt._cpo_emit(cpo_id, caused)

        rt._from_emsp[cpo_id].send(at_cpo, request=True)

    # ------------------------------------------------------------------ hub <-> eMSP
    def _send_emsp(self, hub_id: str, outbound: OutboundRequest) -> None:
        rt = self._rt
        rt.trace.ocpi_request(rt.now(), PROTO, hub_id, EMSP, outbound.request)

        def at_emsp() -> None:
            mode = rt._outage(EMSP, hub_id)
            if mode == "refused":
                self._from_emsp[hub_id].send(partial(self._hub_unreachable, hub_id, outbound.request_id))
                return
            if mode is not None:
                self.emsp_answers(hub_id, outbound, self._unavailable)
                return
            response = rt.world.emsp.handle(outbound.request, rt.now())
            if isinstance(response, Deferred):  # a credentials POST: the eMSP fetches our versions first
                rt._deferred[response.deferred_id] = (hub_id, outbound)  # sim.py routes it back here
                rt._schedule_expiry()
            else:
                self.emsp_answers(hub_id, outbound, response)
            rt._emsp_outbound()

        self._to_emsp[hub_id].send(at_emsp, request=True)

    def emsp_answers(self, hub_id: str, outbound: OutboundRequest, response: HttpResponse) -> None:
        """The eMSP's answer to one of the hub's requests (at once, or once a deferred one is ready)."""
        rt = self._rt
        rt.trace.ocpi_response(rt.now(), PROTO, EMSP, hub_id, outbound.request, response)
        self._from_emsp[hub_id].send(partial(self._hub_got, hub_id, outbound.request_id, response, EMSP))

    def emsp_sends(self, hub_id: str, outbound: OutboundRequest) -> None:
        """A request of the eMSP to a hub's host (handshake calls, token pushes, pulls, commands)."""
        rt = self._rt
        rt.trace.ocpi_request(rt.now(), PROTO, EMSP, hub_id, outbound.request)

        def at_hub() -> None:
            # The eMSP has no transport-failure input: a 503 in either outage mode (as toward a CPO).
            if rt._outage(EMSP, hub_id) is not None:
                self._answer_emsp(hub_id, outbound, self._unavailable, delayed=False)
                return
            response = self._accept(hub_id, EMSP, outbound)
            if response is not None:
                self._answer_emsp(hub_id, outbound, response)
            self._drain(hub_id)

        self._from_emsp[hub_id].send(at_hub, request=True)

    def _answer_emsp(
        self, hub_id: str, outbound: OutboundRequest, response: HttpResponse, *, delayed: bool = True
    ) -> None:
        rt = self._rt

        def leave() -> None:
            rt.trace.ocpi_response(rt.now(), PROTO, hub_id, EMSP, outbound.request, response)
            self._to_emsp[hub_id].send(partial(rt._emsp_got, outbound.request_id, response))

        if delayed:
            self._after(hub_id, leave)
        else:
            leave()

    # ------------------------------------------------------------------ answers to the hub
    def _hub_got(self, hub_id: str, request_id: str, response: HttpResponse, peer: str) -> None:
        rt = self._rt
        if rt._outage(hub_id, peer) == "refused":
            # The link broke while the answer travelled: to the hub, the connection was reset, though
            # the receiver served the request (a resend may reach it twice).
            self.hubs[hub_id].on_lost(request_id, rt.now())
        else:
            self.hubs[hub_id].on_response(request_id, response, rt.now())
        self._drain(hub_id)

    def _hub_unreachable(self, hub_id: str, request_id: str) -> None:
        self.hubs[hub_id].on_unreachable(request_id, self._rt.now())
        self._drain(hub_id)
