"""The `sim` runtime: simpy drives virtual time in one process (principle 2).

Time unit is the integer millisecond, so every timestamp in the run is exact and reproducible.
Links (sim_link.py) are FIFO per direction (TCP keeps order) with latency + uniform jitter from the scenario,
drawn from the run's own seeded generator.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

import simpy

from bench.events import CdrCorrection, CdrHold, OcppCall, Outage, StationOffline, TariffChange, TokenBlock
from bench.runtime.allocation import RETRY_EVERY, ConnectorAllocator, retries_for
from bench.runtime.faults import SimRuntimeError, describe_fault
from bench.runtime.link_windows import link_windows
from bench.runtime.sim_events import call_after, call_at, run_until
from bench.runtime.sim_hub import SimHubs
from bench.runtime.sim_link import Link
from bench.scenario import LinkSpec
from bench.trace import WireTrace
from bench.world import AppStart, World, block_driver, horizon, known_driver, plug_in_token, quote_for
from emsp.model import CommandRequest, PartyRef
from emsp.ocpi.command_send import CommandRefused
from emsp.timeutil import format_utc
from emsp.wire import Deferred, HttpResponse, OutboundRequest
from simulators.cpo.mock_cpo import MockCpo, MockCpoOutput
from simulators.ocppj import subprotocol
from simulators.ocppj.vouched import vouched_frames
from simulators.station.base import VirtualStation

EMSP = "emsp"
# What a party in an `http_503` outage answers (its load balancer, really): no OCPI envelope.
UNAVAILABLE = HttpResponse(503, {"Content-Type": "text/plain", "Retry-After": "1"}, "Service Unavailable")


# Stations connect one after another, BOOT_GAP_MS apart, as a network powering up does. A large
# world would take too long so (25,000 stations: 42 scenario minutes, longer than a driver's
# patience, and its early drivers gave up on stations that had not booted): the whole stagger is at
# most BOOT_SPREAD_MS, the stations closer together beyond BOOT_SPREAD_MS / BOOT_GAP_MS of them.
BOOT_GAP_MS = 100
BOOT_SPREAD_MS = 2 * 60_000


def connect_delay_ms(offset: int, stations: int) -> int:
    """When the station at `offset` (0-based) of `stations` connects, in ms after the start."""
    return min(BOOT_GAP_MS * (offset + 1), (offset + 1) * BOOT_SPREAD_MS // stations)


@dataclass(slots=True, eq=False)
class _StationWire:
    """What every frame of one station needs (its CPO, trace proto, links), looked up once, and
    its pending wakeup: the deadline it was asked for and its instant (ms; None: none pending)."""

    station_id: str
    station: VirtualStation
    cpo: MockCpo
    cpo_id: str
    proto: str
    up: Link
    down: Link
    wakeup_deadline: datetime | None = None
    wakeup_at: int | None = None


@dataclass
class SimResult:
    ended_at: datetime
    unserved_arrivals: int
    trace_counts: dict[str, int] = field(default_factory=dict)


@contextmanager
def _quiet_gc() -> Iterator[None]:
    """The world (eMSP, CPOs, stations, the plan) lives for the whole run: freeze it out of the
    collector's scans, and collect young objects less often (a run makes many short-lived, acyclic
    ones; at 600 stations collection took a third of the CPU). Collection timing changes no output.
    Only the young generations are collected first (the world's building garbage): a full collection
    scans every object of the process, which in a process running many worlds (a test worker, an
    in-process suite) grows with everything it holds and cost more than a small run itself."""
    thresholds = gc.get_threshold()
    gc.collect(1)
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()  # the world may go once the run is over (tests run many worlds in one process)


class SimRuntime:
    def __init__(
        self, world: World, trace: WireTrace, progress: Callable[[float], None] | None = None
    ) -> None:
        self.world = world
        self.trace = trace
        self._progress = progress
        self.env = simpy.Environment()
        self._rng = random.Random(f"links-{world.scenario.seed}")
        self._start = world.scenario.start
        self._now_ms, self._now = 0, world.scenario.start
        self._allocator = ConnectorAllocator(world.places, world.reserved)
        self._unserved = 0
        scenario = world.scenario
        cpo_specs = {cpo.id: cpo for cpo in scenario.cpos}
        windows = self._link_windows()

        def link(cpo_id: str, kind: str) -> Link:
            base = cpo_specs[cpo_id].ocpp_link if kind == "ocpp" else cpo_specs[cpo_id].ocpi_link
            return Link(self.env, base, self._rng, windows.get((cpo_id, kind)))

        self._up = {sid: link(world.cpo_of(sid), "ocpp") for sid in world.stations}
        self._down = {sid: link(world.cpo_of(sid), "ocpp") for sid in world.stations}
        self._to_emsp = {cid: link(cid, "ocpi") for cid in world.cpos}
        self._from_emsp = {cid: link(cid, "ocpi") for cid in world.cpos}
        self._hosts = {urlsplit(url).netloc: cid for cid, url in world.cpo_base_urls.items()}
        # the trace's `proto` of each station's OCPP frames (a station's version never changes)
        self._ocpp_proto = {sid: subprotocol(st.version) for sid, st in world.stations.items()}
        # the trace's `proto` per partner: the OCPI version its CPO speaks
        self._proto = {cid: f"ocpi{cpo.ocpi.version}" for cid, cpo in world.cpos.items()}
        self._wires = {
            sid: _StationWire(
                sid, st, world.cpos[cid], cid, self._ocpp_proto[sid], self._up[sid], self._down[sid]
            )
            for sid, st in world.stations.items()
            for cid in [world.cpo_of(sid)]
        }
        self._wakeup_at: dict[str, int] = {}
        # Drivers who took a bay at a station that has not booted yet: they plug in once it has.
        self._awaiting_boot: dict[str, list[Callable[[], None]]] = {}
        self._deferred: dict[str, tuple[str, OutboundRequest]] = {}  # deferred id -> (CPO, its request)
        self._expiry_at: set[int] = set()  # instants (ms) an expiry of the eMSP's deadlines is due
        self._outages = [
            (e.party, self._at_ms(e.start), self._at_ms(e.end), e.mode)
            for e in scenario.events
            if isinstance(e, Outage)
        ]
        # Roaming hubs (bench/runtime/sim_hub.py): CPOs behind one send to it, not to the eMSP.
        self._hubs = (
            SimHubs(self, UNAVAILABLE, lambda spec: Link(self.env, spec, self._rng)) if world.hubs else None
        )

    def _link_windows(self) -> dict[tuple[str, str], list[tuple[int, int, LinkSpec]]]:
        return {
            link: [(self._at_ms(start), self._at_ms(end), spec) for start, end, spec in windows]
            for link, windows in link_windows(self.world.scenario).items()
        }

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        ms = self.env._now  # the clock itself: its `now` property is one call more, and this is hot
        if ms != self._now_ms:  # many messages share an instant: one datetime per instant
            # timedelta's positional milliseconds: the same value as milliseconds=ms, without the keywords
            self._now_ms, self._now = int(ms), self._start + timedelta(0, 0, 0, ms)
        return self._now

    def _at_ms(self, moment: datetime) -> int:
        delta = moment - self._start
        # Round *up* to the next millisecond so an actor is never woken before its deadline. Days
        # and seconds are whole milliseconds, so only the microseconds need rounding (integer
        # arithmetic: the same value as ceil(delta / 1 ms), without timedelta division).
        return delta.days * 86_400_000 + delta.seconds * 1000 - (-delta.microseconds // 1000)

    # ------------------------------------------------------------------ OCPP
    def _station_send(self, station_id: str, frames: list[str]) -> None:
        self._send_frames(self._wires[station_id], frames)

    def _send_frames(self, wire: _StationWire, frames: list[str]) -> None:
        if frames:
            now = self.now()
            for frame in frames:
                self.trace.ocpp(now, wire.proto, wire.station_id, wire.cpo_id, frame)
                wire.up.send(partial(self._at_cpo, wire, frame))
        self._schedule_wakeup(wire)

    def _at_cpo(self, wire: _StationWire, frame: str) -> None:
        self._cpo_emit(wire.cpo_id, wire.cpo.on_station_frame(wire.station_id, frame, self.now()))

    def _at_station(self, wire: _StationWire, frame: str) -> None:
        station = wire.station
        self._send_frames(wire, station.on_frame(frame, self.now()))
        if station.booted and wire.station_id in self._awaiting_boot:
            for plug in self._awaiting_boot.pop(wire.station_id):
                plug()

    def _schedule_wakeup(self, wire: _StationWire) -> None:
        deadline = wire.station.next_wakeup()
        if deadline is None:
            return
        if deadline == wire.wakeup_deadline and wire.wakeup_at is not None:
            # The wakeup pending is for this very deadline: it is due at the instant computed
            # below (its own instant was the deadline's, or it was now and is still to come).
            return
        now = int(self.env._now)
        at = max(self._at_ms(deadline), now)
        wire.wakeup_deadline = deadline
        if wire.wakeup_at == at:
            return
        wire.wakeup_at = at

        def fire() -> None:
            if wire.wakeup_at != at:
                return  # superseded by a later schedule
            wire.wakeup_at = None
            self._send_frames(wire, wire.station.on_wakeup(self.now()))

        call_at(self.env, at - now, fire)

    # ------------------------------------------------------------------ OCPI
    def _cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None:
        now = self.now()  # one instant for the whole output
        for station_id, frame in output.frames:
            wire = self._wires[station_id]
            self.trace.ocpp(now, wire.proto, cpo_id, station_id, frame)
            wire.down.send(partial(self._at_station, wire, frame))
        for outbound in output.requests:
            self._cpo_to_emsp(cpo_id, outbound)
        # retries after an outage; a dialect's delayed sends (late CDRs, a stale PATCH)
        self._schedule_cpo_wakeup(cpo_id)

    def _cpo_to_emsp(self, cpo_id: str, outbound: OutboundRequest) -> None:
        if self._hubs is not None and cpo_id in self._hubs.channels:
            self._hubs.cpo_sends(cpo_id, outbound)
            return
        request = outbound.request
        self.trace.ocpi_request(self.now(), self._proto[cpo_id], cpo_id, EMSP, request)
        link = self._to_emsp[cpo_id]
        if link.duplicates():
            # The client got no answer to a first copy and sent the same request again: the eMSP
            # serves both, the client only ever sees the second answer.
            self.trace.ocpi_request(self.now(), self._proto[cpo_id], cpo_id, EMSP, request)
            cdr_id = self.world.cpos[cpo_id].ocpi.cdr_posted_by(outbound.request_id)
            link.send(partial(self._at_emsp, cpo_id, outbound, False, cdr_id), request=True)
        link.send(partial(self._at_emsp, cpo_id, outbound, True), request=True)

    def _outage(self, *parties: str) -> str | None:
        """The mode of an outage of any of `parties` now (requests between them cannot get through)."""
        if not self._outages:  # asked for every OCPI message; most scenarios have none
            return None
        now = int(self.env.now)
        for party, start, end, mode in self._outages:
            if party in parties and start <= now < end:
                return mode
        return None

    def _at_emsp(
        self, cpo_id: str, outbound: OutboundRequest, answered: bool, copy_of_cdr: str | None = None
    ) -> None:
        """`copy_of_cdr`: this is the link's extra copy of that CDR's POST (taken: a repeat)."""
        mode = self._outage(EMSP, cpo_id)
        if mode == "refused":
            if answered:  # the refusal travels back as a TCP reset
                self._from_emsp[cpo_id].send(lambda: self._cpo_unreachable(cpo_id, outbound.request_id))
            return
        if mode is not None:
            if answered:
                self._emsp_answers(cpo_id, outbound, UNAVAILABLE)
            return
        response = self.world.emsp.handle(outbound.request, self.now())
        if copy_of_cdr is not None and not isinstance(response, Deferred):
            self.world.cpos[cpo_id].ocpi.link_copy_answered(copy_of_cdr, response)
        if isinstance(response, Deferred):
            if answered:  # answered once the eMSP's own calls to the CPO are done (credentials POST/PUT)
                self._deferred[response.deferred_id] = (cpo_id, outbound)
                self._schedule_expiry()
        elif answered:
            self._emsp_answers(cpo_id, outbound, response)
        self._emsp_outbound()

    def _emsp_answers(self, cpo_id: str, outbound: OutboundRequest, response: HttpResponse) -> None:
        if self._hubs is not None and cpo_id in self._hubs.hubs:  # a hub's request (credentials POST)
            self._hubs.emsp_answers(cpo_id, outbound, response)
            return
        self.trace.ocpi_response(self.now(), self._proto[cpo_id], EMSP, cpo_id, outbound.request, response)
        self._from_emsp[cpo_id].send(lambda: self._cpo_got(cpo_id, outbound.request_id, response))

    def _emsp_completed(self) -> None:
        for deferred_id, response in self.world.emsp.completed_responses():
            cpo_id, outbound = self._deferred.pop(deferred_id)
            self._emsp_answers(cpo_id, outbound, response)

    def _schedule_expiry(self) -> None:
        """A CPO that never answers the eMSP's handshake calls, or a command's response or result
        that never comes: the eMSP gives up at its deadline (in simulated time)."""
        deadline = self.world.emsp.next_deadline()
        if deadline is None:
            return
        at = max(self._at_ms(deadline), int(self.env.now))
        if at in self._expiry_at:
            return
        self._expiry_at.add(at)

        def expire(_event: simpy.Event) -> None:
            self._expiry_at.discard(at)
            self.world.emsp.expire_overdue(self.now())
            self._emsp_completed()
            following = self.world.emsp.next_deadline()
            if following is not None and self._at_ms(following) > int(self.env.now):
                self._schedule_expiry()

        call_after(self.env, at - int(self.env.now), expire)

    def _cpo_unreachable(self, cpo_id: str, request_id: str) -> None:
        self._cpo_emit(cpo_id, self.world.cpos[cpo_id].on_ocpi_unreachable(request_id, self.now()))

    def _schedule_cpo_wakeup(self, cpo_id: str) -> None:
        deadline = self.world.cpos[cpo_id].next_wakeup()
        if deadline is None:
            return
        key = f"cpo:{cpo_id}"
        at = max(self._at_ms(deadline), int(self.env.now))
        if self._wakeup_at.get(key) == at:
            return
        self._wakeup_at[key] = at

        def fire() -> None:
            if self._wakeup_at.get(key) != at:
                return
            del self._wakeup_at[key]
            self._cpo_emit(cpo_id, self.world.cpos[cpo_id].on_wakeup(self.now()))

        call_at(self.env, at - int(self.env.now), fire)

    def _cpo_got(self, cpo_id: str, request_id: str, response: HttpResponse) -> None:
        cpo = self.world.cpos[cpo_id]
        if self._outage(EMSP, cpo_id) == "refused":
            # The link broke while the answer travelled: the CPO sees its connection reset, though
            # the eMSP served the request; its retry may arrive twice.
            self._cpo_emit(cpo_id, cpo.on_ocpi_lost(request_id, self.now()))
            return
        self._cpo_emit(cpo_id, cpo.on_ocpi_response(request_id, response, self.now()))

    def _emsp_outbound(self) -> None:
        for outbound in self.world.emsp.pending_requests():
            host = urlsplit(outbound.request.url).netloc
            if self._hubs is not None and host in self._hubs.hosts:
                self._hubs.emsp_sends(self._hubs.hosts[host], outbound)
                continue
            cpo_id = self._hosts[host]
            request = outbound.request
            self.trace.ocpi_request(self.now(), self._proto[cpo_id], EMSP, cpo_id, request)

            def at_cpo(cpo_id: str = cpo_id, outbound: OutboundRequest = outbound) -> None:
                # The eMSP has no transport-failure input: a 503 in either outage mode.
                down = self._outage(EMSP, cpo_id) is not None
                cpo = self.world.cpos[cpo_id]
                response = UNAVAILABLE if down else cpo.handle_ocpi(outbound.request, self.now())
                proto = self._proto[cpo_id]
                self.trace.ocpi_response(self.now(), proto, cpo_id, EMSP, outbound.request, response)
                self._to_emsp[cpo_id].send(lambda: self._emsp_got(outbound.request_id, response))
                caused = cpo.take_output()  # an OCPI command's OCPP call to a station
                if caused.frames or caused.requests:
                    self._cpo_emit(cpo_id, caused)

            self._from_emsp[cpo_id].send(at_cpo, request=True)

        self._schedule_pulls()
        self._schedule_call_retries()

    def _schedule_call_retries(self) -> None:
        """The eMSP's next re-send of a Token push that met a transient failure, on the sim clock
        (an outage answers 503, a failure the push is re-sent after)."""
        self._wake_emsp("emsp:call_retry", self.world.emsp.next_call_retry(), self.world.emsp.retry_due_calls)

    def _schedule_pulls(self) -> None:
        """The eMSP's next pull (a failed pull's retry, the periodic catch-up), on the sim clock."""
        self._wake_emsp("emsp:pull", self.world.emsp.next_pull_at(self.now()), self.world.emsp.run_due_pulls)

    def _wake_emsp(self, key: str, due: datetime | None, work: Callable[[datetime], object]) -> None:
        """Call `work(now)` at `due` (one pending wakeup per `key`: a later schedule replaces it),
        then send what it queued."""
        if due is None:
            return
        at = max(self._at_ms(due), int(self.env.now))
        if self._wakeup_at.get(key) == at:
            return
        self._wakeup_at[key] = at

        def fire(_event: simpy.Event) -> None:
            if self._wakeup_at.get(key) != at:
                return
            del self._wakeup_at[key]
            work(self.now())
            self._emsp_outbound()

        call_after(self.env, at - int(self.env.now), fire)

    def _link_restored(self, party: str) -> None:
        """An outage of `party`'s link ended: the eMSP catches up with what may have been lost."""
        partner = None if party == EMSP else party
        if partner is None or partner in self.world.cpos or (self._hubs and partner in self._hubs.hubs):
            self.world.emsp.link_restored(partner, self.now())
            self._emsp_outbound()

    def _emsp_got(self, request_id: str, response: HttpResponse) -> None:
        self.world.emsp.on_response(request_id, response, self.now())
        self._emsp_completed()
        self._emsp_outbound()
        if self.world.emsp.next_command_deadline() is not None:
            self._schedule_expiry()  # a CommandResponse sets the result's deadline

    # ------------------------------------------------------------------ drivers
    def _on_arrival(self, index: int, _event: simpy.Event) -> None:
        self._arrive(index)

    def _arrive(self, index: int, attempt: int = 0) -> None:
        arrival = self.world.arrivals[index]
        key = self._allocator.take(arrival.station_choice, arrival.stations)
        if key is None:
            if attempt < retries_for(self.world.scenario.demand.patience_minutes):
                later = self._at_ms(self.now() + RETRY_EVERY) - int(self.env.now)
                call_after(self.env, later, lambda _e: self._arrive(index, attempt + 1))
            else:
                self._unserved += 1
            return
        station_id = key[0]
        if self.world.stations[station_id].booted:
            self._plug_in(index, key)
            return
        # As in life, a driver at a charger that is still starting up waits for it, up to their patience.
        waiting = partial(self._plug_in, index, key)
        self._awaiting_boot.setdefault(station_id, []).append(waiting)

        def give_up(_event: simpy.Event) -> None:
            queue = self._awaiting_boot.get(station_id, [])
            if waiting in queue:
                queue.remove(waiting)
                self._allocator.release(key)
                self._unserved += 1

        patience = timedelta(minutes=self.world.scenario.demand.patience_minutes)
        call_after(self.env, self._at_ms(self.now() + patience) - int(self.env.now), give_up)

    def _plug_in(self, index: int, key: tuple[str, int]) -> None:
        arrival = self.world.arrivals[index]
        station_id, connector = key
        ev = arrival.ev()
        station = self.world.stations[station_id]
        quote_for(self.world, arrival, station_id, connector, self.now())
        uid = plug_in_token(self.world, arrival, station_id, connector, self.now())
        app = arrival.app_start and self._app_start(uid, station_id, connector)
        self._station_send(
            station_id, station.plug_in(connector, token_uid=uid, ev=ev, now=self.now(), await_remote=app)
        )
        if app:
            self._emsp_outbound()  # the START_SESSION, after the plug-in it follows
            self._schedule_expiry()

        def depart(_event: simpy.Event) -> None:
            self._allocator.release(key)
            self._station_send(station_id, station.unplug(connector, self.now()))

        call_after(self.env, self._at_ms(self.now() + arrival.stay) - int(self.env.now), depart)

    def _app_start(self, token_uid: str, station_id: str, connector: int) -> bool:
        """The driver taps "start" in the eMSP's app: a START_SESSION through the eMSP core. False
        when the eMSP refuses to send it (the driver swipes their card instead)."""
        cpo = self.world.cpos[self.world.cpo_of(station_id)]
        evse = cpo.ocpi.evse(station_id, connector)
        request = CommandRequest("START_SESSION", location_id=evse.location_id, evse_uid=evse.evse_uid)
        party = PartyRef(cpo.ocpi.country_code, cpo.ocpi.party_id)
        refused = ""
        try:
            sent = self.world.emsp.send_command(request, now=self.now(), token_uid=token_uid, party=party)
        except CommandRefused as exc:
            sent, refused = None, str(exc)
        command_id = None if sent is None else int(sent["id"])
        start = AppStart(self.now(), token_uid, station_id, connector, command_id, refused)
        self.world.app_starts.append(start)
        return command_id is not None

    # ------------------------------------------------------------------ timeline
    def _at(self, moment: datetime, action: Callable[[], None]) -> None:
        call_after(self.env, max(self._at_ms(moment) - int(self.env.now), 0), lambda _e: action())

    def _schedule_timeline(self) -> None:
        world = self.world
        cpo_specs = {cpo.id: cpo for cpo in world.scenario.cpos}
        for index, event in enumerate(world.scenario.events):
            if isinstance(event, Outage) and world.scenario.emsp.pull.after_outage:
                self._at(event.end, partial(self._link_restored, event.party))
            if isinstance(event, TariffChange):
                policy = cpo_specs[event.cpo].tariff_policy(event.tariff)
                self._at(event.at, partial(self._tariff_change, event, world.tariff_versions[index], policy))
            elif isinstance(event, TokenBlock):
                self._at(event.at, partial(self._token_block, event))
            elif isinstance(event, StationOffline):
                for sid in event.stations:
                    self._at(event.start, partial(self._set_online, sid, False))
                    self._at(event.end, partial(self._set_online, sid, True))
            elif isinstance(event, OcppCall):
                self._at(event.at, partial(self._ocpp_call, event))
            elif isinstance(event, CdrHold):
                rng = random.Random(f"cdr-hold-{world.scenario.seed}-{index}")
                self._at(event.start, partial(self._cdr_batch, event.cpo, "hold", None))
                self._at(event.end, partial(self._cdr_batch, event.cpo, "release", (event, rng)))
                late_at = event.end + timedelta(minutes=event.late_minutes)
                self._at(late_at, partial(self._cdr_batch, event.cpo, "late", None))
            elif isinstance(event, CdrCorrection):
                rng = random.Random(f"cdr-correction-{world.scenario.seed}-{index}")
                self._at(event.at, partial(self._cdr_correction, event, rng))

    def _cdr_correction(self, event: CdrCorrection, rng: random.Random) -> None:
        cpo = self.world.cpos[event.cpo]
        self._cpo_emit(event.cpo, cpo.correct_cdrs(self.now(), share=event.share, rng=rng))

    def _cdr_batch(self, cpo_id: str, step: str, release: tuple[CdrHold, random.Random] | None) -> None:
        cpo, now = self.world.cpos[cpo_id], self.now()
        if step == "hold":
            self._cpo_emit(cpo_id, cpo.hold_cdrs(now))
        elif release is not None:
            event, rng = release
            self._cpo_emit(cpo_id, cpo.release_cdrs(now, duplicate=event.duplicate, late=event.late, rng=rng))
        else:
            self._cpo_emit(cpo_id, cpo.release_cdrs(now))

    def _tariff_change(self, event: TariffChange, tariff: dict[str, object], policy: str) -> None:
        cpo = self.world.cpos[event.cpo]
        self._cpo_emit(
            cpo.cpo_id, cpo.publish_tariff(event.tariff, event.published_id(), tariff, policy, self.now())
        )

    def _ocpp_call(self, event: OcppCall) -> None:
        for station_id in event.stations:
            cpo_id = self.world.cpo_of(station_id)
            call = self.world.cpos[cpo_id].csms_call(station_id, event.action, event.payload, self.now())
            self._cpo_emit(cpo_id, call)

    def _token_block(self, event: TokenBlock) -> None:
        driver = known_driver(self.world, event.driver)
        if block_driver(self.world, driver, self.now()):
            self._emsp_outbound()  # the block's push to the CPOs' Tokens receivers

    def _set_online(self, station_id: str, online: bool) -> None:
        self._allocator.set_online(station_id, online)  # a driver's app shows it unavailable
        self._station_send(station_id, self.world.stations[station_id].set_online(online, self.now()))

    def _ticker(self, until_ms: int) -> simpy.events.ProcessGenerator:
        while True:
            yield self.env.timeout(60_000)
            if self._progress is not None:
                self._progress(min(int(self.env.now) / until_ms, 1.0))

    # ------------------------------------------------------------------ run
    def run(self) -> SimResult:
        # Each OCPP frame is validated once, when written: the reader of the same run trusts it.
        with vouched_frames():
            return self._run()

    def _run(self) -> SimResult:
        world = self.world
        for cpo_id, cpo in world.cpos.items():
            if cpo_id not in world.channels:  # CPOs behind a hub start once it reached the eMSP
                self._cpo_emit(cpo_id, cpo.start(self.now()))
        if self._hubs is not None:
            self._hubs.start()
        stations = len(world.stations)
        for offset, station_id in enumerate(world.stations):

            def connect(_event: simpy.Event, sid: str = station_id) -> None:
                st = world.stations[sid]
                cpo_id = world.cpo_of(sid)
                self._cpo_emit(cpo_id, world.cpos[cpo_id].on_station_connected(sid, st.version, self.now()))
                self._station_send(sid, st.on_connected(self.now()))

            call_after(self.env, connect_delay_ms(offset, stations), connect)
        self._schedule_timeline()
        for index, arrival in enumerate(world.arrivals):
            call_after(self.env, self._at_ms(arrival.at), partial(self._on_arrival, index))
        until = self._at_ms(horizon(world))
        if self._progress is not None:
            self.env.process(self._ticker(until))
        try:
            with _quiet_gc():
                run_until(self.env, until)
        except Exception as exc:  # a simulated party (or the bench's wiring) raised: the run cannot go on
            raise SimRuntimeError(f"at {format_utc(self.now())}: {describe_fault(exc)}") from exc
        if self._progress is not None:
            self._progress(1.0)
        return SimResult(
            ended_at=self.now(), unserved_arrivals=self._unserved, trace_counts=dict(self.trace.counts)
        )
