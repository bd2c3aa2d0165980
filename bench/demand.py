"""Demand model: who arrives when, with which EV, wanting how much energy, staying how long.

Everything is drawn up front from one seeded generator, so a scenario and a seed give the same plan
in both runtimes (principle 6). A driver never has two visits that overlap in time; unknown tokens
try before the first driver arrives, so each meets a free connector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bench.scenario import DemandSpec, Range

UNKNOWN_TOKEN_STAY = timedelta(minutes=3)


@dataclass(frozen=True, slots=True)
class Driver:
    token_uid: str
    contract_id: str
    known: bool  # False: a token the eMSP never issued, which must be refused


@dataclass(frozen=True, slots=True)
class Arrival:
    at: datetime
    driver: Driver
    ev_power_kw: Decimal
    energy_kwh: Decimal
    stay: timedelta
    station_preference: tuple[int, ...]  # indexes into the scenario's station list, tried in order


def _draw(rng: random.Random, span: Range, quantum: Decimal) -> Decimal:
    low, high = int(span.min / quantum), int(span.max / quantum)
    return Decimal(rng.randint(low, high)) * quantum


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
    spec: DemandSpec, drivers: list[Driver], start: datetime, end: datetime, stations: int, rng: random.Random
) -> list[Arrival]:
    """A Poisson arrival process over [start, end) plus the unknown-token attempts.

    Times are whole seconds so that both runtimes and every record agree to the millisecond.
    """
    window = int((end - start).total_seconds())
    rate_per_s = spec.arrivals_per_hour / 3600.0
    busy_until: dict[str, datetime] = {}
    known = [d for d in drivers if d.known]
    arrivals: list[Arrival] = []
    t = 0.0
    while True:
        t += rng.expovariate(rate_per_s)
        if t >= window:
            break
        at = start + timedelta(seconds=int(t))
        free = [d for d in known if busy_until.get(d.token_uid, start) <= at]
        if not free:
            continue
        driver = free[rng.randrange(len(free))]
        stay = timedelta(seconds=int(_draw(rng, spec.stay_minutes, Decimal("0.1")) * 60))
        busy_until[driver.token_uid] = at + stay
        arrivals.append(_arrival(at, driver, stay, spec, stations, rng))
    # An unknown token is there to be refused, which a run can only show if it meets a free connector:
    # it comes before the first planned visit, when every bay is free by construction (drawn at random
    # anywhere in the window, it found all of them taken on some seeds and the run graded nothing).
    first_visit = min((a.at for a in arrivals), default=end)
    lead = max(int((first_visit - start).total_seconds()), 1)
    for driver in (d for d in drivers if not d.known):
        at = start + timedelta(seconds=rng.randrange(lead))
        arrivals.append(_arrival(at, driver, UNKNOWN_TOKEN_STAY, spec, stations, rng))
    arrivals.sort(key=lambda a: (a.at, a.driver.token_uid))
    return arrivals


def _arrival(
    at: datetime, driver: Driver, stay: timedelta, spec: DemandSpec, stations: int, rng: random.Random
) -> Arrival:
    order = list(range(stations))
    rng.shuffle(order)
    return Arrival(
        at=at,
        driver=driver,
        ev_power_kw=_draw(rng, spec.ev_power_kw, Decimal("0.1")),
        energy_kwh=_draw(rng, spec.energy_kwh, Decimal("0.1")),
        stay=stay,
        station_preference=tuple(order),
    )
