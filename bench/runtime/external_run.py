"""The live runtime's external-CSMS mode: the virtual stations against a CSMS the bench does not run.

Each station is a `StationLink` on a real WebSocket to its URL (`<csms_url>/<station id>`); the
demand model's drivers plug in and leave on the wall clock (speed 1: a real CSMS keeps real time).
Every frame both ways goes to the wire trace and to the `WireGrader` (bench/external_csms.py).
No eMSP and no mock CPO take part.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bench.external_csms import StationOutcome, WireGrader
from bench.runtime.allocation import RETRY_EVERY, ConnectorAllocator, retries_for
from bench.runtime.live_clock import ScaledClock
from bench.scenario import Scenario
from bench.station_link import StationLink
from bench.trace import WireTrace
from bench.world import World, build_world, horizon
from simulators.ocppj import subprotocol

CALL_TIMEOUT_S = 30  # a real CSMS may never answer: a station gives up on a CALL after this long
SETTLE_S = 10.0  # wall seconds the stations get after the horizon to finish their exchanges


@dataclass(frozen=True, slots=True)
class StationCredentials:
    """How one station authenticates at the external CSMS (security profiles 1-3)."""

    password: str | bytes | None = None
    tls: ssl.SSLContext | None = None


@dataclass
class ExternalResult:
    world: World
    grader: WireGrader
    stations: dict[str, StationOutcome]
    unserved_arrivals: int
    ended_at: datetime


class ExternalCsmsRuntime:
    def __init__(
        self,
        world: World,
        trace: WireTrace,
        clock: ScaledClock,
        urls: dict[str, str],
        credentials: dict[str, StationCredentials] | None = None,
    ) -> None:
        self.world, self.trace, self.clock = world, trace, clock
        self.grader = WireGrader({sid: st.version for sid, st in world.stations.items()})
        self._allocator = ConnectorAllocator(world.places)
        self.unserved = 0
        self.links: dict[str, StationLink] = {}
        creds = credentials or {}
        for sid, station in world.stations.items():
            station.call_timeout = timedelta(seconds=CALL_TIMEOUT_S)
            given = creds.get(sid, StationCredentials())
            self.links[sid] = StationLink(
                station, urls[sid], clock=clock.now, password=given.password, tls=given.tls,
                tap=self._tap(sid),
            )  # fmt: skip

    def _tap(self, station_id: str):  # type: ignore[no-untyped-def]
        cpo_id = self.world.cpo_of(station_id)
        proto = subprotocol(self.world.stations[station_id].version)

        def tap(direction: str, frame: str, at: datetime) -> None:
            if direction == "out":
                self.trace.ocpp(at, proto, station_id, cpo_id, frame)
                self.grader.sent(station_id, frame, at)
            else:
                self.trace.ocpp(at, proto, cpo_id, station_id, frame)
                self.grader.received(station_id, frame, at)

        return tap

    async def run(self, until: datetime) -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(link.run(stop)) for link in self.links.values()]
        drivers = [asyncio.ensure_future(self._driver(i, until)) for i in range(len(self.world.arrivals))]
        try:
            # Every driver has left by the horizon (it holds the last departure): wait for them, so
            # the last unplug really goes out, then for the stations' last exchanges.
            await asyncio.wait(drivers, timeout=self.clock.wall_seconds_until(until) + SETTLE_S)
            await self._settled()
        finally:
            stop.set()
            for task in drivers:
                task.cancel()
            await asyncio.gather(*drivers, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
            self.grader.finish()
        for task in drivers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]  # a bug of the bench: exit 3

    async def _settled(self) -> None:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + SETTLE_S
        while loop.time() < give_up:
            busy = [
                sid
                for sid, st in self.world.stations.items()
                if self.links[sid].connections and (st.endpoint.in_flight is not None or st.endpoint.queued)
            ]
            if not busy:
                return
            await asyncio.sleep(0.1)

    async def _driver(self, index: int, until: datetime) -> None:
        arrival = self.world.arrivals[index]
        await self.clock.sleep_until(arrival.at)
        key = self._allocator.take(arrival.station_choice)
        for _ in range(retries_for(self.world.scenario.demand.patience_minutes)):
            if key is not None:
                break
            await self.clock.sleep_until(self.clock.now() + RETRY_EVERY)
            key = self._allocator.take(arrival.station_choice)
        if key is None:
            self.unserved += 1
            return
        station_id, connector = key
        link = self.links[station_id]
        # A station the CSMS has not (yet) let in serves no driver: they wait for it up to their
        # patience, as in sim, and are counted unserved as sim counts them (patience out before the end).
        patience_ends = self.clock.now() + timedelta(minutes=self.world.scenario.demand.patience_minutes)
        if not await self.clock.wait_until(link.booted, min(patience_ends, until)):
            self._allocator.release(key)
            if patience_ends < until:
                self.unserved += 1
            return
        station, ev, token = self.world.stations[station_id], arrival.ev(), arrival.driver.token_uid
        await link.act(lambda now: station.plug_in(connector, token_uid=token, ev=ev, now=now))
        await self.clock.sleep_until(self.clock.now() + arrival.stay)
        self._allocator.release(key)
        await link.act(lambda now: station.unplug(connector, now))

    def outcomes(self) -> dict[str, StationOutcome]:
        return {
            sid: StationOutcome(link.url, link.connections, link.refusals, link.failures, link.last_error)
            for sid, link in self.links.items()
        }


async def _run(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    urls: dict[str, str],
    credentials: dict[str, StationCredentials] | None,
    database_url: str,
    scenario_file: str,
) -> ExternalResult:
    # The world is built as for any run (stations, drivers, arrivals); its eMSP and mock CPOs stay idle.
    cpo_urls = {cpo.id: f"http://{cpo.id}.cpo.invalid/ocpi" for cpo in scenario.cpos}
    world = build_world(scenario, base_dir, emsp_base_url="http://emsp.invalid/ocpi", cpo_base_urls=cpo_urls,
                        database_url=database_url, scenario_file=scenario_file)  # fmt: skip
    clock = ScaledClock(scenario.start, 1.0)
    runtime = ExternalCsmsRuntime(world, trace, clock, urls, credentials)
    await runtime.run(horizon(world))
    return ExternalResult(world, runtime.grader, runtime.outcomes(), runtime.unserved, clock.now())


def run_external(
    scenario: Scenario,
    base_dir: Path,
    trace: WireTrace,
    urls: dict[str, str],
    *,
    credentials: dict[str, StationCredentials] | None = None,
    database_url: str = "sqlite://",
    scenario_file: str = "<scenario>",
) -> ExternalResult:
    return asyncio.run(_run(scenario, base_dir, trace, urls, credentials, database_url, scenario_file))
