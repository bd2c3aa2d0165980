"""Demand model: who arrives when, with which EV, wanting how much energy, staying how long.

Everything is drawn up front from one seeded generator, so a scenario and a seed give the same plan
in both runtimes (principle 6). A driver never has two visits that overlap in time; unknown tokens
try before the first driver arrives, so each meets a free connector.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from bench.ranked import RankedSet
from bench.scenario import CloneSpec, DemandSpec, Range
from simulators.station.physics import EvProfile

UNKNOWN_TOKEN_STAY = timedelta(minutes=3)
CHOICE_BITS = 32  # a visit's station choice: this many random bits, scaled to the stations open then


@dataclass(frozen=True, slots=True)
class Driver:
    token_uid: str
    contract_id: str
    known: bool  # False: a token the eMSP never issued, which must be refused
    # Federated identity (scenario emsp.federated_identity): the canonical driver id and its token
    # uid per eMSP partner (a CPO id, or the hub a CPO is behind), in partner order.
    driver_id: str = ""
    partner_tokens: tuple[tuple[str, str], ...] = ()

    def uids(self) -> list[str]:
        """Every uid this driver may present."""
        return [uid for _partner, uid in self.partner_tokens] or [self.token_uid]


@dataclass(frozen=True, slots=True)
class Arrival:
    at: datetime
    driver: Driver
    ev_power_kw: Decimal
    energy_kwh: Decimal
    stay: timedelta
    # Which open station the driver takes (ConnectorAllocator.take): one draw, not an order of every
    # station (20,000 visits x 5,000 stations of those took 3.8 GB before the first event).
    station_choice: int
    ev_model: str = ""  # "" without demand.ev_models: a constant-power EV
    battery_kwh: Decimal | None = None
    soc_start: Decimal = Decimal(0)
    dc_power_kw: Decimal | None = None
    taper_from_soc: Decimal = Decimal(100)
    taper_min_kw: Decimal = Decimal(5)
    # Cloned tokens (demand.clones): only these stations (empty: any station open to everyone);
    # `fraud`: a fraudster presenting a copy of the driver's token of CPO `token_of` (None: the
    # driver presents their own token of the CPO they are at).
    stations: tuple[str, ...] = ()
    fraud: bool = False
    token_of: str | None = None
    app_start: bool = False  # the driver starts from the eMSP's app (START_SESSION), no RFID swipe

    def ev(self) -> EvProfile:
        """The EV as the station's physics sees it (both runtimes build it here)."""
        return EvProfile(
            power_kw=self.ev_power_kw,
            energy_kwh=self.energy_kwh,
            battery_kwh=self.battery_kwh,
            soc_start=self.soc_start,
            dc_power_kw=self.dc_power_kw,
            taper_from_soc=self.taper_from_soc,
            taper_min_kw=self.taper_min_kw,
        )


def _draw(rng: random.Random, span: Range, quantum: Decimal) -> Decimal:
    low, high = int(span.min / quantum), int(span.max / quantum)
    return Decimal(rng.randint(low, high)) * quantum


def _draw_fine(rng: random.Random, span: Range, coarsest: Decimal) -> Decimal:
    """A draw in steps of `coarsest`, or finer where the bounds are: 0.01-0.02 kWh in steps of 0.1
    was always 0 kWh, outside the range asked for (an EV that wants nothing)."""
    digits = min(int(bound.normalize().as_tuple().exponent) for bound in (span.min, span.max))
    return _draw(rng, span, min(coarsest, Decimal(1).scaleb(digits)))


def make_drivers(spec: DemandSpec, rng: random.Random, emsp_country: str, emsp_party: str) -> list[Driver]:
    drivers: list[Driver] = []
    uids: set[str] = set()
    while len(drivers) < spec.drivers + spec.unknown_tokens:
        uid = f"{rng.getrandbits(32):08X}"
        if uid in uids:
            continue
        uids.add(uid)
        n = len(drivers)
        known = n < spec.drivers
        # eMAID-shaped contract id: <country>-<party>-C<8 digits>; unknown tokens get one too.
        contract = f"{emsp_country}-{emsp_party}-C{rng.randrange(10**8):08d}"
        drivers.append(Driver(token_uid=uid, contract_id=contract, known=known))
    return drivers


def plan_arrivals(
    spec: DemandSpec, drivers: list[Driver], start: datetime, end: datetime, rng: random.Random
) -> list[Arrival]:
    """A Poisson arrival process over [start, end) plus the unknown-token attempts.

    Times are whole seconds so that both runtimes and every record agree to the millisecond.
    """
    window = int((end - start).total_seconds())
    known = [d for d in drivers if d.known]
    free = RankedSet(len(known), full=True)  # drivers not on a visit, by their index in `known`
    busy: list[tuple[datetime, int]] = []  # heap of (busy until, index) of those who are
    arrivals: list[Arrival] = []
    for t in _arrival_times(spec, start, window, rng):  # in time order
        at = start + timedelta(seconds=int(t))
        while busy and busy[0][0] <= at:
            free.add(heapq.heappop(busy)[1])
        if not free.count:
            continue
        index = free.kth(rng.randrange(free.count))  # the same pick as from a list of the free ones
        stay = timedelta(seconds=int(_draw(rng, spec.stay_minutes, Decimal("0.1")) * 60))
        free.discard(index)
        heapq.heappush(busy, (at + stay, index))
        arrivals.append(_arrival(at, known[index], stay, spec, rng))
    # An unknown token is there to be refused, which a run can only show if it meets a free connector:
    # it comes before the first planned visit, when every bay is free by construction (drawn at random
    # anywhere in the window, it found all of them taken on some seeds and the run graded nothing).
    first_visit = min((a.at for a in arrivals), default=end)
    lead = max(int((first_visit - start).total_seconds()), 1)
    for driver in (d for d in drivers if not d.known):
        at = start + timedelta(seconds=rng.randrange(lead))
        arrivals.append(_arrival(at, driver, UNKNOWN_TOKEN_STAY, spec, rng))
    arrivals.sort(key=lambda a: (a.at, a.driver.token_uid))
    return arrivals


def mark_app_starts(arrivals: list[Arrival], share: float, seed: int) -> list[Arrival]:
    """Which visits start from the app: a draw per known driver's visit, from a generator of its own
    so the rest of the plan is the one the scenario gives without app starts."""
    if share <= 0:
        return arrivals
    rng = random.Random(f"app-start-{seed}")
    return [replace(a, app_start=True) if a.driver.known and rng.random() < share else a for a in arrivals]


def rate_segments(spec: DemandSpec, start: datetime, window: int) -> list[tuple[float, float, float]]:
    """(from s, until s, arrivals per second) over [0, window): the profile cut at its local times."""
    if not spec.arrival_profile:
        return [(0.0, float(window), spec.arrivals_per_hour / 3600.0)]
    zone = ZoneInfo(spec.time_zone)
    steps = sorted(spec.arrival_profile, key=lambda step: step.minute_of_day)
    cuts: list[tuple[int, float]] = []  # (offset s, rate from there)
    day = start.astimezone(zone).date() - timedelta(days=1)
    end = start + timedelta(seconds=window)
    while datetime.combine(day, datetime.min.time(), tzinfo=zone) <= end:
        for step in steps:
            local = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(
                minutes=step.minute_of_day
            )
            cuts.append((int((local.astimezone(UTC) - start).total_seconds()), step.per_hour / 3600.0))
        day += timedelta(days=1)
    cuts.sort()
    before = [rate for offset, rate in cuts if offset <= 0]
    segments: list[tuple[float, float, float]] = []
    t, rate = 0.0, before[-1] if before else cuts[-1][1]
    for offset, next_rate in cuts:
        if offset <= 0:
            continue
        if offset >= window:
            break
        segments.append((t, float(offset), rate))
        t, rate = float(offset), next_rate
    segments.append((t, float(window), rate))
    return segments


def _arrival_times(spec: DemandSpec, start: datetime, window: int, rng: random.Random) -> Iterator[float]:
    """A Poisson process whose rate is constant per segment (memoryless: restart at each boundary).

    A generator: the caller draws from the same generator between arrivals, in that order.
    """
    for seg_start, seg_end, rate in rate_segments(spec, start, window):
        if rate <= 0:
            continue
        t = seg_start
        while True:
            t += rng.expovariate(rate)
            if t >= seg_end:
                break
            yield t


def _arrival(at: datetime, driver: Driver, stay: timedelta, spec: DemandSpec, rng: random.Random) -> Arrival:
    choice = rng.getrandbits(CHOICE_BITS)
    power = _draw_fine(rng, spec.ev_power_kw, Decimal("0.1"))
    energy = _draw_fine(rng, spec.energy_kwh, Decimal("0.1"))
    if not spec.ev_models:
        return Arrival(at, driver, power, energy, stay, choice)
    model = rng.choices(spec.ev_models, weights=[m.share for m in spec.ev_models])[0]
    soc = _draw(rng, spec.soc_at_arrival, Decimal("0.1"))
    target = max(soc, _draw(rng, spec.soc_target, Decimal("0.1")))
    wanted = (model.battery_kwh * (target - soc) / 100).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return Arrival(
        at,
        driver,
        model.ac_max_kw,
        wanted,
        stay,
        choice,
        ev_model=model.name,
        battery_kwh=model.battery_kwh,
        soc_start=soc,
        dc_power_kw=model.dc_max_kw,
        taper_from_soc=model.taper_from_soc,
        taper_min_kw=model.taper_min_kw,
    )


def plan_clones(
    spec: CloneSpec,
    demand: DemandSpec,
    arrivals: list[Arrival],
    skim: Sequence[tuple[str, str]],
    targets: Sequence[Sequence[tuple[str, str]]],
    end: datetime,
    rng: random.Random,
) -> list[Arrival]:
    """The arrivals with cloned tokens (CloneSpec): `skim` and each of `targets` are the (cpo id,
    station id) of the skim location and of each location clones are used at.

    For each victim (drawn among the drivers with a planned visit that leaves room for the whole
    burst before `end`) that visit is pinned to the skim location; the fraudster's visits follow.
    Deterministic: `rng` is the clone plan's own generator, so the plan of visits is unchanged.
    """
    skim_stations = tuple(sid for _cpo, sid in skim)
    skim_cpo = skim[0][0]
    longest = timedelta(minutes=int(spec.delay_minutes.max + spec.gap_minutes.max * spec.sessions.max))
    first_visit: dict[str, int] = {}
    for index, arrival in enumerate(arrivals):
        if arrival.driver.known and arrival.at + longest < end:
            first_visit.setdefault(arrival.driver.token_uid, index)
    candidates = sorted(first_visit.values())
    chosen = sorted(rng.sample(candidates, min(spec.victims, len(candidates))))
    planned = list(arrivals)
    for index in chosen:
        victim = replace(arrivals[index], stations=skim_stations)
        planned[index] = victim
        at = victim.at + timedelta(seconds=int(_draw(rng, spec.delay_minutes, Decimal(1)) * 60))
        for _ in range(int(_draw(rng, spec.sessions, Decimal(1)))):
            where = targets[rng.randrange(len(targets))]
            stay = timedelta(seconds=int(_draw(rng, spec.stay_minutes, Decimal(1)) * 60))
            fraud = _arrival(at, victim.driver, stay, demand, rng)
            planned.append(
                replace(fraud, stations=tuple(sid for _cpo, sid in where), fraud=True, token_of=skim_cpo)
            )
            at += timedelta(seconds=int(_draw(rng, spec.gap_minutes, Decimal(1)) * 60))
    planned.sort(key=lambda a: (a.at, a.driver.token_uid, a.fraud))
    return planned
