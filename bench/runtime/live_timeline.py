"""The scenario timeline in the `live` runtime: the same events, applied on the live scenario clock.

Each event calls the same model methods as `sim` (bench/runtime/sim.py `_schedule_timeline`); only
the clock and the transport differ. One task walks the steps in scenario order (ties in file
order, as sim's scheduling keeps them), so two events at one instant apply in the same order in
both runtimes. Every application is recorded with the scenario instant it really happened at: on
a loaded machine that is later than planned, and anything measured against an event (a test's
margin, a report) must start from when it was applied, not from when it was due.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from bench.events import CdrCorrection, CdrHold, OcppCall, Outage, StationOffline, TariffChange, TokenBlock
from bench.runtime.live_clock import ScaledClock
from bench.scenario import Scenario
from bench.world import World, block_driver, known_driver
from emsp.timeutil import format_utc
from simulators.cpo.mock_cpo import MockCpoOutput

OutageSpan = tuple[str, datetime, datetime, str]  # (party, from, until, mode)


def outage_spans(scenario: Scenario) -> list[OutageSpan]:
    return [(e.party, e.start, e.end, e.mode) for e in scenario.events if isinstance(e, Outage)]


def outage_mode(spans: list[OutageSpan], now: datetime, *parties: str) -> str | None:
    """The mode of an outage of any of `parties` at `now` (nothing gets through between them)."""
    for party, start, end, mode in spans:
        if party in parties and start <= now < end:
            return mode
    return None


class TimelineHost(Protocol):
    """What the timeline needs from the live runtime."""

    world: World

    def cpo_emit(self, cpo_id: str, output: MockCpoOutput) -> None: ...

    def take_offline(self, station_id: str, now: datetime) -> None: ...

    def bring_online(self, station_id: str, applied: Callable[[datetime], None]) -> None: ...


@dataclass(frozen=True, slots=True)
class Applied:
    """One timeline step as it happened: `at` is the scenario instant the runtime applied it."""

    index: int  # the event's position in `events:`
    what: str  # e.g. "tariff_change", "station_offline:CS-1:down", "cdr_hold:release"
    due: datetime
    at: datetime

    @property
    def lag(self) -> timedelta:
        return self.at - self.due


@dataclass(frozen=True, slots=True)
class _Step:
    due: datetime
    order: int
    index: int
    what: str
    apply: Callable[[datetime], None]
    records_itself: bool


class LiveTimeline:
    def __init__(self, host: TimelineHost, clock: ScaledClock) -> None:
        self._host, self._clock = host, clock
        self.applied: list[Applied] = []
        self._steps = sorted(self._plan(), key=lambda s: (s.due, s.order))

    def _plan(self) -> list[_Step]:
        world, host = self._host.world, self._host
        cpo_specs = {cpo.id: cpo for cpo in world.scenario.cpos}
        steps: list[_Step] = []

        def add(
            due: datetime, index: int, what: str, apply: Callable[[datetime], None], *, records: bool = False
        ) -> None:
            steps.append(_Step(due, len(steps), index, what, apply, records))

        for index, event in enumerate(world.scenario.events):
            if isinstance(event, Outage) and world.scenario.emsp.pull.after_outage:
                # The eMSP catches up with what the outage may have lost (as sim's _link_restored);
                # not one of the timeline's applied figures (records=True, recording nothing).
                restored = partial(self._link_restored, event.party)
                add(event.end, index, "outage:catch_up", restored, records=True)
            if isinstance(event, TariffChange):
                policy = cpo_specs[event.cpo].tariff_policy(event.tariff)
                publish = partial(self._tariff_change, event, world.tariff_versions[index], policy)
                add(event.at, index, "tariff_change", publish)
            elif isinstance(event, TokenBlock):
                add(event.at, index, "token_block", partial(self._token_block, event))
            elif isinstance(event, StationOffline):
                for sid in event.stations:
                    add(event.start, index, f"station_offline:{sid}:down", partial(host.take_offline, sid))
                    up = partial(self._online, index, sid, event.end)
                    add(event.end, index, f"station_offline:{sid}:up", up, records=True)
            elif isinstance(event, OcppCall):
                add(event.at, index, "ocpp_call", partial(self._ocpp_call, event))
            elif isinstance(event, CdrHold):
                # The same seeded draws as sim: which CDRs go twice or late is the scenario's.
                rng = random.Random(f"cdr-hold-{world.scenario.seed}-{index}")
                late_at = event.end + timedelta(minutes=event.late_minutes)
                add(event.start, index, "cdr_hold:hold", partial(self._cdr_batch, event.cpo, None))
                add(event.end, index, "cdr_hold:release", partial(self._cdr_batch, event.cpo, (event, rng)))
                add(late_at, index, "cdr_hold:late", partial(self._cdr_batch, event.cpo, ()))
            elif isinstance(event, CdrCorrection):
                rng = random.Random(f"cdr-correction-{world.scenario.seed}-{index}")
                add(event.at, index, "cdr_correction", partial(self._cdr_correction, event, rng))
        return steps

    def _tariff_change(
        self, event: TariffChange, tariff: dict[str, object], policy: str, now: datetime
    ) -> None:
        cpo = self._host.world.cpos[event.cpo]
        self._host.cpo_emit(
            event.cpo, cpo.publish_tariff(event.tariff, event.published_id(), tariff, policy, now)
        )

    def _ocpp_call(self, event: OcppCall, now: datetime) -> None:
        world = self._host.world
        for station_id in event.stations:
            cpo_id = world.cpo_of(station_id)
            self._host.cpo_emit(
                cpo_id, world.cpos[cpo_id].csms_call(station_id, event.action, event.payload, now)
            )

    def _link_restored(self, party: str, now: datetime) -> None:
        world = self._host.world
        if party == "emsp":
            world.emsp.link_restored(None, now)
        elif party in world.cpos:
            world.emsp.link_restored(party, now)

    def _token_block(self, event: TokenBlock, now: datetime) -> None:
        world = self._host.world
        driver = known_driver(world, event.driver)
        block_driver(world, driver, now)

    def _cdr_correction(self, event: CdrCorrection, rng: random.Random, now: datetime) -> None:
        cpo = self._host.world.cpos[event.cpo]
        self._host.cpo_emit(event.cpo, cpo.correct_cdrs(now, share=event.share, rng=rng))

    def _cdr_batch(
        self, cpo_id: str, release: tuple[CdrHold, random.Random] | tuple[()] | None, now: datetime
    ) -> None:
        """None: start holding; (event, rng): the batch; (): the late ones (as sim's _cdr_batch)."""
        cpo = self._host.world.cpos[cpo_id]
        if release is None:
            self._host.cpo_emit(cpo_id, cpo.hold_cdrs(now))
        elif release:
            event, rng = release
            self._host.cpo_emit(
                cpo_id, cpo.release_cdrs(now, duplicate=event.duplicate, late=event.late, rng=rng)
            )
        else:
            self._host.cpo_emit(cpo_id, cpo.release_cdrs(now))

    def _online(self, index: int, station_id: str, due: datetime, now: datetime) -> None:
        """Reconnecting takes real time: this step counts as applied once the station is back."""

        def applied(at: datetime) -> None:
            self.applied.append(Applied(index, f"station_offline:{station_id}:up", due, at))

        self._host.bring_online(station_id, applied)

    async def run(self) -> None:
        for step in self._steps:
            while (now := self._clock.now()) < step.due:
                await self._clock.sleep_until(step.due)
            step.apply(now)
            if not step.records_itself:
                self.applied.append(Applied(step.index, step.what, step.due, now))


def applied_figures(applied: list[Applied]) -> list[dict[str, object]]:
    """performance.json's `timeline`: when each step was due and when the runtime applied it."""
    return [
        {
            "event": a.index,
            "what": a.what,
            "due": format_utc(a.due),
            "applied": format_utc(a.at),
            "lag_ms": int(a.lag / timedelta(milliseconds=1)),
        }
        for a in applied
    ]
