"""Virtual charging station, sans-IO and version-neutral; 1.6 and 2.0.1 differ only in small hooks.

Every entry point takes the current time (aware UTC) and returns the OCPP-J frames to send. Timers are
not run here: the runtime asks `next_wakeup()` and calls `on_wakeup(now)` then (simpy or asyncio).
Scheduled things (meter samples, EV full, heartbeats) happen at their scheduled instant even when the
wakeup comes late, so both runtimes produce the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Literal

from simulators.ocppj import Call, CallResult, Endpoint, OcppVersion, Payload, Tag
from simulators.station.physics import EvProfile, PowerCurve, power_curve, seconds_between
from simulators.station.states import ConnectorEvent, ConnectorState, next_state

SampleReason = Literal["periodic", "ev_full"]
_BOOT_RETRY = timedelta(seconds=60)  # when the CSMS gave no usable interval


@dataclass(frozen=True, slots=True)
class ChargeTruth:
    """What really happened at a connector, whatever the wire said (design principle 5)."""

    station_id: str
    connector_id: int
    token_uid: str
    plugged_at: datetime
    authorized: bool
    transaction_id: str | None
    started_at: datetime | None
    charging_ended_at: datetime | None  # when the EV stopped drawing (full, or unplugged first)
    unplugged_at: datetime | None  # None when refused: the driver's departure is no longer observed
    meter_start_wh: int
    meter_stop_wh: int
    energy_wh: int
    # Corners of the physical energy curve (instant, kWh since start) while charging; () for constant
    # power, whose curve is a straight line to the full (or unplug) instant.
    power_corners: tuple[tuple[datetime, Decimal], ...] = ()


@dataclass(slots=True)
class Session:
    token_uid: str
    ev: EvProfile
    plugged_at: datetime
    curve: PowerCurve | None = None
    started_at: datetime | None = None
    full_at: datetime | None = None  # scheduled instant the EV is full; None: never
    is_full: bool = False
    meter_start_wh: int = 0
    transaction_id: str | None = None
    next_sample_at: datetime | None = None
    last_sample_at: datetime | None = None
    seq_no: int = 0  # 2.0.1 TransactionEvent sequence number

    def reading_wh(self, at: datetime) -> int:
        assert self.started_at is not None and self.curve is not None
        return self.meter_start_wh + self.curve.energy_wh(seconds_between(self.started_at, at))

    def power_at(self, at: datetime) -> Decimal:
        if self.started_at is None or self.curve is None or (self.full_at is not None and at >= self.full_at):
            return Decimal(0)
        return self.curve.power_at(seconds_between(self.started_at, at))


@dataclass(slots=True)
class Connector:
    connector_id: int
    state: ConnectorState = ConnectorState.AVAILABLE
    register_wh: int = 0  # the meter register; only ever increases
    session: Session | None = None


class VirtualStation:
    version: ClassVar[OcppVersion]
    wire_status: ClassVar[Mapping[ConnectorState, str]]  # per-version wire name of each state

    def __init__(
        self,
        station_id: str,
        *,
        connectors: int,
        max_power_kw: Decimal,
        meter_interval_s: int = 300,
        dc: bool = False,
        vendor: str = "emsp-bench",
        model: str = "virtual-ac",
    ) -> None:
        if connectors < 1 or meter_interval_s < 1:
            raise ValueError("a station needs at least one connector and a positive meter interval")
        self.station_id = station_id
        self.max_power_kw = max_power_kw
        self.dc = dc
        self.meter_interval = timedelta(seconds=meter_interval_s)
        self.vendor = vendor
        self.model = model
        self.endpoint = Endpoint(station_id, self.version)
        self.connectors = {i: Connector(i) for i in range(1, connectors + 1)}
        self.truth: list[ChargeTruth] = []
        self.booted = False
        self.online = True  # False: the OCPP-J connection is down; CALLs wait in the queue
        self._heartbeat: timedelta | None = None
        self._next_heartbeat: datetime | None = None
        self._boot_retry_at: datetime | None = None
        self._sent_status: dict[int, str] = {}
        self._transactions = 0

    # -- public API -------------------------------------------------------------------------------
    # A station's clock ticks in whole seconds, as real chargers' OCPP timestamps do: every input
    # instant is floored once here, so frames, meter physics and truth all share one exact clock
    # and CDR volumes rounded to OCPI's 4 decimals (0.36 s) still resolve to the same second.
    def on_connected(self, now: datetime) -> list[str]:
        self.endpoint.call("BootNotification", self._boot_payload())
        return self._drain()

    def on_frame(self, text: str, now: datetime) -> list[str]:
        now = now.replace(microsecond=0)
        incoming = self.endpoint.receive(text)
        out = list(incoming.replies)
        if isinstance(incoming.message, Call):
            out.append(self._answer(incoming.message))
        elif incoming.answered is not None:
            payload = incoming.message.payload if isinstance(incoming.message, CallResult) else None
            self._on_answer(incoming.answered, payload, incoming.tag, now)
        return out + self._drain()

    def plug_in(self, connector_id: int, *, token_uid: str, ev: EvProfile, now: datetime) -> list[str]:
        now = now.replace(microsecond=0)
        self._run_due(now)
        conn = self.connectors[connector_id]
        self._transition(conn, ConnectorEvent.PLUG, now)
        conn.session = Session(token_uid, ev, plugged_at=now)
        self.endpoint.call("Authorize", self._authorize_payload(token_uid), tag=connector_id)
        return self._drain()

    def unplug(self, connector_id: int, now: datetime) -> list[str]:
        now = now.replace(microsecond=0)
        self._run_due(now)
        conn = self.connectors[connector_id]
        session = conn.session
        if session is None:  # refused earlier (or never plugged): the station has nothing to report
            return self._drain()
        if session.started_at is None:
            self._transition(conn, ConnectorEvent.UNPLUG, now)
            self._record(conn, session, authorized=False, unplugged_at=now)
            return self._drain()
        meter_stop = session.reading_wh(now)
        self._stop(conn, session, now, meter_stop)
        self._transition(conn, ConnectorEvent.UNPLUG, now)
        self._transition(conn, ConnectorEvent.RELEASED, now)
        self._record(conn, session, authorized=True, unplugged_at=now, meter_stop=meter_stop)
        return self._drain()

    def set_online(self, online: bool, now: datetime) -> list[str]:
        """Lose or regain the connection. Offline, nothing is sent: transaction messages and meter
        values queue up in order (1.6 transaction-related messages; 2.0.1 E04, `offline: true`) and
        go out on reconnect. An exchange already under way completes (the line dropped after it)."""
        self.online = online
        return self._drain()

    def _drain(self) -> list[str]:
        return self.endpoint.drain() if self.online else []

    def next_wakeup(self) -> datetime | None:
        due = self._due()
        return min(due)[0] if due else None

    def on_wakeup(self, now: datetime) -> list[str]:
        now = now.replace(microsecond=0)
        self._run_due(now)
        return self._drain()

    def connector_status(self, connector_id: int) -> str:
        return self.wire_status[self.connectors[connector_id].state]

    # -- scheduling -------------------------------------------------------------------------------
    def _due(self) -> list[tuple[datetime, int, int]]:
        """(instant, rank, connector) of everything scheduled; rank orders ties deterministically."""
        due = []
        if self._boot_retry_at is not None:
            due.append((self._boot_retry_at, 0, 0))
        if self._next_heartbeat is not None:
            due.append((self._next_heartbeat, 1, 0))
        for cid, conn in self.connectors.items():
            s = conn.session
            if s is None or s.started_at is None:
                continue
            if s.full_at is not None and not s.is_full:
                due.append((s.full_at, 2, cid))
            if s.next_sample_at is not None:
                due.append((s.next_sample_at, 3, cid))
        return due

    def _run_due(self, now: datetime) -> None:
        while due := self._due():
            at, rank, cid = min(due)
            if at > now:
                return
            if rank == 0:
                self._boot_retry_at = None
                self.endpoint.call("BootNotification", self._boot_payload())
            elif rank == 1:
                assert self._heartbeat is not None
                self._next_heartbeat = at + self._heartbeat
                self.endpoint.call("Heartbeat", {})
            else:
                conn = self.connectors[cid]
                session = conn.session
                assert session is not None
                if rank == 2:
                    session.is_full = True
                    self._transition(conn, ConnectorEvent.EV_FULL, at)
                    self._take_sample(conn, session, at, "ev_full")
                else:
                    session.next_sample_at = at + self.meter_interval
                    if session.last_sample_at != at:
                        self._take_sample(conn, session, at, "periodic")

    def _take_sample(self, conn: Connector, session: Session, at: datetime, reason: SampleReason) -> None:
        session.last_sample_at = at
        self._sample(conn, session, at, reason)

    # -- answers from the CSMS --------------------------------------------------------------------
    def _on_answer(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        if call.action == "BootNotification":
            self._on_boot(payload, now)
        elif call.action == "Authorize" and isinstance(tag, int):
            conn = self.connectors[tag]
            session = conn.session
            if conn.state is not ConnectorState.PREPARING or session is None:
                return  # the driver left while the CSMS was deciding
            if payload is not None and self._auth_status(payload) == "Accepted":
                self._start_charging(conn, session, now)
            else:
                self._transition(conn, ConnectorEvent.REFUSED, now)
                self._record(conn, session, authorized=False, unplugged_at=None)
        else:
            self._on_result(call, payload, tag, now)

    def _on_boot(self, payload: Payload | None, now: datetime) -> None:
        interval = timedelta(seconds=payload["interval"]) if payload else _BOOT_RETRY
        if payload is None or payload["status"] != "Accepted":
            # 1.6 §4.2 / 2.0.1 B02: Pending or Rejected -> boot again after `interval`.
            self._boot_retry_at = now + (interval or _BOOT_RETRY)
            return
        self.booted = True
        if interval > timedelta(0):
            self._heartbeat = interval
            self._next_heartbeat = now + interval
        for cid, conn in self.connectors.items():
            self._send_status(conn, now, force=cid not in self._sent_status)

    def _answer(self, call: Call) -> str:
        # The CSMS side of this bench sends no CALLs; a real CSMS may. Schema-valid but not handled here.
        return self.endpoint.reply_error(call.unique_id, "NotSupported", f"{call.action} is not supported")

    # -- connector bookkeeping --------------------------------------------------------------------
    def _start_charging(self, conn: Connector, session: Session, now: datetime) -> None:
        session.started_at = now
        session.curve = power_curve(session.ev, self.max_power_kw, dc=self.dc)
        session.meter_start_wh = conn.register_wh
        after = session.curve.full_after()
        session.full_at = None if after is None else now + after
        session.next_sample_at = now + self.meter_interval
        session.last_sample_at = now
        self._start(conn, session, now)
        self._transition(conn, ConnectorEvent.AUTHORIZED, now)

    def _transition(self, conn: Connector, event: ConnectorEvent, at: datetime) -> None:
        conn.state = next_state(conn.state, event)
        self._send_status(conn, at)

    def _send_status(self, conn: Connector, at: datetime, *, force: bool = False) -> None:
        # Only changes of the *wire* status are notified: in 2.0.1 several states are one "Occupied".
        status = self.wire_status[conn.state]
        if force or self._sent_status.get(conn.connector_id) != status:
            self._sent_status[conn.connector_id] = status
            self.endpoint.call("StatusNotification", self._status_payload(conn.connector_id, status, at))

    def _record(
        self,
        conn: Connector,
        session: Session,
        *,
        authorized: bool,
        unplugged_at: datetime | None,
        meter_stop: int | None = None,
    ) -> None:
        stop = conn.register_wh if meter_stop is None else meter_stop
        ended = None
        if authorized and unplugged_at is not None:
            full = session.full_at if session.is_full else None
            ended = min(full, unplugged_at) if full is not None else unplugged_at
        self.truth.append(
            ChargeTruth(
                station_id=self.station_id,
                connector_id=conn.connector_id,
                token_uid=session.token_uid,
                plugged_at=session.plugged_at,
                authorized=authorized,
                transaction_id=session.transaction_id,
                started_at=session.started_at,
                charging_ended_at=ended,
                unplugged_at=unplugged_at,
                meter_start_wh=session.meter_start_wh if authorized else conn.register_wh,
                meter_stop_wh=stop,
                energy_wh=stop - session.meter_start_wh if authorized else 0,
                power_corners=_corners(session),
            )
        )
        conn.register_wh = stop
        conn.session = None

    def _new_transaction_id(self) -> str:
        self._transactions += 1
        return f"{self.station_id[-24:]}-T{self._transactions}"

    # -- version hooks ----------------------------------------------------------------------------
    def _boot_payload(self) -> Payload:
        raise NotImplementedError

    def _status_payload(self, connector_id: int, status: str, at: datetime) -> Payload:
        raise NotImplementedError

    def _authorize_payload(self, token_uid: str) -> Payload:
        raise NotImplementedError

    def _auth_status(self, payload: Payload) -> str:
        raise NotImplementedError

    def _start(self, conn: Connector, session: Session, at: datetime) -> None:
        raise NotImplementedError

    def _sample(self, conn: Connector, session: Session, at: datetime, reason: SampleReason) -> None:
        raise NotImplementedError

    def _stop(self, conn: Connector, session: Session, at: datetime, meter_stop: int) -> None:
        raise NotImplementedError

    def _on_result(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        """Answers other than BootNotification and Authorize; most need nothing."""


def _corners(session: Session) -> tuple[tuple[datetime, Decimal], ...]:
    if session.curve is None or session.started_at is None:
        return ()
    points = session.curve.breakpoints()
    if len(points) <= 2:
        return ()
    start = session.started_at
    return tuple((start + timedelta(microseconds=int(t * 1_000_000)), e / 1000) for t, e in points[1:-1])
