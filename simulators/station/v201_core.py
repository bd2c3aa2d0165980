"""OCPP 2.0.1 virtual station: the 2.0.1 wire form of the shared station, all but the table of its
CALL handlers (v201.py adds it). The handlers (v201_calls, v201_upkeep, v201_report) take this
class: so they and the station module do not import each other.

One connector per EVSE: the bench's connector id is the EVSE id and connectorId is always 1.
Transactions use the default TxStartPoint/TxStopPoint (2.0.1 E01/E06: EVConnected + Authorized):
the transaction starts when the authorization arrives and ends when the cable is unplugged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar

from emsp.timeutil import format_utc
from simulators.ocppj import Call, OcppVersion, Payload, Tag
from simulators.ocppj.meter import meter_value
from simulators.station.base import Connector, SampleReason, Session, StopCause, VirtualStation
from simulators.station.states import ConnectorState

S = ConnectorState
# ConnectorStatusEnumType: all in-use states are "Occupied"; the detail goes in chargingState.
STATUS: Mapping[ConnectorState, str] = MappingProxyType(
    {
        s: {S.AVAILABLE: "Available", S.UNAVAILABLE: "Unavailable", S.RESERVED: "Reserved"}.get(s, "Occupied")
        for s in ConnectorState
    }
)
CHARGING_STATE: Mapping[ConnectorState, str] = MappingProxyType(
    {
        S.AVAILABLE: "Idle",
        S.PREPARING: "EVConnected",
        S.CHARGING: "Charging",
        S.SUSPENDED_EV: "SuspendedEV",
        S.FINISHING: "Idle",
        S.UNAVAILABLE: "Idle",
        S.RESERVED: "Idle",
    }
)
TRIGGER: Mapping[SampleReason, str] = MappingProxyType(
    {
        "periodic": "MeterValuePeriodic",
        "ev_full": "ChargingStateChanged",
        "trigger": "Trigger",
        "limit": "ChargingRateChanged",
    }
)
CONTEXT: Mapping[SampleReason, str] = MappingProxyType(
    {"periodic": "Sample.Periodic", "ev_full": "Other", "trigger": "Trigger", "limit": "Other"}
)
# Why a transaction ended: (stoppedReason ReasonEnumType, triggerReason TriggerReasonEnumType). There is
# no unlock reason: 2.0.1 F05 refuses to unlock under an authorized transaction.
STOPPED: Mapping[StopCause, tuple[str, str]] = MappingProxyType(
    {
        # EVCommunicationLost is "cable disconnected"; EVDeparted is for the parking-bay detector
        # (TxStopPoint ParkingBayOccupancy), which a virtual AC station lacks.
        "ev_disconnected": ("EVDisconnected", "EVCommunicationLost"),
        "remote": ("Remote", "RemoteStop"),
        "soft_reset": ("ImmediateReset", "ResetCommand"),
        "hard_reset": ("ImmediateReset", "ResetCommand"),
        "deauthorized": ("DeAuthorized", "Deauthorized"),
        "unlock": ("Other", "UnlockCommand"),
    }
)


class Station201Core(VirtualStation):
    version: ClassVar[OcppVersion] = "2.0.1"
    wire_status = STATUS
    sends = frozenset(
        {
            "Authorize", "BootNotification", "Heartbeat", "MeterValues", "StatusNotification",
            "TransactionEvent", "NotifyReport", "ReportChargingProfiles",
            "FirmwareStatusNotification", "LogStatusNotification", "SecurityEventNotification",
            "SignCertificate", "NotifyMonitoringReport", "NotifyCustomerInformation",
            "NotifyDisplayMessages", "PublishFirmwareStatusNotification", "ReservationStatusUpdate",
        }
    )  # fmt: skip

    def _boot_payload(self, *, reset: bool = False, reason: str | None = None) -> Payload:
        why = reason or self.upkeep.boot_reason or ("RemoteReset" if reset else "PowerUp")
        station = {"model": self.model, "vendorName": self.vendor}
        if self.upkeep.firmware_version:
            station["firmwareVersion"] = self.upkeep.firmware_version
        return {"chargingStation": station, "reason": why}

    def _status_payload(self, connector_id: int, status: str, at: datetime) -> Payload:
        return {
            "timestamp": format_utc(at),
            "connectorStatus": status,
            "evseId": connector_id,
            "connectorId": 1,
        }

    def _authorize_payload(self, token_uid: str) -> Payload:
        return {"idToken": _id_token(token_uid)}

    def _auth_status(self, payload: Payload) -> str:
        return str(payload["idTokenInfo"]["status"])

    def _event(
        self, session: Session, event_type: str, trigger: str, at: datetime, info: Payload, value: Payload
    ) -> Payload:
        payload: Payload = {
            "eventType": event_type,
            "timestamp": format_utc(at),
            "triggerReason": trigger,
            "seqNo": session.seq_no,  # E01: 0 for the first event of a transaction, +1 for each next
            "transactionInfo": {"transactionId": session.transaction_id, **info},
            "meterValue": [value],
        }
        session.seq_no += 1
        if not self.online:
            payload["offline"] = True  # E04: the event happened while the station had no connection
        return payload

    def _reservation_expired(self, reservation_id: int, at: datetime) -> None:
        # H01: the CSMS learns that a reservation ended unused (the status notification says Available).
        payload = {"reservationId": reservation_id, "reservationUpdateStatus": "Expired"}
        self.endpoint.call("ReservationStatusUpdate", payload)

    def _start(self, conn: Connector, session: Session, at: datetime) -> None:
        session.transaction_id = self._new_transaction_id()
        value = meter_value(
            self.version, at, session.meter_start_wh, session.power_at(at), "Transaction.Begin"
        )
        info: Payload = {"chargingState": "Charging"}
        trigger = "Authorized"
        if session.remote_start_id is not None:
            info["remoteStartId"] = session.remote_start_id
            trigger = "RemoteStart"
        payload = self._event(session, "Started", trigger, at, info, value)
        payload["idToken"] = _id_token(session.token_uid)
        payload["evse"] = {"id": conn.connector_id, "connectorId": 1}
        if session.reservation_id is not None:
            payload["reservationId"] = session.reservation_id  # H01: the reservation this start uses
        self.endpoint.call("TransactionEvent", payload, tag=conn.connector_id)

    def _sample(self, conn: Connector, session: Session, at: datetime, reason: SampleReason) -> None:
        value = meter_value(self.version, at, session.reading_wh(at), session.power_at(at), CONTEXT[reason])
        info = {"chargingState": CHARGING_STATE[conn.state]}
        payload = self._event(session, "Updated", TRIGGER[reason], at, info, value)
        self.endpoint.call("TransactionEvent", payload, tag=conn.connector_id)

    def _stop(
        self, conn: Connector, session: Session, at: datetime, meter_stop: int, cause: StopCause
    ) -> None:
        value = meter_value(self.version, at, meter_stop, None, "Transaction.End")
        value = self.signed_final(session, at, meter_stop, value)
        reason, trigger = STOPPED[cause]
        info = {"chargingState": "Idle", "stoppedReason": reason}
        payload = self._event(session, "Ended", trigger, at, info, value)
        self.endpoint.call("TransactionEvent", payload, tag=conn.connector_id)

    def _on_result(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        # E05: a start the CSMS does not accept (Blocked, Invalid, ...) ends the transaction.
        if call.action != "TransactionEvent" or payload is None or not isinstance(tag, int):
            return
        status = payload.get("idTokenInfo", {}).get("status", "Accepted")
        conn = self.connectors[tag]
        tx = call.payload["transactionInfo"]["transactionId"]
        if status != "Accepted" and conn.session is not None and conn.session.transaction_id == tx:
            self.on_deauthorized(conn, now)

    def event(self, conn: Connector, trigger: str, at: datetime) -> None:
        """A TransactionEvent Updated now (TriggerMessage)."""
        session = conn.session
        assert session is not None
        value = meter_value(self.version, at, session.reading_wh(at), session.power_at(at), "Trigger")
        info = {"chargingState": CHARGING_STATE[conn.state]}
        payload = self._event(session, "Updated", trigger, at, info, value)
        self.endpoint.call("TransactionEvent", payload, tag=conn.connector_id)


def _id_token(token_uid: str) -> Payload:
    # RFID cards are ISO 14443 tags (2.0.1 IdTokenEnumType).
    return {"idToken": token_uid, "type": "ISO14443"}
