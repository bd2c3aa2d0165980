"""The OCPP side of a mock CPO: a sans-IO CSMS for OCPP 1.6J and 2.0.1 stations.

It answers at once everything but Authorize, whose answer waits for the CPO's OCPI side (the eMSP's
real-time authorization) through `on_authorization` — unless a local `authorize` policy is given (no
eMSP attached), which answers at once. What it observes comes out as events. An invalid frame is
answered with a CALLERROR (or dropped, for an invalid answer) and never raises.

It also sends CSMS-initiated CALLs (`call`): one in flight per station (OCPP-J synchronicity), the
answer (or CALLERROR, or a timeout through `expire`) comes out as a `CallAnswered`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from emsp.timeutil import format_utc
from simulators.cpo.csms_acks import ACKS
from simulators.cpo.csms_ca import StationCa
from simulators.cpo.csms_link import (
    CallAnswered,
    CsmsOutput,
    Held,
    Link,
    end_after_start,
    event_time,
    mark_ended,
    note_off_outlet,
)
from simulators.cpo.csms_local_list import PER_MESSAGE, local_list_requests
from simulators.cpo.csms_upkeep import UPKEEP
from simulators.cpo.csms_v201 import meter201, status201, transaction_event
from simulators.cpo.events import (
    AuthorizationRequested,
    ChargingStateChanged,
    ConnectorStatusChanged,
    CsmsEvent,
    MeterSampled,
    StationBooted,
    TransactionEnded,
    TransactionStarted,
)
from simulators.ocppj import (
    Call,
    CallError,
    CallResult,
    Codec,
    Endpoint,
    LocalProtocolError,
    OcppVersion,
    Payload,
)
from simulators.ocppj.meter import read_sample
from simulators.ocppj.signed import read_signed

# Status for a token the CSMS never asked about: 1.6 has no "Unknown"; 2.0.1 C01 does.
_UNDECIDED: Mapping[OcppVersion, str] = {"1.6": "Invalid", "2.0.1": "Unknown"}
# What a refusal from the eMSP becomes: the token is known and not allowed -> "Invalid" in both versions.
_REFUSED = "Invalid"
_REJECTED_RETRY_S = 300
_INFO_KEY: Mapping[OcppVersion, str] = {"1.6": "idTagInfo", "2.0.1": "idTokenInfo"}


Handler = Callable[["Csms", Link, Payload, datetime, list[CsmsEvent]], Payload]


def _remote_token(action: str, payload: Payload) -> str | None:
    if action == "RemoteStartTransaction":
        return str(payload["idTag"])
    if action == "RequestStartTransaction":
        return str(payload["idToken"]["idToken"])
    return None


class Csms:
    def __init__(
        self,
        cpo_id: str,
        *,
        heartbeat_interval_s: int = 300,
        authorize: Callable[[str], bool] | None = None,
        accept_boot: Callable[[str], bool] | None = None,
        local_list: Sequence[str] | None = None,
        local_list_per_message: int = PER_MESSAGE,
        first_transaction_id: int = 1,
    ) -> None:
        self.cpo_id = cpo_id
        self.heartbeat_interval_s = heartbeat_interval_s
        # None: Authorize waits for the OCPI side (on_authorization); else decided here at once.
        self.authorize = authorize
        self.accept_boot = accept_boot  # None: every station; else BootNotification Rejected if False
        # Tokens pushed to every station's local list after each accepted boot (csms_local_list);
        # None: no push.
        self.local_list = local_list
        self.local_list_per_message = local_list_per_message
        self._calls = 0
        self._links: dict[str, Link] = {}
        # Station id -> whether its last BootNotification was Accepted. Kept across reconnections
        # (a reconnected station does not boot again); a station not in it never booted here.
        self._registered: dict[str, bool] = {}
        self._held: dict[str, Held] = {}
        # Folded token uid -> latest decision of the OCPI side: an idTag (1.6 CiString20) and an
        # idToken (2.0.1) ignore case, as the eMSP does (Token.uid, CiString), so an Authorize and a
        # start that spell the token differently are one token.
        self._decisions: dict[str, bool] = {}
        self._refs = 0
        # 1.6: the CSMS assigns transaction ids, from `first_transaction_id` on. A CSMS that restarts
        # must not give again an id its previous run gave (serve csms seeds it from the time): the
        # station's messages for the old transaction would merge into the new one.
        self._first_transaction = first_transaction_id
        self._transactions = first_transaction_id - 1
        self.ca = StationCa(cpo_id)  # signs the stations' certificate requests
        self._clock_at: datetime | None = None  # the last heartbeat's instant and its text
        self._clock_text = ""

    def on_connected(self, station_id: str, version: OcppVersion, now: datetime) -> CsmsOutput:
        # A reconnection starts a new OCPP-J session: a fresh endpoint, nothing in flight; the
        # transactions in progress carry over (their messages arrive on the new connection).
        old = self._links.get(station_id)
        link = Link(station_id, version, Endpoint(f"{self.cpo_id}", version))
        self._links[station_id] = link
        if old is not None and old.version != version:
            return self._version_changed(old, link)
        if old is not None:
            link.charging, link.by_connector, link.last_energy, link.unidentified, link.begun = (
                old.charging,
                old.by_connector,
                old.last_energy,
                old.unidentified,
                old.begun,
            )
            link.sampled_at = old.sampled_at
            link.ended, link.evse_status, link.evse_of = old.ended, old.evse_status, old.evse_of
            link.ended_before = old.ended_before
        return CsmsOutput()

    def _version_changed(self, old: Link, link: Link) -> CsmsOutput:
        """A station back on the other OCPP version (a firmware update, 1.6J <-> 2.0.1): nothing of
        its transactions in progress can come any more, since the ids of one version mean nothing in
        the other (1.6: the CSMS's integers; 2.0.1: the station's strings) and a stop queued in the
        old version is never sent in the new. Each is ended now, so its session and energy get their
        CDR instead of staying open for ever (or a new transaction reusing its id being ignored):
        at its last evidence (latest sample, else its start; no time is billed that nothing shows),
        with its latest register, reason Other (in both versions' reason lists). Its id is kept as
        ended in the old version: a station back on it (an update rolled back) that sends its queued
        messages for it has them noted as repeats, not taken up as a second transaction."""
        events: list[CsmsEvent] = []
        notes = [f"reconnected speaking OCPP {link.version} (was {old.version})"]
        for started in old.unidentified.values():
            events.append(started)  # never identified: still a transaction that happened
        for tx, (meter_start, started_at) in old.begun.items():
            meter_stop = max(old.last_energy.get(tx, meter_start), meter_start)
            at = max(old.sampled_at.get(tx, started_at), started_at)
            events.append(TransactionEnded(old.station_id, tx, at, meter_stop, "Other"))
            notes.append(
                f"transaction {tx} (OCPP {old.version}) ended at {format_utc(at)}, {meter_stop} Wh:"
                f" the station now speaks OCPP {link.version}, its stop can no longer come"
            )
            mark_ended(old, tx)
        link.ended_before = old.ended_before
        link.ended_before[old.version] = old.ended
        link.ended = link.ended_before.pop(link.version, {})
        return CsmsOutput(events=events, notes=notes)

    def on_frame(self, station_id: str, text: str, now: datetime) -> CsmsOutput:
        link = self._links[station_id]
        incoming = link.endpoint.receive(text)
        frames = list(incoming.replies)
        events: list[CsmsEvent] = []
        answers: list[CallAnswered] = []
        call = incoming.message
        if isinstance(call, Call) and call.action != "BootNotification" and not self._admitted(link):
            frames.append(self._unregistered(link, call))
        elif isinstance(call, Call) and call.action == "Authorize" and self.authorize is None:
            self._hold(link, call, now, events)  # answered by on_authorization
        elif isinstance(call, Call):
            handler = _HANDLERS[link.version].get(call.action)
            ack = ACKS[link.version].get(call.action)
            if handler is not None:
                answer = handler(self, link, call.payload, now, events)
                frames.append(link.endpoint.reply(call.unique_id, answer))
            elif ack is not None:
                frames.append(link.endpoint.reply(call.unique_id, ack))
            else:
                # Schema-known action this CSMS does not handle: NotSupported (1.6 §4.2.3 table 7).
                frames.append(link.endpoint.reply_error(call.unique_id, "NotSupported", call.action))
        elif incoming.answered is not None and isinstance(incoming.tag, str):
            answers.append(self._answered(link, incoming.answered, incoming.tag, incoming.message, now))
        frames += link.endpoint.drain(now)
        invalid = [str(incoming.error)] if incoming.error is not None else []
        notes, link.notes = link.notes, []
        return CsmsOutput([(station_id, f) for f in frames], events, answers, invalid, notes)

    def _admitted(self, link: Link) -> bool:
        """Whether this station may send more than BootNotification: its last boot here was Accepted,
        or it has not booted here and the admission policy would accept it. The latter is a station
        that booted with an earlier CSMS process and reconnected (1.6 §4.2: a station boots once, not
        per connection): refusing it would lock a real charger out until someone resets it."""
        admitted = self._registered.get(link.station_id)
        if admitted is None:
            admitted = self.accept_boot is None or self.accept_boot(link.station_id)
            if admitted:
                link.notes.append(
                    "served without a BootNotification seen here: its admission policy accepts it"
                )
            self._registered[link.station_id] = admitted
        return admitted

    def _unregistered(self, link: Link, call: Call) -> str:
        """A request from a station this CSMS has not accepted: refused, nothing recorded. Admission
        (BootNotification, `accept_boot`) must neither be skipped by not booting nor outlived by a
        Rejected station that goes on. OCPP 2.0.1 B02.FR.09 / B03.FR.07 (test case TC_B_30_CSMS):
        until Accepted, the CSMS answers other requests with CALLERROR SecurityError. 1.6 §4.2 forbids
        such requests without naming the answer; OCPP-J 1.6 §4.2.3 table 7 defines the same
        SecurityError, so both versions get it."""
        link.notes.append(
            f"{call.action} refused (SecurityError): the station is not admitted here "
            "(its boot was Rejected, or it has not booted and the admission policy refuses it)"
        )
        return link.endpoint.reply_error(
            call.unique_id, "SecurityError", f"{call.action} before an accepted boot"
        )

    # -- CSMS-initiated CALLs --------------------------------------------------------------------
    def call(self, station_id: str, action: str, payload: Payload, now: datetime) -> tuple[str, CsmsOutput]:
        """Queue a CALL to a connected station; returns its reference (in the `CallAnswered`). An
        invalid payload raises LocalProtocolError before anything is queued."""
        link = self._links[station_id]
        link.endpoint.codec.check_call(action, payload)  # raise now, before anything is queued
        self._calls += 1
        ref = f"{self.cpo_id[-20:]}-C{self._calls}"
        token = _remote_token(action, payload)
        if token is not None and self.authorize is None:
            # A start the CSMS asks for itself (e.g. an OCPI START_SESSION) is authorized already:
            # the transaction's start must not be refused for want of an Authorize.
            self._decisions[token.casefold()] = True
        link.endpoint.call(action, payload, tag=ref)
        frames = link.endpoint.drain(now)
        return ref, CsmsOutput([(station_id, f) for f in frames])

    def version_of(self, station_id: str) -> OcppVersion | None:
        """The OCPP version of a station that has connected (None: never connected)."""
        link = self._links.get(station_id)
        return link.version if link is not None else None

    def in_flight_since(self, station_id: str) -> datetime | None:
        link = self._links.get(station_id)
        return link.endpoint.sent_at if link is not None and link.endpoint.in_flight else None

    def expire(self, station_id: str, now: datetime) -> CsmsOutput:
        """The CALL in flight to the station timed out: report it, send the next one."""
        link = self._links.get(station_id)
        expired = link.endpoint.expire() if link is not None else None
        if link is None or expired is None:
            return CsmsOutput()
        call, tag = expired
        answers = []
        if isinstance(tag, str):
            answers.append(CallAnswered(tag, station_id, call.action, None, "Timeout", "no answer", now))
        return CsmsOutput([(station_id, f) for f in link.endpoint.drain(now)], answers=answers)

    def _answered(self, link: Link, call: Call, ref: str, message: object, now: datetime) -> CallAnswered:
        if isinstance(message, CallResult):
            return CallAnswered(ref, link.station_id, call.action, message.payload, None, "", now)
        if isinstance(message, CallError):
            code, text = message.error_code, message.error_description
            return CallAnswered(ref, link.station_id, call.action, None, code, text, now)
        return CallAnswered(ref, link.station_id, call.action, None, "InvalidAnswer", "schema", now)

    def on_authorization(self, ref: str, accepted: bool, now: datetime) -> CsmsOutput:
        held = self._held.pop(ref)
        self._decisions[held.token_uid.casefold()] = accepted
        link = self._links.get(held.station_id)
        if link is None or link.endpoint is not held.endpoint:
            return CsmsOutput()  # the station reconnected meanwhile: that CALL is gone with its session
        status = "Accepted" if accepted else _REFUSED
        frame = link.endpoint.reply(held.unique_id, {_INFO_KEY[link.version]: {"status": status}})
        return CsmsOutput([(held.station_id, f) for f in [frame, *link.endpoint.drain(now)]])

    # -- handlers shared by both versions --------------------------------------------------------
    def _boot(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        if self.accept_boot is not None and not self.accept_boot(link.station_id):
            # 1.6 §4.2 / 2.0.1 B03: Rejected, try again after `interval` (never 0 here).
            self._registered[link.station_id] = False
            return {"currentTime": format_utc(now), "interval": _REJECTED_RETRY_S, "status": "Rejected"}
        self._registered[link.station_id] = True
        events.append(StationBooted(link.station_id, link.version, now))
        if self.local_list is not None:
            # Queued behind the boot's answer (on_frame drains after replying): the list goes first
            # thing after the boot, before anything else the CSMS asks.
            for payload in local_list_requests(link.version, self.local_list, self.local_list_per_message):
                self._calls += 1
                link.endpoint.call("SendLocalList", payload, tag=f"{self.cpo_id[-20:]}-L{self._calls}")
        return {"currentTime": format_utc(now), "interval": self.heartbeat_interval_s, "status": "Accepted"}

    def _heartbeat(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        if now != self._clock_at:  # heartbeats bunch at instants: format each instant once
            self._clock_at, self._clock_text = now, format_utc(now)
        return {"currentTime": self._clock_text}

    def _sign_certificate(
        self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]
    ) -> Payload:
        """Sign the station's CSR and send the chain with CertificateSigned after this answer
        (1.6 security extension; 2.0.1 A02.FR.06 / A03): Rejected when it is no valid request."""
        chain = self.ca.sign(payload["csr"], now)
        if chain is None:
            return {"status": "Rejected"}
        kind = {"certificateType": payload["certificateType"]} if "certificateType" in payload else {}
        link.endpoint.call("CertificateSigned", {"certificateChain": chain, **kind})
        return {"status": "Accepted"}

    def _hold(self, link: Link, call: Call, now: datetime, events: list[CsmsEvent]) -> None:
        token = call.payload["idTag"] if link.version == "1.6" else call.payload["idToken"]["idToken"]
        self._refs += 1
        ref = f"{self.cpo_id}-A{self._refs}"
        self._held[ref] = Held(link.station_id, link.endpoint, call.unique_id, token)
        events.append(AuthorizationRequested(ref, link.station_id, token, now))

    def _authorize(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        """Authorize under the local policy (no eMSP attached)."""
        token = payload["idTag"] if link.version == "1.6" else payload["idToken"]["idToken"]
        assert self.authorize is not None
        self._decisions[token.casefold()] = self.authorize(token)
        return {_INFO_KEY[link.version]: self.id_info(link.version, token)}

    def id_info(self, version: OcppVersion, token: str) -> Payload:
        decision = self._decisions.get(token.casefold())
        if decision is None and self.authorize is not None:
            # A start without a prior Authorize (local cache, offline start): the policy decides.
            decision = self._decisions[token.casefold()] = self.authorize(token)
        status = _UNDECIDED[version] if decision is None else ("Accepted" if decision else _REFUSED)
        return {"status": status}

    def take_samples(self, link: Link, tx: str, values: list[Payload], events: list[CsmsEvent]) -> None:
        for value in values:
            energy, power = read_sample(link.version, value)
            if energy is not None:
                at = event_time(value, "timestamp", datetime.min)
                begun = link.begun.get(tx)
                if begun is not None and at is not datetime.min and at < begun[1]:
                    # 2.0.1 E01/E02 (1.6 StartTransaction alike): the transaction begins at its
                    # start's timestamp, its register then the start reading (Transaction.Begin); a
                    # reading taken before is no energy of the transaction (J02: samples taken during
                    # it). Counted, it would put the session's first period before its start (and a
                    # register below the start reading would make its energy negative).
                    link.notes.append(
                        f"meter value of {format_utc(at)} for transaction {tx}, before its start"
                        f" {format_utc(begun[1])}: not counted"
                    )
                    continue
                if at is not datetime.min:  # a sample that names no real instant is not evidence
                    latest = link.sampled_at.get(tx)
                    if latest is not None and at < latest:
                        link.notes.append(
                            f"meter value of {format_utc(at)} for transaction {tx}, older than one"
                            " already received: ignored"
                        )
                        continue
                    link.sampled_at[tx] = at
                    events.append(MeterSampled(link.station_id, tx, at, energy, power))
                link.last_energy[tx] = energy

    def charging_changed(
        self, link: Link, tx: str, charging: bool, at: datetime, events: list[CsmsEvent]
    ) -> None:
        if link.charging.get(tx, True) != charging:
            events.append(ChargingStateChanged(link.station_id, tx, charging, at))
        link.charging[tx] = charging

    # -- OCPP 1.6 -------------------------------------------------------------------------------
    def _status16(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        at = event_time(payload, "timestamp", now)
        cid, status = payload["connectorId"], payload["status"]
        events.append(ConnectorStatusChanged(link.station_id, cid, status, at))
        tx = link.by_connector.get(cid)
        if tx is not None and status in ("Charging", "SuspendedEV"):
            self.charging_changed(link, tx, status == "Charging", at, events)
        return {}

    def _start16(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        self._transactions += 1
        tx = str(self._transactions)
        cid, token = payload["connectorId"], payload["idTag"]
        # Answered and recorded all the same (the station has started charging); noted, since the
        # schema allows what 1.6 §6.45 does not: connector 0 is the charge point as a whole.
        if cid <= 0:
            link.notes.append(f"StartTransaction on connectorId {cid}: a transaction needs a connector > 0")
        busy = link.by_connector.get(cid)
        if busy is not None and busy in link.begun:
            link.notes.append(f"StartTransaction on connector {cid}, where transaction {busy} is in progress")
        link.by_connector[cid] = tx
        link.charging[tx] = True
        at = event_time(payload, "timestamp", now)
        link.begun[tx] = (payload["meterStart"], at)
        events.append(TransactionStarted(link.station_id, cid, tx, token, payload["meterStart"], at))
        return {"idTagInfo": self.id_info("1.6", token), "transactionId": self._transactions}

    def _meter16(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        tx_id = payload.get("transactionId")
        tx = str(tx_id) if tx_id is not None else link.by_connector.get(payload["connectorId"])
        if tx is not None and tx not in link.begun:
            # Samples of an ended (or never started) transaction: its meterStop is final.
            link.notes.append(f"MeterValues for transaction {tx}, not in progress: ignored")
        elif tx is not None:
            note_off_outlet(link, f"MeterValues for transaction {tx}", payload["meterValue"])
            self.take_samples(link, tx, payload["meterValue"], events)
        return {}

    def _stop16(self, link: Link, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        tx_id = payload["transactionId"]
        tx = str(tx_id)
        answer = {"idTagInfo": self.id_info("1.6", payload["idTag"])} if "idTag" in payload else {}
        given = self._first_transaction <= tx_id <= self._transactions
        if tx not in link.begun and (given or tx in link.ended):
            # A repeat (a station retrying after a lost answer): it is answered, so the station can
            # go on, but the transaction keeps its first stop.
            link.notes.append(f"StopTransaction for transaction {tx}, not in progress: ignored")
            return answer
        if tx not in link.begun:
            self._learn16(link, tx, payload, events)
            return answer
        link.by_connector = {c: t for c, t in link.by_connector.items() if t != tx}
        link.charging.pop(tx, None)  # the transaction is over: keep nothing per ended transaction
        link.last_energy.pop(tx, None)
        link.sampled_at.pop(tx, None)
        at, meter_stop = end_after_start(
            link, tx, event_time(payload, "timestamp", now), payload["meterStop"]
        )
        # 1.6 §6.49: an absent reason means "Local".
        signed = tuple(r for v in payload.get("transactionData", []) for r in read_signed("1.6", v))
        events.append(
            TransactionEnded(link.station_id, tx, at, meter_stop, payload.get("reason", "Local"), signed)
        )
        return answer

    def _learn16(self, link: Link, tx: str, payload: Payload, events: list[CsmsEvent]) -> None:
        """A StopTransaction for an id this CSMS never gave (it restarted since, or the
        StartTransaction never reached it): the transaction still happened at the station.
        Answered all the same (else the station retries it for ever); its session is taken up
        when its transactionData holds a start: the
        Transaction.Begin reading, else the earliest (energy before it is unknown, so not billed).
        Without one it is only noted: no register to bill from. The connector is not in a stop:
        0, reported on the station's first EVSE."""
        readings: list[tuple[bool, datetime, int]] = []
        for value in payload.get("transactionData", []):
            energy = read_sample("1.6", value)[0]
            if energy is not None:
                begin = any(v.get("context") == "Transaction.Begin" for v in value["sampledValue"])
                readings.append((not begin, event_time(value, "timestamp", datetime.min), energy))
        mark_ended(link, tx)  # a repeat of this stop changes nothing more
        if not readings:
            link.notes.append(
                f"StopTransaction for transaction {tx}, unknown here and without a start reading in its"
                " transactionData: answered, no session"
            )
            return
        _later, start_at, start = min(readings)
        at = event_time(payload, "timestamp", start_at)
        start_at = at if start_at is datetime.min else start_at
        token = payload.get("idTag", "")
        link.notes.append(
            f"StopTransaction for transaction {tx}, unknown here: taken up from its transactionData,"
            f" started {format_utc(start_at)} at {start} Wh"
        )
        events.append(TransactionStarted(link.station_id, 0, tx, token, start, start_at))
        link.begun[tx] = (start, start_at)
        at, meter_stop = end_after_start(link, tx, at, payload["meterStop"])
        signed = tuple(r for v in payload["transactionData"] for r in read_signed("1.6", v))
        events.append(
            TransactionEnded(link.station_id, tx, at, meter_stop, payload.get("reason", "Local"), signed)
        )

    # -- OCPP 2.0.1 ------------------------------------------------------------------------------


_COMMON: dict[str, Handler] = {
    "SignCertificate": Csms._sign_certificate,
    "BootNotification": Csms._boot,
    "Heartbeat": Csms._heartbeat,
    "Authorize": Csms._authorize,  # only with a local policy; otherwise held for the OCPI side
}
_HANDLERS: Mapping[OcppVersion, Mapping[str, Handler]] = {
    "1.6": {
        **_COMMON,
        **UPKEEP["1.6"],
        "StatusNotification": Csms._status16,
        "StartTransaction": Csms._start16,
        "MeterValues": Csms._meter16,
        "StopTransaction": Csms._stop16,
    },
    "2.0.1": {
        **_COMMON,
        **UPKEEP["2.0.1"],
        "StatusNotification": status201,
        "TransactionEvent": transaction_event,
        "MeterValues": meter201,
    },
}


def call_problem(version: OcppVersion, action: str, payload: Payload) -> str | None:
    """Why the CSMS cannot send this CALL to a station of `version` (None: it can): a message only
    stations send, an action the version lacks, or a payload outside its schema."""
    station_sent = action in _HANDLERS[version] or action in ACKS[version]
    if station_sent and action != "DataTransfer":  # DataTransfer: the one message both sides send
        return f"{action} is sent by stations, not by the CSMS"
    try:
        Codec(version).check_call(action, payload)
    except LocalProtocolError as exc:
        return str(exc)
    return None
