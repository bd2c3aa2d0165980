"""Fraud checks on real-time authorization and anomaly flags on sessions and CDRs (FRAUD.md).

Sans-IO and answered from local state (principle 8): the rules are pure functions of a small
per-subject history and `now`; `FraudGuard` keeps that history in memory, indexed by subject (the
canonical driver, or the token when it has no driver), bounded in length and in time, so a check
costs O(history size) however many tokens and authorizations the eMSP holds. A subject seen for
the first time since the process started (or since the index was dropped) is warmed from the
store: its tokens by `ix_tokens_driver_id`, their recent allowed authorizations by
`ix_authorizations_token_at`, never a scan.

Every rule that fires is recorded in `fraud_decisions` (token, driver, partner, location, time, rule,
decision, detail) in the transaction of what it decided about, and counted per partner, rule and
decision (`emsp_fraud_decisions`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, or_, select
from sqlalchemy.orm import Session

from emsp.bus import CdrReceived
from emsp.model import FraudDecisionRecord
from emsp.storage.db import Database
from emsp.storage.tables import (
    PARTY_OBJECT_KEYS,
    AuthorizationRow,
    FraudDecisionRow,
    LocationRow,
    SessionRow,
    TokenRow,
    same_id,
    token_key,
    upper_token_uid,
)
from emsp.storage.weak_events import listen_weakly
from emsp.wire import ci_key, loads

REFUSE = "refuse"
FLAG = "flag"

# Rule names (the `rule` column, the metric label, the summary's fraud.rules.<rule>).
FOREIGN_TOKEN = "foreign_partner_token"
IMPOSSIBLE_TRAVEL = "impossible_travel"
AUTHORIZATION_RATE = "authorization_rate"
BLOCKED_RETRIES = "blocked_retries"
ENERGY_ABOVE_BATTERY = "energy_above_battery"
OVERLAPPING_SESSIONS = "overlapping_sessions"
RULES = (
    FOREIGN_TOKEN,
    IMPOSSIBLE_TRAVEL,
    AUTHORIZATION_RATE,
    BLOCKED_RETRIES,
    ENERGY_ABOVE_BATTERY,
    OVERLAPPING_SESSIONS,
)

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class FraudConfig:
    """Thresholds of the fraud rules; `enabled=False` turns every rule but the partner check off
    (a token issued for one partner is never another partner's token: that is identity, not fraud)."""

    enabled: bool = True
    max_speed_kmh: float = 120.0  # faster than this between two sites is impossible travel
    travel_slack_km: float = 1.0  # distances up to this are "the same place" (neighbouring bays, GPS)
    travel_horizon_hours: float = 24.0  # earlier authorizations are not compared
    max_authorizations_per_hour: int = 6  # allowed authorizations of one subject in any hour
    blocked_retries: int = 3  # refusals of a blocked token within an hour before it is flagged
    max_session_kwh: Decimal = Decimal(150)  # ceiling when the contract states no battery
    history_size: int = 16  # allowed authorizations kept per subject

    def __post_init__(self) -> None:
        if self.max_speed_kmh <= 0 or self.travel_slack_km < 0 or self.travel_horizon_hours <= 0:
            raise ValueError("max_speed_kmh and travel_horizon_hours must be > 0, travel_slack_km >= 0")
        if self.max_authorizations_per_hour < 1 or self.blocked_retries < 1:
            raise ValueError("max_authorizations_per_hour and blocked_retries must be >= 1")
        if self.max_session_kwh <= 0 or self.history_size < 1:
            raise ValueError("max_session_kwh must be > 0 and history_size >= 1")


Coords = tuple[float, float]  # (latitude, longitude) in degrees


@dataclass(frozen=True, slots=True)
class Seen:
    """One allowed authorization of a subject: where and when."""

    at: datetime
    partner: str
    location_id: str | None
    coords: Coords | None
    reference: str | None  # its authorization_reference (a flag on it names it)
    token_uid: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    decision: str  # REFUSE | FLAG
    detail: str
    about: Seen | None = None  # a flag on an earlier authorization (its partner, place, reference)


# ---- the rules: pure functions ----


def distance_km(a: Coords, b: Coords) -> float:
    """Great-circle distance (haversine) between two points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def impossible_travel(
    history: Iterable[Seen], here: Coords | None, now: datetime, cfg: FraudConfig
) -> Verdict | None:
    """REFUSE when some earlier allowed authorization within the horizon is farther away than the
    subject could have travelled since at `max_speed_kmh` (plus `travel_slack_km`). Exactly at the
    limit is possible. Unknown coordinates on either side prove nothing."""
    if here is None:
        return None
    horizon = timedelta(hours=cfg.travel_horizon_hours)
    for seen in history:
        if seen.coords is None or now - seen.at > horizon:
            continue
        km = distance_km(seen.coords, here)
        hours = max((now - seen.at).total_seconds(), 0.0) / 3600
        reachable = cfg.max_speed_kmh * hours + cfg.travel_slack_km
        if km > reachable:
            speed = "instantly" if hours == 0 else f"at {km / hours:.0f} km/h"
            return Verdict(
                IMPOSSIBLE_TRAVEL,
                REFUSE,
                f"{km:.1f} km from {seen.location_id} ({seen.partner}) in {hours * 60:.0f} min: "
                f"{speed}, above {cfg.max_speed_kmh:g} km/h",
                about=seen,
            )
    return None


def authorization_rate(history: Iterable[Seen], now: datetime, cfg: FraudConfig) -> Verdict | None:
    """REFUSE the next one when `max_authorizations_per_hour` were allowed in the hour before `now`."""
    recent = sum(1 for seen in history if timedelta(0) <= now - seen.at < HOUR)
    if recent >= cfg.max_authorizations_per_hour:
        return Verdict(
            AUTHORIZATION_RATE,
            REFUSE,
            f"{recent} authorizations allowed in the last hour, at most {cfg.max_authorizations_per_hour}",
        )
    return None


def blocked_retries(refusals: Iterable[datetime], now: datetime, cfg: FraudConfig) -> Verdict | None:
    """FLAG a blocked token presented again once it was refused `blocked_retries` times in an hour
    (`refusals` includes this one)."""
    recent = sum(1 for at in refusals if timedelta(0) <= now - at < HOUR)
    if recent >= cfg.blocked_retries:
        return Verdict(BLOCKED_RETRIES, FLAG, f"blocked token presented {recent} times in the last hour")
    return None


def energy_above_battery(kwh: Decimal, battery_kwh: Decimal | None, cfg: FraudConfig) -> Verdict | None:
    """FLAG a session or CDR of more energy than the EV can hold (its battery, else the ceiling)."""
    limit = battery_kwh if battery_kwh is not None else cfg.max_session_kwh
    if kwh > limit:
        what = "the contract's battery" if battery_kwh is not None else "the configured ceiling"
        return Verdict(ENERGY_ABOVE_BATTERY, FLAG, f"{kwh} kWh above {what} of {limit} kWh")
    return None


def overlaps(
    start: datetime, end: datetime | None, other_start: datetime, other_end: datetime | None
) -> bool:
    """Two sessions overlap when each starts before the other ends (an open session never ends)."""
    return (other_end is None or start < other_end) and (end is None or other_start < end)


# ---- the guard: history, coordinates, records ----


_tokens: Any = TokenRow.__table__
_auths: Any = AuthorizationRow.__table__
_record = insert(cast(Table, FraudDecisionRow.__table__))


def location_coords(raw: str) -> Coords | None:
    """The coordinates of a stored Location document, None when absent or unreadable."""
    try:
        data = loads(raw)
        point = data["coordinates"]
        return (float(point["latitude"]), float(point["longitude"]))
    except (ValueError, KeyError, TypeError):
        return None


class FraudGuard:
    """Per-subject recent history and the checks of one authorization (not thread-safe, like the core)."""

    MAX_SUBJECTS = 200_000  # beyond it the history starts over (and is warmed from the store again)

    def __init__(
        self, database: Database, config: FraudConfig, on_decision: Callable[[str, str, str], None]
    ) -> None:
        self.config = config
        self._history: dict[str, deque[Seen]] = {}
        self._refusals: dict[str, deque[datetime]] = {}
        self._coords: dict[tuple[str, str, str], Coords | None] = {}
        self._on_decision = on_decision  # (partner, rule, decision): the metric
        listen_weakly(database.session_factory, "after_flush", self._after_flush)

    @staticmethod
    def subject(uid: str, token_type: str, driver_id: str | None) -> str:
        return f"driver:{driver_id}" if driver_id else f"token:{token_type}:{uid}"

    # -- coordinates of a CPO's location, cached; a location write evicts it

    def coords(
        self, unit: Callable[[], Session], party: tuple[str, str] | None, location_id: str | None
    ) -> Coords | None:
        """`unit()` is only called (the request's transaction opened) when the location is not cached."""
        if party is None or location_id is None:
            return None
        key = (party[0].upper(), party[1].upper(), ci_key(location_id))  # CiString: any case
        if key in self._coords:
            return self._coords[key]
        raw = unit().scalar(
            select(LocationRow.raw).where(
                LocationRow.country_code == key[0],
                LocationRow.party_id == key[1],
                PARTY_OBJECT_KEYS["locations"] == same_id(key[2]),  # any case: CiString
            )
        )
        # Remembered even when unknown (no SELECT per request for it): its first write evicts it.
        found = self._coords[key] = None if raw is None else location_coords(raw)
        return found

    def _after_flush(self, session: Session, _context: Any) -> None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            if isinstance(obj, LocationRow):
                self._coords.pop(
                    (obj.country_code.upper(), obj.party_id.upper(), ci_key(obj.location_id)), None
                )

    # -- history

    def history(
        self,
        db: Callable[[], Session],
        subject: str,
        uid: str,
        token_type: str,
        driver_id: str | None,
        now: datetime,
    ) -> deque[Seen]:
        seen = self._history.get(subject)
        if seen is None:
            if len(self._history) >= self.MAX_SUBJECTS:
                self._history.clear()
            seen = self._history[subject] = deque(
                self._warm(db(), uid, driver_id, now), maxlen=self.config.history_size
            )
        return seen

    def _warm(self, db: Session, uid: str, driver_id: str | None, now: datetime) -> list[Seen]:
        """The subject's allowed authorizations within the horizon, from the store (indexed)."""
        uids = [uid]
        if driver_id:
            uids = list(db.scalars(select(TokenRow.uid).where(TokenRow.driver_id == driver_id)))
        since = now - timedelta(hours=self.config.travel_horizon_hours)
        rows = db.execute(
            select(
                _auths.c.partner,
                _auths.c.token_uid,
                _auths.c.location_id,
                _auths.c.at,
                _auths.c.authorization_reference,
            )
            .where(_auths.c.token_uid.in_(uids), _auths.c.at >= since, _auths.c.result == "ALLOWED")
            .order_by(_auths.c.at.desc())
            .limit(self.config.history_size)
        ).all()
        found = []
        for row in reversed(rows):
            # The authorization names its location but not whose: the partner's location of that id.
            raw = db.scalar(
                select(LocationRow.raw)
                .where(
                    LocationRow.partner == row.partner,
                    PARTY_OBJECT_KEYS["locations"] == same_id(row.location_id),
                )
                .limit(1)
            )
            coords = None if raw is None else location_coords(raw)
            found.append(
                Seen(row.at, row.partner, row.location_id, coords, row.authorization_reference, row.token_uid)
            )
        return found

    def refusals(self, subject: str) -> deque[datetime]:
        got = self._refusals.get(subject)
        if got is None:
            if len(self._refusals) >= self.MAX_SUBJECTS:
                self._refusals.clear()
            got = self._refusals[subject] = deque(maxlen=max(self.config.blocked_retries, 1) * 2)
        return got

    # -- one authorization

    def screen(self, history: Sequence[Seen], here: Coords | None, now: datetime) -> Verdict | None:
        """The first rule refusing an otherwise allowed authorization, None: allowed."""
        if not self.config.enabled:
            return None
        return impossible_travel(reversed(history), here, now, self.config) or authorization_rate(
            history, now, self.config
        )

    def blocked(self, subject: str, now: datetime) -> Verdict | None:
        if not self.config.enabled:
            return None
        refusals = self.refusals(subject)
        refusals.append(now)
        return blocked_retries(refusals, now, self.config)

    def write(self, db: Session, decisions: Sequence[FraudDecisionRecord]) -> None:
        if not decisions:
            return
        db.connection().execute(
            _record,
            [
                {
                    "token_uid": d.token_uid, "token_type": d.token_type, "driver_id": d.driver_id,
                    "partner": d.partner, "location_id": d.location_id, "object_id": d.object_id,
                    "at": d.at, "rule": d.rule, "decision": d.decision, "detail": d.detail,
                }
                for d in decisions
            ],
        )  # fmt: skip
        for d in decisions:
            self._on_decision(d.partner, d.rule, d.decision)


# ---- sessions and CDRs ----


def decision_records(db: Session) -> list[FraudDecisionRecord]:
    rows = db.scalars(select(FraudDecisionRow).order_by(FraudDecisionRow.pk))
    return [
        FraudDecisionRecord(
            r.token_uid,
            r.token_type,
            r.driver_id,
            r.partner,
            r.location_id,
            r.object_id,
            r.at,
            r.rule,
            r.decision,
            r.detail,
        )
        for r in rows
    ]


class CdrFlags:
    """Anomaly flags on a received CDR (a bus handler: idempotent per CDR by the bus's key)."""

    def __init__(self, guard: FraudGuard) -> None:
        self.guard = guard

    def check(self, event: CdrReceived, db: Session) -> None:
        cdr = event.cdr
        if cdr.credit or not self.guard.config.enabled:
            return
        token = db.scalars(
            select(TokenRow).where(upper_token_uid == token_key(cdr.token_uid)).order_by(TokenRow.pk).limit(1)
        ).first()
        driver_id = token.driver_id if token is not None else None
        token_type = token.type if token is not None else "RFID"
        battery = token.max_battery_kwh if token is not None else None
        verdicts = []
        energy = energy_above_battery(cdr.total_energy_kwh, battery, self.guard.config)
        if energy is not None:
            verdicts.append(energy)
        uids = [cdr.token_uid]
        if token is not None and token.uid != cdr.token_uid:  # the CPO wrote our uid in another case
            uids.append(token.uid)
        if driver_id:
            uids = list(db.scalars(select(TokenRow.uid).where(TokenRow.driver_id == driver_id)))
        others = db.scalars(
            select(SessionRow)
            .where(
                SessionRow.token_uid.in_(uids),
                SessionRow.start < cdr.end,
                or_(SessionRow.end.is_(None), SessionRow.end > cdr.start),
            )
            .order_by(SessionRow.pk)
        ).all()
        # The CDR's own session, whichever case the CDR spells its id in (a CiString).
        own = (cdr.party.country_code, cdr.party.party_id, ci_key(cdr.session_id or ""))
        clashing = [s for s in others if (s.country_code, s.party_id, ci_key(s.session_id)) != own]
        if clashing:
            names = ", ".join(
                f"{s.country_code}/{s.party_id}/{s.session_id} at {s.location_id}" for s in clashing[:3]
            )
            verdicts.append(
                Verdict(
                    OVERLAPPING_SESSIONS,
                    FLAG,
                    f"overlaps {len(clashing)} other session(s) of this driver: {names}",
                )
            )
        object_id = f"cdr:{cdr.party.country_code}/{cdr.party.party_id}/{cdr.cdr_id}"
        self.guard.write(
            db,
            [
                FraudDecisionRecord(
                    cdr.token_uid, token_type, driver_id, event.partner, cdr.location_id, object_id,
                    cdr.received_at, v.rule, v.decision, v.detail,
                )
                for v in verdicts
            ],
        )  # fmt: skip
