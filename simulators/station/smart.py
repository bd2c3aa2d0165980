"""Smart charging on the station: installed charging profiles and the power limit they put on a
connector at an instant (OCPP 1.6 §3.13 / 2.0.1 K01, K08), version-neutral.

Both versions' profiles are read into `Profile`. The limit on a connector is the minimum of the
station-wide maximum (ChargePointMaxProfile / ChargingStationMaxProfile, and 2.0.1's external
constraints) and the transaction's limit: its TxProfile if one is in effect, else the TxDefaultProfile
(one on the connector before one for the whole station). Within a purpose the highest stackLevel with a
period in effect wins. A current limit (A) is turned into power at 230 V per phase (3 phases unless the
period says otherwise). 2.0.1 allows up to three schedules per profile for ISO 15118 negotiation; the
first one is the one in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from simulators.ocppj import Payload
from simulators.ocppj.timestamps import parse_timestamp

VOLTS = Decimal(230)
ONE_TENTH = Decimal(
    "0.1"
)  # limits on the wire have one decimal (1.6 §7.13, 2.0.1 ChargingSchedulePeriodType)
DEFAULT_PHASES = 3

# Wire purpose -> the bench's purpose, both versions.
PURPOSE: Mapping[str, str] = MappingProxyType(
    {
        "ChargePointMaxProfile": "max",
        "ChargingStationMaxProfile": "max",
        "ChargingStationExternalConstraints": "max",
        "TxDefaultProfile": "default",
        "TxProfile": "tx",
    }
)
_CYCLE = {"Daily": timedelta(days=1), "Weekly": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class Period:
    start_s: int
    limit: Decimal
    phases: int | None


@dataclass(frozen=True, slots=True)
class Profile:
    profile_id: int
    connector: int  # 0: the whole station
    stack: int
    purpose: str  # "max" | "default" | "tx"
    kind: str  # Absolute | Relative | Recurring
    recurrency: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    transaction_id: str | None
    start: datetime | None  # startSchedule
    duration_s: int | None
    unit: str  # "A" | "W"
    periods: tuple[Period, ...]
    installed_at: datetime
    wire: Payload  # as received, for GetChargingProfiles


def read_profile(
    wire: Payload, connector: int, installed_at: datetime, *, version_201: bool
) -> Profile | None:
    """A profile from its wire form (1.6 csChargingProfiles / 2.0.1 ChargingProfileType); None when
    a timestamp in it names no instant."""
    schedule: Any = wire["chargingSchedule"]
    if version_201:
        schedule = schedule[0]
    times = {}
    for key, source in (("validFrom", wire), ("validTo", wire), ("startSchedule", schedule)):
        if key in source:
            times[key] = parse_timestamp(source[key])
            if times[key] is None:
                return None
    periods = tuple(
        Period(p["startPeriod"], Decimal(str(p["limit"])), p.get("numberPhases"))
        for p in sorted(schedule["chargingSchedulePeriod"], key=lambda p: p["startPeriod"])
    )
    tx = wire.get("transactionId")
    return Profile(
        profile_id=wire["id" if version_201 else "chargingProfileId"],
        connector=connector,
        stack=wire["stackLevel"],
        purpose=PURPOSE[wire["chargingProfilePurpose"]],
        kind=wire["chargingProfileKind"],
        recurrency=wire.get("recurrencyKind"),
        valid_from=times.get("validFrom"),
        valid_to=times.get("validTo"),
        transaction_id=None if tx is None else str(tx),
        start=times.get("startSchedule"),
        duration_s=schedule.get("duration"),
        unit=schedule["chargingRateUnit"],
        periods=periods,
        installed_at=installed_at,
        wire=wire,
    )


def _schedule_start(p: Profile, at: datetime, tx_start: datetime | None) -> datetime | None:
    if p.kind == "Relative":
        return tx_start if tx_start is not None else p.installed_at
    start = p.start or p.valid_from or p.installed_at
    cycle = _CYCLE.get(p.recurrency or "") if p.kind == "Recurring" else None
    if cycle is not None and at >= start:
        start += cycle * ((at - start) // cycle)
    return start


def _limit_w(p: Profile, at: datetime, tx_start: datetime | None) -> Decimal | None:
    """The profile's limit in W at `at`, or None when it is not in effect then."""
    if (p.valid_from and at < p.valid_from) or (p.valid_to and at >= p.valid_to):
        return None
    start = _schedule_start(p, at, tx_start)
    if start is None or at < start:
        return None
    offset = (at - start).total_seconds()
    if p.duration_s is not None and offset >= p.duration_s:
        return None
    current = [q for q in p.periods if q.start_s <= offset]
    if not current:
        return None
    period = current[-1]
    if p.unit == "W":
        return period.limit
    return period.limit * VOLTS * (period.phases or DEFAULT_PHASES)


def _top(profiles: Iterable[Profile], at: datetime, tx_start: datetime | None) -> Decimal | None:
    for p in sorted(profiles, key=lambda p: -p.stack):
        limit = _limit_w(p, at, tx_start)
        if limit is not None:
            return limit
    return None


def connector_limit_w(
    profiles: Iterable[Profile], at: datetime, connector: int, tx_id: str | None, tx_start: datetime | None
) -> Decimal | None:
    """The power limit on `connector` at `at` (W), None when no profile limits it."""
    mine = [p for p in profiles if p.connector in (0, connector)]
    limits = [
        _top([p for p in mine if p.purpose == "max" and p.connector == 0], at, tx_start),
    ]
    tx = None
    if tx_start is not None:
        own = [p for p in mine if p.purpose == "tx" and p.transaction_id in (None, tx_id)]
        tx = _top([p for p in own if p.connector == connector], at, tx_start)
    if tx is None:
        for scope in (connector, 0):
            tx = _top([p for p in mine if p.purpose == "default" and p.connector == scope], at, tx_start)
            if tx is not None:
                break
    limits.append(tx)
    present = [x for x in limits if x is not None]
    return min(present) if present else None


def next_change(profiles: Iterable[Profile], at: datetime, tx_start: datetime | None) -> datetime | None:
    """The first instant after `at` at which some profile's limit may change."""
    candidates: list[datetime] = []
    for p in profiles:
        candidates += [t for t in (p.valid_from, p.valid_to) if t is not None]
        for base in (_schedule_start(p, at, tx_start),):
            if base is None:
                continue
            starts = [base]
            cycle = _CYCLE.get(p.recurrency or "") if p.kind == "Recurring" else None
            if cycle is not None:
                starts.append(base + cycle)
            for s in starts:
                candidates += [s + timedelta(seconds=q.start_s) for q in p.periods]
                if p.duration_s is not None:
                    candidates.append(s + timedelta(seconds=p.duration_s))
    later = [t for t in candidates if t > at]
    return min(later) if later else None


def composite(
    profiles: list[Profile],
    at: datetime,
    duration_s: int,
    connector: int,
    tx_id: str | None,
    tx_start: datetime | None,
    max_w: Decimal,
) -> list[tuple[int, Decimal]]:
    """The composite schedule from `at` for `duration_s` seconds as (startPeriod, limit W) steps,
    with the station's own maximum where no profile limits it (1.6 §5.7 / 2.0.1 K08)."""
    end = at + timedelta(seconds=duration_s)
    steps: list[tuple[int, Decimal]] = []
    t: datetime | None = at
    while t is not None and t < end:
        limit = connector_limit_w(profiles, t, connector, tx_id, tx_start)
        value = max_w if limit is None else min(limit, max_w)
        if not steps or steps[-1][1] != value:
            steps.append((int((t - at).total_seconds()), value))
        t = next_change(profiles, t, tx_start)
    return steps or [(0, max_w)]
