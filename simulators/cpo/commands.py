"""The mock CPO's Commands Receiver (mod_commands): OCPI commands become CSMS-initiated OCPP calls.

`CommandReceiver.receive` answers the eMSP's POST `{commands}/{command}` at once with a
CommandResponse (ACCEPTED with a timeout, or REJECTED / UNKNOWN_SESSION when the CPO cannot
route it: a station offline, or a call its OCPP version cannot say) and queues a `CommandAction`;
the mock CPO (mock_cpo.py) turns each into the OCPP call of the station's version (`ocpp_call`)
and, when the station answers, `answered` POSTs the CommandResult to the eMSP's `response_url` —
unless the dialect's `command_result` is `timeout_then_session`: then no result is ever sent, while
the station still does what it was told.

A START_SESSION's Token is remembered for the station, so the Session and CDR of the transaction
the station starts name it (with the command's authorization_reference).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from emsp.wire import OutboundRequest
from simulators.cpo.ocpi_party import CpoOutput
from simulators.cpo.versions import CpoWire
from simulators.dialects.profile import DialectProfile
from simulators.ocppj import OcppVersion, Payload
from simulators.ocppj.timestamps import parse_timestamp

COMMAND_TIMEOUT_S = 180  # the CommandResponse's timeout: the station answers well within it


class CommandCpo(Protocol):
    """What the Receiver needs of its CPO (ocpi_cpo.py's OcpiCpo): its wire form and dialect, where
    its sessions and EVSEs are, and to remember a START_SESSION's Token and send a CommandResult.
    A protocol, so this module and ocpi_cpo.py do not import each other."""

    wire: CpoWire
    dialect: DialectProfile
    reservation_stations: dict[int, str]  # our reservation id -> its station

    def transaction_of(self, session_id: str) -> tuple[str, str] | None: ...

    def connector_at(self, location_id: str, evse_uid: Any) -> tuple[str, int] | None: ...

    def remote_start_token(self, station_id: str, token: dict[str, Any], reference: Any) -> None: ...

    def post_command_result(self, url: str, body: dict[str, Any], now: datetime) -> OutboundRequest: ...


@dataclass(frozen=True, slots=True)
class CommandAction:
    """One OCPI command the CPO accepted, to be carried out by a station."""

    kind: str
    response_url: str
    station_id: str
    connector_id: int | None = None
    transaction_id: str | None = None
    token_uid: str | None = None
    token_type: str = "RFID"
    reservation_id: int | None = None
    expiry_date: str | None = None


@dataclass(frozen=True, slots=True)
class CommandSeen:
    """Ground truth: a command the CPO received, what it answered and what it told the eMSP later."""

    at: datetime
    kind: str
    response: str
    result: str | None = None
    result_sent: bool = False


@dataclass(slots=True)
class CommandReceiver:
    cpo: CommandCpo
    # Whether the action's station can be told to carry it out now (set by the mock CPO): it is
    # connected, and the action can be said in its OCPP version (`ocpp_call`).
    can_carry_out: Callable[[CommandAction], bool] = lambda _action: True
    actions: list[CommandAction] = field(default_factory=list)
    seen: list[CommandSeen] = field(default_factory=list)
    _reservations: dict[str, int] = field(default_factory=dict)  # eMSP's reservation_id -> ours

    # ------------------------------------------------------------------ OCPI in
    def receive(self, kind: str, body: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """The CommandResponse (in the CPO's version) to a command POST."""
        response, action = self._decide(kind, body)
        self.seen.append(CommandSeen(now, kind, response))
        if action is not None:
            self.actions.append(action)
        return self.cpo.wire.command_response(response, COMMAND_TIMEOUT_S)

    def take(self) -> list[CommandAction]:
        out, self.actions = self.actions, []
        return out

    def _decide(self, kind: str, body: Mapping[str, Any]) -> tuple[str, CommandAction | None]:
        url = body.get("response_url")
        if not isinstance(url, str) or not url:
            return "REJECTED", None
        if kind == "STOP_SESSION":
            found = self.cpo.transaction_of(str(body.get("session_id", "")))
            if found is None:
                return "UNKNOWN_SESSION", None
            station_id, transaction_id = found
            return self._online(CommandAction(kind, url, station_id, transaction_id=transaction_id))
        if kind == "CANCEL_RESERVATION":
            ours = self._reservations.get(str(body.get("reservation_id")))
            station = self._reservation_station.get(ours) if ours is not None else None
            if ours is None or station is None:
                return "REJECTED", None
            return self._online(CommandAction(kind, url, station, reservation_id=ours))
        where = self.cpo.connector_at(str(body.get("location_id", "")), body.get("evse_uid"))
        if where is None:
            return "REJECTED", None  # mod_commands: an unknown Location/EVSE is refused by the CPO
        station_id, connector_id = where
        token = body.get("token") if isinstance(body.get("token"), Mapping) else None
        if kind == "START_SESSION":
            if token is None or not isinstance(token.get("uid"), str):
                return "REJECTED", None
            self.cpo.remote_start_token(station_id, dict(token), body.get("authorization_reference"))
            action = CommandAction(
                kind, url, station_id, connector_id, token_uid=token["uid"],
                token_type=str(token.get("type", "RFID")),
            )  # fmt: skip
            return self._online(action)
        if kind == "RESERVE_NOW":
            # mod_commands ReserveNow: token, expiry_date and reservation_id are required; without a
            # readable expiry there is nothing to put into the charger's ReserveNow (it sent "None").
            expiry, theirs = body.get("expiry_date"), body.get("reservation_id")
            if token is None or not isinstance(token.get("uid"), str):
                return "REJECTED", None
            if not isinstance(expiry, str) or parse_timestamp(expiry) is None:
                return "REJECTED", None
            if not (isinstance(theirs, str) and theirs) and type(theirs) is not int:  # 2.1.1: an int
                return "REJECTED", None
            # mod_commands: the id sent to the charger is the CPO's own, unique over all eMSPs.
            ours = self._reservations.setdefault(str(theirs), len(self._reservations) + 1)
            self._reservation_station[ours] = station_id
            action = CommandAction(
                kind, url, station_id, connector_id, token_uid=token["uid"],
                token_type=str(token.get("type", "RFID")), reservation_id=ours,
                expiry_date=expiry,
            )  # fmt: skip
            return self._online(action)
        if kind == "UNLOCK_CONNECTOR":
            return self._online(CommandAction(kind, url, station_id, connector_id))
        return "NOT_SUPPORTED", None

    @property
    def _reservation_station(self) -> dict[int, str]:
        return self.cpo.reservation_stations

    def _online(self, action: CommandAction) -> tuple[str, CommandAction | None]:
        if not self.can_carry_out(action):
            return "REJECTED", None  # the CPO cannot reach the charger now, or cannot say it
        return "ACCEPTED", action

    # ------------------------------------------------------------------ OCPP answer -> result
    def answered(self, action: CommandAction, result: str, now: datetime) -> CpoOutput:
        """The station answered (or not): the CommandResult to the eMSP, as the dialect sends it."""
        sent = self.cpo.dialect.command_result == "on_time"
        self.seen.append(CommandSeen(now, action.kind, "ACCEPTED", result, sent))
        if not sent:
            return CpoOutput()
        body = self.cpo.wire.command_result(result)
        return CpoOutput(requests=[self.cpo.post_command_result(action.response_url, body, now)])


# ---------------------------------------------------------------------- OCPP mapping
_ID_TOKEN_TYPE = {"RFID": "ISO14443", "APP_USER": "Central", "AD_HOC_USER": "Central", "OTHER": "Central"}


def ocpp_call(action: CommandAction, version: OcppVersion) -> tuple[str, Payload] | None:
    """The CSMS-initiated call that carries out `action` on a station of `version`; None when that
    version cannot name what the action is about."""
    id_token = {"idToken": action.token_uid or "", "type": _ID_TOKEN_TYPE.get(action.token_type, "Central")}
    if version == "1.6":
        if action.kind == "START_SESSION":
            payload: Payload = {"idTag": action.token_uid}
            if action.connector_id is not None:
                payload["connectorId"] = action.connector_id
            return "RemoteStartTransaction", payload
        if action.kind == "STOP_SESSION":
            transaction_id = ocpp16_transaction_id(action.transaction_id)
            if transaction_id is None:
                return None
            return "RemoteStopTransaction", {"transactionId": transaction_id}
        if action.kind == "RESERVE_NOW":
            return "ReserveNow", {
                "connectorId": action.connector_id or 0,
                "expiryDate": action.expiry_date,
                "idTag": action.token_uid,
                "reservationId": action.reservation_id,
            }
        if action.kind == "CANCEL_RESERVATION":
            return "CancelReservation", {"reservationId": action.reservation_id}
        return "UnlockConnector", {"connectorId": action.connector_id}
    if action.kind == "START_SESSION":
        payload = {"remoteStartId": _remote_start_id(action), "idToken": id_token}
        if action.connector_id is not None:
            payload["evseId"] = action.connector_id
        return "RequestStartTransaction", payload
    if action.kind == "STOP_SESSION":
        return "RequestStopTransaction", {"transactionId": action.transaction_id}
    if action.kind == "RESERVE_NOW":
        payload = {"id": action.reservation_id, "expiryDateTime": action.expiry_date, "idToken": id_token}
        if action.connector_id is not None:
            payload["evseId"] = action.connector_id
        return "ReserveNow", payload
    if action.kind == "CANCEL_RESERVATION":
        return "CancelReservation", {"reservationId": action.reservation_id}
    return "UnlockConnector", {"evseId": action.connector_id, "connectorId": 1}


def ocpp16_transaction_id(text: str | None) -> int | None:
    """A transaction id as OCPP 1.6 says it (an integer), or None. A 1.6 CSMS assigns integers, but a
    station that started a transaction speaking 2.0.1 (any string id) may reconnect speaking 1.6, and
    the transaction carries over (csms.py): that id cannot go into a RemoteStopTransaction."""
    digits = text.removeprefix("-") if text is not None else ""
    if not (digits.isascii() and digits.isdigit()):
        return None  # only ASCII digits: '²'.isdigit() is True, yet int() refuses it
    return int(digits) if digits == text else -int(digits)


def _remote_start_id(action: CommandAction) -> int:
    # Any int the station echoes in its TransactionEvent; the response_url's command id is unique.
    # The eMSP (maybe a real one) chose the URL: only ASCII digits within OCPP's 32-bit integer
    # are taken ('²'.isdigit() is True, yet int() refuses it).
    tail = action.response_url.rstrip("/").rpartition("/")[2]
    if tail.isascii() and tail.isdigit() and len(tail) <= 10 and int(tail) <= 2**31 - 1:
        return int(tail)
    return 1


# What the station's answer means as a CommandResultType (OCPI 2.2.1 values).
_STATUS: dict[str, dict[str, str]] = {
    "START_SESSION": {"Accepted": "ACCEPTED", "Rejected": "REJECTED"},
    "STOP_SESSION": {"Accepted": "ACCEPTED", "Rejected": "REJECTED"},
    "RESERVE_NOW": {
        "Accepted": "ACCEPTED",
        "Occupied": "EVSE_OCCUPIED",
        "Faulted": "EVSE_INOPERATIVE",
        "Unavailable": "EVSE_INOPERATIVE",
        "Rejected": "REJECTED",
    },
    "CANCEL_RESERVATION": {"Accepted": "ACCEPTED", "Rejected": "UNKNOWN_RESERVATION"},
    "UNLOCK_CONNECTOR": {
        "Unlocked": "ACCEPTED",
        "UnlockFailed": "FAILED",
        "NotSupported": "NOT_SUPPORTED",
        "OngoingAuthorizedTransaction": "REJECTED",
        "UnknownConnector": "REJECTED",
    },
}


def result_of(kind: str, payload: Payload | None, error: str | None) -> str:
    """The CommandResultType of a station's answer (or CALLERROR, or no answer at all)."""
    if error is not None:
        if error == "Timeout":
            return "TIMEOUT"
        return "NOT_SUPPORTED" if error in ("NotImplemented", "NotSupported") else "FAILED"
    status = str((payload or {}).get("status", ""))
    return _STATUS.get(kind, {}).get(status, "FAILED")
