"""What a CSMS can ask a station to do, version-neutral: remote start/stop, reset, availability,
intervals, and smart charging (installed profiles and the limit they put into the physics).

A mixin of `VirtualStation` (base.py), which owns the state and the hooks used here; the version's
CALL handlers (`v16_calls`, `v201_calls`) call these.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from simulators.ocppj import Endpoint, Payload
from simulators.station import smart
from simulators.station.physics import EvProfile
from simulators.station.session import Connector, Session, cap_kw
from simulators.station.states import ConnectorEvent, ConnectorState

SampleReason = Literal["periodic", "ev_full", "trigger", "limit"]
StopCause = Literal["ev_disconnected", "remote", "soft_reset", "hard_reset", "deauthorized", "unlock"]
# The EV a remote start charges when no driver is plugged in (a CSMS test needs a car at the plug).
REMOTE_EV = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(30))

# The longest interval a CSMS may configure (heartbeat, meter values, message timeout): a week.
MAX_INTERVAL_S = 7 * 24 * 3600


class CsmsControl:
    # State and hooks of VirtualStation that the actions use.
    endpoint: Endpoint
    connectors: dict[int, Connector]
    profiles: list[smart.Profile]
    reservations: dict[int, tuple[int | None, str]]
    reservation_ends: dict[int, datetime]
    booted: bool
    reconnect_requested: bool
    authorize_remote: bool
    max_power_kw: Decimal
    dc: bool
    meter_interval: timedelta
    _heartbeat: timedelta | None
    _next_heartbeat: datetime | None
    _sent_status: dict[int, str]
    _pending_reset: StopCause | None
    _pending_availability: dict[int, bool]

    def _transition(self, conn: Connector, event: ConnectorEvent, at: datetime) -> None:
        raise NotImplementedError

    def _start_charging(self, conn: Connector, session: Session, now: datetime) -> None:
        raise NotImplementedError

    def _record(
        self,
        conn: Connector,
        session: Session,
        *,
        authorized: bool,
        unplugged_at: datetime | None,
        meter_stop: int | None = None,
    ) -> None:
        raise NotImplementedError

    def _take_sample(self, conn: Connector, session: Session, at: datetime, reason: SampleReason) -> None:
        raise NotImplementedError

    def _authorize_payload(self, token_uid: str) -> Payload:
        raise NotImplementedError

    def _boot_payload(self, *, reset: bool = False) -> Payload:
        raise NotImplementedError

    def _stop(
        self, conn: Connector, session: Session, at: datetime, meter_stop: int, cause: StopCause
    ) -> None:
        raise NotImplementedError

    def remote_start(
        self, connector_id: int | None, token_uid: str, now: datetime, *, remote_start_id: int | None = None
    ) -> Connector | None:
        """Start a transaction for `token_uid` with the EV at the plug (REMOTE_EV); None: refused."""
        if not self.booted:
            return None
        free = [c for c in self.connectors.values() if c.state is ConnectorState.AVAILABLE]
        conn = self.connectors.get(connector_id) if connector_id else (free[0] if free else None)
        waiting = conn.session if conn is not None else None
        if conn is not None and waiting is not None and waiting.awaiting_remote and not waiting.started_at:
            # The driver plugged in and started from the app: their EV, the token the CSMS names.
            waiting.token_uid, waiting.remote_start_id = token_uid, remote_start_id
            waiting.awaiting_remote = False
        elif conn is None or not (
            (conn.state is ConnectorState.AVAILABLE and not self.last_free_is_held(conn, token_uid))
            or (conn.state is ConnectorState.RESERVED and self.reservation_for(conn, token_uid) is not None)
        ):
            return None  # busy, out of service, or reserved for someone else
        else:
            reservation = self.reservation_for(conn, token_uid)
            self._transition(conn, ConnectorEvent.PLUG, now)
            if reservation is not None:  # used up (a station-wide one too, which held no connector)
                self.reservations.pop(reservation, None)
                self.reservation_ends.pop(reservation, None)
            conn.session = Session(token_uid, REMOTE_EV, plugged_at=now, remote_start_id=remote_start_id)
            conn.session.reservation_id = reservation
        assert conn.session is not None
        if self.authorize_remote:
            self.endpoint.call("Authorize", self._authorize_payload(token_uid), tag=conn.connector_id)
        else:
            self._start_charging(conn, conn.session, now)
        return conn

    def reserve(
        self, reservation_id: int, connector_id: int | None, token_uid: str, now: datetime, ends: datetime
    ) -> str:
        """ReserveNow (1.6 §5.13, 2.0.1 H01): Accepted, Occupied, Unavailable or Rejected. A reserved
        connector reports Reserved until the reservation is cancelled, expires at `ends` unused, or
        its holder plugs in; anyone else is turned away there. Without a connector (1.6 connector 0,
        2.0.1 without evseId) it holds the station: one connector stays free for its holder. The
        same id again replaces it."""
        old = self.reservations.get(reservation_id)
        conn = self.connectors.get(connector_id) if connector_id else None
        if connector_id:
            if conn is None:
                return "Rejected"
            if conn.state is ConnectorState.UNAVAILABLE:
                return "Unavailable"
            replacing = conn.state is ConnectorState.RESERVED and old is not None and old[0] == connector_id
            if conn.state is not ConnectorState.AVAILABLE and not replacing:
                return "Occupied"
        if old is not None and old[0] != connector_id:
            self.cancel_reservation(reservation_id, now)  # moved elsewhere: its old connector is free
        self.reservations[reservation_id] = (connector_id, token_uid)
        self.reservation_ends[reservation_id] = ends
        if conn is not None and conn.state is ConnectorState.AVAILABLE:
            self._transition(conn, ConnectorEvent.RESERVE, now)
        return "Accepted"

    def cancel_reservation(self, reservation_id: int, now: datetime) -> str:
        self.reservation_ends.pop(reservation_id, None)
        found = self.reservations.pop(reservation_id, None)
        if found is None:
            return "Rejected"
        conn = self.connectors.get(found[0]) if found[0] else None
        if conn is not None and conn.state is ConnectorState.RESERVED:
            self._transition(conn, ConnectorEvent.UNRESERVE, now)
        return "Accepted"

    def expire_reservation(self, reservation_id: int, at: datetime) -> None:
        """The reservation was not used in time: its connector is free again (1.6 §5.13, 2.0.1 H01)."""
        if reservation_id in self.reservations:
            self.cancel_reservation(reservation_id, at)
            self._reservation_expired(reservation_id, at)
        self.reservation_ends.pop(reservation_id, None)

    def _reservation_expired(self, reservation_id: int, at: datetime) -> None:
        """What the version says about an expiry besides the status (2.0.1: ReservationStatusUpdate)."""

    def reservation_for(self, conn: Connector, token_uid: str) -> int | None:
        """The id of the reservation `token_uid` holds on `conn` or on the whole station (None: none);
        read it before the plug ends the reservation."""
        mine = (conn.connector_id, 0, None)
        return next((r for r, (c, t) in self.reservations.items() if c in mine and t == token_uid), None)

    def last_free_is_held(self, conn: Connector, token_uid: str) -> bool:
        """Would `token_uid` starting on `conn` take a free connector that a station-wide reservation
        of someone else keeps? (1.6 §5.13: "one connector remains available for the reserved idTag")"""
        held = sum(1 for c, t in self.reservations.values() if c in (0, None) and t != token_uid)
        free = [c for c in self.connectors.values() if c.state is ConnectorState.AVAILABLE]
        return held > 0 and conn in free and len(free) <= held

    def by_transaction(self, transaction_id: str) -> Connector | None:
        return next(
            (c for c in self.connectors.values() if c.session and c.session.transaction_id == transaction_id),
            None,
        )

    def end_transaction(self, conn: Connector, now: datetime, cause: StopCause) -> None:
        """Stop the transaction on `conn` (meter stop, truth) and free the connector."""
        session = conn.session
        assert session is not None and session.started_at is not None
        meter_stop = session.reading_wh(now)
        self._stop(conn, session, now, meter_stop, cause)
        self._transition(conn, ConnectorEvent.UNPLUG, now)
        self._transition(conn, ConnectorEvent.RELEASED, now)
        self._record(conn, session, authorized=True, unplugged_at=now, meter_stop=meter_stop)

    def reset(self, cause: StopCause, now: datetime, *, on_idle: bool = False) -> bool:
        """Stop every transaction and reboot: boot again, on a new connection if the runtime makes
        one (`reconnect_requested`). With `on_idle` and a transaction running, wait for the end
        (returns False: scheduled)."""
        running = [c for c in self.connectors.values() if c.session and c.session.started_at]
        if on_idle and running:
            self._pending_reset = cause
            return False
        self._pending_reset = None
        for conn in running:
            self.end_transaction(conn, now, cause)
        self.booted = False
        self._heartbeat = self._next_heartbeat = None
        self._sent_status.clear()  # every connector's status goes out again after the boot
        self.reconnect_requested = True
        self.endpoint.call("BootNotification", self._boot_payload(reset=True))
        return True

    def set_available(self, connector_id: int, operative: bool, now: datetime) -> str:
        """ChangeAvailability on one connector or (0) all: Accepted, Scheduled or Rejected."""
        targets = list(self.connectors.values()) if connector_id == 0 else [self.connectors.get(connector_id)]
        if any(c is None for c in targets):
            return "Rejected"
        scheduled = False
        for conn in targets:
            assert conn is not None
            if conn.session is not None:
                self._pending_availability[conn.connector_id] = operative
                scheduled = True
            elif operative and conn.state is ConnectorState.UNAVAILABLE:
                self._transition(conn, ConnectorEvent.ENABLE, now)
            elif not operative and conn.state is ConnectorState.AVAILABLE:
                self._transition(conn, ConnectorEvent.DISABLE, now)
        return "Scheduled" if scheduled else "Accepted"

    def set_heartbeat(self, seconds: int, now: datetime) -> None:
        self._heartbeat = timedelta(seconds=seconds) if seconds > 0 else None
        self._next_heartbeat = now + self._heartbeat if self._heartbeat and self.booted else None

    def set_meter_interval(self, seconds: int, now: datetime) -> None:
        self.meter_interval = timedelta(seconds=seconds)
        for conn in self.connectors.values():
            if conn.session is not None and conn.session.started_at is not None:
                conn.session.next_sample_at = now + self.meter_interval

    def queue(self, action: str, payload: Payload | Callable[[], Payload | None]) -> None:
        """Send a message the CSMS asked for (TriggerMessage) after the answer to its CALL."""
        self.endpoint.call(action, payload)

    # -- smart charging ---------------------------------------------------------------------------
    def install_profile(self, profile: smart.Profile, now: datetime) -> None:
        # 1.6 §5.16 / 2.0.1 K01: same id, or same purpose and stack level on the connector: replaced.
        self.profiles = [
            p
            for p in self.profiles
            if p.profile_id != profile.profile_id
            and (p.purpose, p.stack, p.connector) != (profile.purpose, profile.stack, profile.connector)
        ]
        self.profiles.append(profile)
        self._limits_changed(now)

    def clear_profiles(self, keep: Callable[[smart.Profile], bool], now: datetime) -> bool:
        before = len(self.profiles)
        self.profiles = [p for p in self.profiles if keep(p)]
        self._limits_changed(now)
        return len(self.profiles) != before

    def _limits_changed(self, now: datetime) -> None:
        for conn in self.connectors.values():
            if conn.session is not None and conn.session.started_at is not None:
                self.apply_limit(conn, now)

    def limit_w(self, conn: Connector, at: datetime) -> Decimal | None:
        s = conn.session
        tx_id, tx_start = (s.transaction_id, s.started_at) if s is not None else (None, None)
        return smart.connector_limit_w(self.profiles, at, conn.connector_id, tx_id, tx_start)

    def composite(self, connector_id: int, now: datetime, duration_s: int) -> list[tuple[int, Decimal]]:
        """GetCompositeSchedule: (startPeriod, limit W) steps on a connector (0: the station)."""
        conn = self.connectors.get(connector_id)
        s = conn.session if conn is not None else None
        tx_id, tx_start = (s.transaction_id, s.started_at) if s is not None else (None, None)
        max_w = self.max_power_kw * 1000 * (len(self.connectors) if connector_id == 0 else 1)
        return smart.composite(self.profiles, now, duration_s, connector_id, tx_id, tx_start, max_w)

    def apply_limit(self, conn: Connector, at: datetime) -> None:
        """Put the profiles' limit at `at` into the physics (a sample shows the new power)."""
        session = conn.session
        assert session is not None and session.started_at is not None
        limit = self.limit_w(conn, at)
        session.next_limit_at = smart.next_change(self.profiles, at, session.started_at)
        if session.is_full or cap_kw(self.max_power_kw, limit) == cap_kw(self.max_power_kw, session.limit_w):
            session.limit_w = limit  # the EV draws the same power: no new curve, no sample
            return
        session.rebase(at, self.max_power_kw, self.dc, limit)
        self._take_sample(conn, session, at, "limit")
