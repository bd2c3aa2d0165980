"""Virtual charging station, sans-IO and version-neutral; 1.6 and 2.0.1 differ only in small hooks.

Every entry point takes the current time (aware UTC) and returns the OCPP-J frames to send. Timers are
not run here: the runtime asks `next_wakeup()` and calls `on_wakeup(now)` then (simpy or asyncio).
Scheduled things (meter samples, EV full, heartbeats, limits of charging profiles, CALL timeouts)
happen at their scheduled instant even when the wakeup comes late, so both runtimes produce the same
frames. CSMS-initiated CALLs are answered by the version's `handlers` table (`v16_calls`,
`v201_calls`) through the version-neutral actions here (remote start/stop, reset, limits, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import simplejson

from simulators.ocppj import Call, CallResult, Endpoint, OcppVersion, Payload, Tag
from simulators.ocppj.signed import ocmf_record, sign_final
from simulators.station import smart
from simulators.station.charge_truth import ChargeTruth
from simulators.station.control import CsmsControl, SampleReason, StopCause
from simulators.station.physics import EvProfile
from simulators.station.session import Connector, Session
from simulators.station.states import ConnectorEvent, ConnectorState, next_state
from simulators.station.upkeep import Upkeep

__all__ = ["ChargeTruth", "Connector", "SampleReason", "Session", "StopCause", "VirtualStation"]

_BOOT_RETRY = timedelta(seconds=60)  # when the CSMS gave no usable interval
# Messages a station must not lose (1.6 §4.7 / 2.0.1 E13): resent after a timeout, up to `tx_attempts`.
_TRANSACTIONAL = frozenset({"StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"})

# (the station of the version, the CALL's payload, now) -> the CALLRESULT payload
Handler = Callable[[Any, Payload, datetime], Payload]


class VirtualStation(CsmsControl):
    version: ClassVar[OcppVersion]
    wire_status: ClassVar[Mapping[ConnectorState, str]]  # per-version wire name of each state
    handlers: ClassVar[Mapping[str, Handler]] = {}  # CSMS-initiated CALLs this version answers
    sends: ClassVar[frozenset[str]] = frozenset()  # the CALLs it may send (tests/simulators check the code)
    # Calibration-law meter (Eichrecht): the meter value ending a transaction carries a signed record
    # of its start and stop registers (simulators/ocppj/signed.py). The world sets it per location.
    signed_meter: bool = False

    def signed_final(self, session: Any, at: datetime, meter_stop: int, value: Payload) -> Payload:
        """`value` (Transaction.End) with the signed record when this station signs."""
        if not self.signed_meter or session.started_at is None:
            return value
        _, record = ocmf_record(
            self.station_id,
            str(session.transaction_id),
            session.started_at,
            session.meter_start_wh,
            at,
            meter_stop,
        )
        return sign_final(self.version, value, record)

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
        call_timeout_s: int | None = None,
    ) -> None:
        if connectors < 1 or meter_interval_s < 1:
            raise ValueError("a station needs at least one connector and a positive meter interval")
        self.station_id = station_id
        self.max_power_kw = max_power_kw
        self.dc = dc
        self.meter_interval = timedelta(seconds=meter_interval_s)
        self.vendor = vendor
        self.model = model
        # None: wait for every answer (a scenario's own CSMS always answers, and an Authorize may wait
        # long for the eMSP); against a real CSMS give a timeout so one lost answer cannot wedge us.
        self.call_timeout = None if call_timeout_s is None else timedelta(seconds=call_timeout_s)
        self.tx_attempts = 3
        self.authorize_remote = False  # AuthorizeRemoteTxRequests / AuthorizeRemoteStart
        self.stop_on_invalid = True  # StopTransactionOnInvalidId / StopTxOnInvalidId
        self.endpoint = Endpoint(station_id, self.version)
        self.connectors = {i: Connector(i) for i in range(1, connectors + 1)}
        self.truth: list[ChargeTruth] = []
        self.profiles: list[smart.Profile] = []
        self.reservations: dict[int, tuple[int | None, str]] = {}  # id -> (connector, token)
        self.reservation_ends: dict[int, datetime] = {}  # id -> when it expires unused
        self.booted = False
        self.boots = 0  # BootNotifications accepted: a Reset shows as one more
        self.reconnect_requested = False  # a Reset: the runtime may drop and reopen the connection
        # True when the runtime does reopen it (StationLink): the boot then waits for the new connection.
        self.reconnects_on_reset = False
        self.online = True  # False: the OCPP-J connection is down; CALLs wait in the queue
        self._heartbeat: timedelta | None = None
        self._next_heartbeat: datetime | None = None
        self._boot_retry_at: datetime | None = None
        self._sent_status: dict[int, str] = {}
        self._transactions = 0
        self._attempts: dict[str, int] = {}  # transactional message (by content) -> sends so far
        self._pending_reset: StopCause | None = None  # 2.0.1 OnIdle: reset once idle
        self._pending_availability: dict[int, bool] = {}  # connector -> operative, once idle
        self.upkeep = Upkeep()  # local list, firmware/log jobs, certificates, display messages

    # -- public API -------------------------------------------------------------------------------
    # A station's clock ticks in whole seconds, as real chargers' OCPP timestamps do: every input
    # instant is floored once here, so frames, meter physics and truth all share one exact clock
    # and CDR volumes rounded to OCPI's 4 decimals (0.36 s) still resolve to the same second.
    def on_connected(self, now: datetime) -> list[str]:
        now = _whole_second(now)
        lost = self.endpoint.expire()  # a CALL in flight on the old connection gets no answer now
        self.endpoint.reset()
        if lost is not None and lost[0].action in _TRANSACTIONAL:
            self.endpoint.call(lost[0].action, lost[0].payload, tag=lost[1], first=True)
        elif lost is not None and lost[0].action != "BootNotification":
            # Any other message is not queued for a new connection (1.6 §4.1 / 2.0.1 E04 keep only
            # transaction messages): it failed, as on a timeout, so whoever waits on it carries on
            # (an Authorize in flight refuses the driver rather than leaving them waiting forever).
            # A lost boot needs nothing: the new connection boots first anyway.
            self._on_answer(lost[0], None, lost[1], now)
        if not self._boot_queued():
            self.endpoint.call("BootNotification", self._boot_payload())
        # A new connection starts with the boot (2.0.1 B01); what waited goes after it, in order.
        self.endpoint.promote("BootNotification")
        self.reconnect_requested = False
        return self._drain(now)

    def on_frame(self, text: str, now: datetime) -> list[str]:
        now = _whole_second(now)
        incoming = self.endpoint.receive(text)
        out = list(incoming.replies) if incoming.replies else []
        if isinstance(incoming.message, Call):
            out.append(self._answer(incoming.message, now))
        elif incoming.answered is not None:
            payload = incoming.message.payload if isinstance(incoming.message, CallResult) else None
            if self._attempts:  # empty unless a transaction message was resent: skip encoding its key
                self._attempts.pop(_key(incoming.answered), None)
            self._on_answer(incoming.answered, payload, incoming.tag, now)
        return out + self._drain(now)

    def plug_in(
        self, connector_id: int, *, token_uid: str, ev: EvProfile, now: datetime, await_remote: bool = False
    ) -> list[str]:
        """The driver plugs in and swipes `token_uid`; with `await_remote` they start from their
        app instead: no Authorize, the CSMS's remote start (for that token) begins the charge."""
        now = _whole_second(now)
        self._run_due(now)
        conn = self.connectors[connector_id]
        reservation = self.reservation_for(conn, token_uid)
        held_for_another = reservation is None and (
            conn.state is ConnectorState.RESERVED or self.last_free_is_held(conn, token_uid)
        )
        if conn.state is ConnectorState.UNAVAILABLE or held_for_another:
            # Taken out of service by the CSMS, or reserved for another token (1.6 §5.13: only the
            # reservation's idTag may start there; 2.0.1 H01): the driver cannot charge here.
            # Any other busy state is the runtime's mistake and still raises InvalidTransition.
            why = "reserved" if held_for_another else "unavailable"
            self.truth.append(_refused(self.station_id, connector_id, token_uid, now, conn.register_wh, why))
            return self._drain(now)
        self._transition(conn, ConnectorEvent.PLUG, now)
        if reservation is not None:  # used up (a station-wide one too, which held no connector)
            self.reservations.pop(reservation, None)
            self.reservation_ends.pop(reservation, None)
        conn.session = session = Session(token_uid, ev, plugged_at=now, awaiting_remote=await_remote)
        session.reservation_id = reservation
        if await_remote:
            return self._drain(now)  # the driver started from the app: the CSMS's remote start follows
        if not self.online and self.upkeep.local_authorize_offline and self.upkeep.covers(token_uid):
            # Offline, a token the CSMS put on the local list charges at once (1.6 §3.4
            # LocalAuthorizeOffline, 2.0.1 C13); its transaction messages queue until reconnect.
            self._start_charging(conn, session, now)
            return self._drain(now)
        self.endpoint.call("Authorize", self._authorize_payload(token_uid), tag=connector_id)
        return self._drain(now)

    def unplug(self, connector_id: int, now: datetime) -> list[str]:
        now = _whole_second(now)
        self._run_due(now)
        conn = self.connectors[connector_id]
        session = conn.session
        if session is None:  # refused earlier, never plugged, or ended by the CSMS: nothing to report
            return self._drain(now)
        if session.started_at is None:
            self._transition(conn, ConnectorEvent.UNPLUG, now)
            self._record(conn, session, authorized=False, unplugged_at=now)
            return self._drain(now)
        self.end_transaction(conn, now, "ev_disconnected")
        return self._drain(now)

    def set_online(self, online: bool, now: datetime) -> list[str]:
        """Lose or regain the connection. Offline, nothing is sent: transaction messages and meter
        values queue up in order (1.6 transaction-related messages; 2.0.1 E04, `offline: true`) and
        go out on reconnect. An exchange already under way completes (the line dropped after it)."""
        self.online = online
        return self._drain(_whole_second(now))

    def _drain(self, now: datetime) -> list[str]:
        waiting = self.reconnect_requested and self.reconnects_on_reset
        if waiting and self.endpoint.queued_actions()[:1] == ["BootNotification"]:
            return []  # the boot after a Reset goes out on the new connection
        return self.endpoint.drain(now) if self.online else []

    def next_wakeup(self) -> datetime | None:
        due = self._next_due()
        return due[0] if due is not None else None

    def on_wakeup(self, now: datetime) -> list[str]:
        now = _whole_second(now)
        self._run_due(now)
        return self._drain(now)

    def connector_status(self, connector_id: int) -> str:
        return self.wire_status[self.connectors[connector_id].state]

    # -- scheduling -------------------------------------------------------------------------------
    def _next_due(self) -> tuple[datetime, int, int] | None:
        """The first (instant, rank, connector) of everything scheduled; rank orders ties
        deterministically. The smallest tuple, as min() over the whole list of them would give,
        found without building that list (this runs after every frame a station sends)."""
        best: tuple[datetime, int, int] | None = None
        if self._boot_retry_at is not None:
            best = (self._boot_retry_at, 0, 0)
        if self._next_heartbeat is not None:
            item = (self._next_heartbeat, 1, 0)
            if best is None or item < best:
                best = item
        for cid, conn in self.connectors.items():
            s = conn.session
            if s is None or s.started_at is None:
                continue
            if s.full_at is not None and not s.is_full:
                item = (s.full_at, 2, cid)
                if best is None or item < best:
                    best = item
            if s.next_sample_at is not None:
                item = (s.next_sample_at, 3, cid)
                if best is None or item < best:
                    best = item
            if s.next_limit_at is not None:
                item = (s.next_limit_at, 5, cid)
                if best is None or item < best:
                    best = item
        if self.call_timeout is not None and self.endpoint.sent_at is not None:
            item = (self.endpoint.sent_at + self.call_timeout, 4, 0)
            if best is None or item < best:
                best = item
        if self.upkeep.jobs and (job_at := self.upkeep.next_at()) is not None:
            item = (job_at, 6, 0)
            if best is None or item < best:
                best = item
        if self.reservation_ends:  # reservations still held, by id in the third place
            for rid, end in self.reservation_ends.items():
                if rid in self.reservations:
                    item = (end, 7, rid)
                    if best is None or item < best:
                        best = item
        return best

    def _run_due(self, now: datetime) -> None:
        while (due := self._next_due()) is not None:
            at, rank, cid = due
            if at > now:
                return
            if rank == 0:
                self._boot_retry_at = None
                self.endpoint.call("BootNotification", self._boot_payload())
            elif rank == 1:
                assert self._heartbeat is not None
                self._next_heartbeat = at + self._heartbeat
                self.endpoint.call("Heartbeat", {})
            elif rank == 4:
                self._timed_out(at)
            elif rank == 7:
                self.expire_reservation(cid, at)
            elif rank == 6:
                idle = not any(c.session and c.session.started_at for c in self.connectors.values())
                step = self.upkeep.take_due(at, idle)
                if step is not None:
                    self.endpoint.call(step.action, step.payload)
                    if step.then is not None:
                        step.then(at)
            else:
                conn = self.connectors[cid]
                session = conn.session
                assert session is not None
                if rank == 2:
                    session.is_full = True
                    self._transition(conn, ConnectorEvent.EV_FULL, at)
                    self._take_sample(conn, session, at, "ev_full")
                elif rank == 3:
                    session.next_sample_at = at + self.meter_interval
                    if session.last_sample_at != at:
                        self._take_sample(conn, session, at, "periodic")
                else:
                    session.next_limit_at = None
                    self.apply_limit(conn, at)

    def _timed_out(self, at: datetime) -> None:
        """No answer in time (OCPP-J: the CALL has timed out): free the line and carry on. A
        transaction message is sent again (a fresh id) until `tx_attempts`; anything else is given
        up as if refused."""
        expired = self.endpoint.expire()
        assert expired is not None
        call, tag = expired
        key = _key(call)
        if call.action in _TRANSACTIONAL:
            sent = self._attempts.get(key, 1)
            if sent < self.tx_attempts:
                self._attempts[key] = sent + 1
                self.endpoint.call(call.action, call.payload, tag=tag, first=True)
                return
            self._attempts.pop(key, None)
        self._on_answer(call, None, tag, at)

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
        # Accepted (perhaps a boot the CSMS triggered while Pending): the retry is off, or the
        # station would boot again at the Pending answer's interval, which a CSMS reads as a reboot.
        self._boot_retry_at = None
        self.booted = True
        self.boots += 1
        if interval > timedelta(0):
            self._heartbeat = interval
            self._next_heartbeat = now + interval
        for cid, conn in self.connectors.items():
            self._send_status(conn, now, force=cid not in self._sent_status)

    def on_deauthorized(self, conn: Connector, now: datetime) -> None:
        """The CSMS answered a transaction's start with a status other than Accepted (Blocked,
        Invalid, Expired, ...): stop charging (1.6 StopTransactionOnInvalidId, 2.0.1 E05)."""
        if self.stop_on_invalid and conn.session is not None and conn.session.started_at is not None:
            self.end_transaction(conn, now, "deauthorized")

    def _answer(self, call: Call, now: datetime) -> str:
        handler = self.handlers.get(call.action)
        if handler is None:
            # Known to the version's schemas but outside the profiles/blocks this station implements:
            # NotSupported (an action no schema knows never gets here: the codec answers NotImplemented).
            return self.endpoint.reply_error(
                call.unique_id, "NotSupported", f"{call.action} is not supported"
            )
        return self.endpoint.reply(call.unique_id, handler(self, call.payload, now))

    # -- connector bookkeeping --------------------------------------------------------------------
    def _start_charging(self, conn: Connector, session: Session, now: datetime) -> None:
        limit = smart.connector_limit_w(self.profiles, now, conn.connector_id, None, now)
        session.start(now, conn.register_wh, self.max_power_kw, self.dc, limit)
        session.next_sample_at = now + self.meter_interval
        session.last_sample_at = now
        if self.profiles:
            session.next_limit_at = smart.next_change(self.profiles, now, now)
        self._start(conn, session, now)
        self._transition(conn, ConnectorEvent.AUTHORIZED, now)

    def _transition(self, conn: Connector, event: ConnectorEvent, at: datetime) -> None:
        was, conn.state = conn.state, next_state(conn.state, event)
        if was is ConnectorState.RESERVED:
            # Plugged in, taken out of service or cancelled: the reservation on it is over.
            self.reservations = {r: v for r, v in self.reservations.items() if v[0] != conn.connector_id}
        self._send_status(conn, at)

    def _send_status(self, conn: Connector, at: datetime, *, force: bool = False) -> None:
        # Only changes of the *wire* status are notified: in 2.0.1 several states are one "Occupied".
        status = self.wire_status[conn.state]
        if force or self._sent_status.get(conn.connector_id) != status:
            self._sent_status[conn.connector_id] = status
            self.endpoint.call("StatusNotification", self._status_payload(conn.connector_id, status, at))

    def send_status(self, conn: Connector, at: datetime) -> None:
        self._send_status(conn, at, force=True)

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
                power_corners=session.corners() if authorized else (),
            )
        )
        conn.register_wh = stop
        conn.session = None
        if authorized:
            self._after_transaction(conn, unplugged_at or session.plugged_at)

    def _after_transaction(self, conn: Connector, now: datetime) -> None:
        # A TxProfile lives as long as its transaction (1.6 §3.13.2, 2.0.1 K01.FR.05).
        if any(p.purpose == "tx" and p.connector == conn.connector_id for p in self.profiles):
            self.profiles = [
                p for p in self.profiles if not (p.purpose == "tx" and p.connector == conn.connector_id)
            ]
        operative = self._pending_availability.pop(conn.connector_id, None)
        if operative is not None:
            self.set_available(conn.connector_id, operative, now)
        idle = all(c.session is None for c in self.connectors.values())
        if self._pending_reset is not None and idle:
            self.reset(self._pending_reset, now)

    def _new_transaction_id(self) -> str:
        self._transactions += 1
        return f"{self.station_id[-24:]}-T{self._transactions}"

    def _boot_queued(self) -> bool:
        return "BootNotification" in self.endpoint.queued_actions()

    # -- version hooks ----------------------------------------------------------------------------
    def _boot_payload(self, *, reset: bool = False) -> Payload:
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

    def _stop(
        self, conn: Connector, session: Session, at: datetime, meter_stop: int, cause: StopCause
    ) -> None:
        raise NotImplementedError

    def _on_result(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        """Answers other than BootNotification and Authorize; most need nothing."""


def _whole_second(now: datetime) -> datetime:
    """now.replace(microsecond=0), without a new object when it is on a whole second already (a
    wakeup at a sample's instant): equal either way, and records then share the runtime's instant."""
    # Subtracting the microseconds gives the same instant as replace(microsecond=0), in about half
    # the time (no keyword parsing); every input of a station comes through here.
    return now - timedelta(0, 0, now.microsecond) if now.microsecond else now


# simplejson.dumps(payload, sort_keys=True, use_decimal=True) with its encoder built once (same text).
_KEY_ENCODE = simplejson.JSONEncoder(sort_keys=True, use_decimal=True).encode


def _key(call: Call) -> str:
    return call.action + _KEY_ENCODE(call.payload)


def _refused(
    station_id: str, connector_id: int, token: str, now: datetime, register: int, why: str
) -> ChargeTruth:
    return ChargeTruth(
        station_id, connector_id, token, now, False, None, None, None, None, register, register, 0,
        refused_by_station=why,
    )  # fmt: skip
