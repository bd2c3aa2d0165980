"""OCPP 1.6J virtual station: the 1.6 wire form of the shared station (Core profile messages)."""

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
from simulators.station.v16_calls import HANDLERS
from simulators.station.v16_upkeep import HANDLERS as UPKEEP

S = ConnectorState
# 1.6 §7.7 ChargePointStatus.
STATUS: Mapping[ConnectorState, str] = MappingProxyType(
    {
        S.AVAILABLE: "Available",
        S.PREPARING: "Preparing",
        S.CHARGING: "Charging",
        S.SUSPENDED_EV: "SuspendedEV",
        S.FINISHING: "Finishing",
        S.UNAVAILABLE: "Unavailable",
        S.RESERVED: "Reserved",
    }
)
CONTEXT: Mapping[SampleReason, str] = MappingProxyType(
    {"periodic": "Sample.Periodic", "ev_full": "Other", "trigger": "Trigger", "limit": "Other"}
)
# 1.6 §7.36 Reason.
REASON: Mapping[StopCause, str] = MappingProxyType(
    {
        "ev_disconnected": "EVDisconnected",
        "remote": "Remote",
        "soft_reset": "SoftReset",
        "hard_reset": "HardReset",
        "deauthorized": "DeAuthorized",
        "unlock": "UnlockCommand",
    }
)


class Station16(VirtualStation):
    version: ClassVar[OcppVersion] = "1.6"
    wire_status = STATUS
    handlers = MappingProxyType({**HANDLERS, **UPKEEP})
    sends = frozenset(
        {
            "Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction",
            "StatusNotification", "StopTransaction", "DiagnosticsStatusNotification",
            "FirmwareStatusNotification", "SignedFirmwareStatusNotification",
            "LogStatusNotification", "SecurityEventNotification", "SignCertificate",
        }
    )  # fmt: skip

    def _boot_payload(self, *, reset: bool = False) -> Payload:
        firmware = self.upkeep.firmware_version
        return {
            "chargePointVendor": self.vendor,
            "chargePointModel": self.model,
            **({"firmwareVersion": firmware} if firmware else {}),
        }

    def _status_payload(self, connector_id: int, status: str, at: datetime) -> Payload:
        return {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": format_utc(at),
        }

    def _authorize_payload(self, token_uid: str) -> Payload:
        return {"idTag": token_uid}

    def _auth_status(self, payload: Payload) -> str:
        return str(payload["idTagInfo"]["status"])

    def _start(self, conn: Connector, session: Session, at: datetime) -> None:
        payload = {
            "connectorId": conn.connector_id,
            "idTag": session.token_uid,
            "meterStart": session.meter_start_wh,
            "timestamp": format_utc(at),
        }
        if session.reservation_id is not None:
            payload["reservationId"] = session.reservation_id  # §5.13: the reservation this start uses
        self.endpoint.call("StartTransaction", payload, tag=conn.connector_id)

    def _on_result(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        # 1.6: the transaction id is the Central System's (StartTransaction.conf). Calls queued behind
        # StartTransaction build their payload when sent, so they see it.
        if call.action == "StartTransaction" and payload is not None and isinstance(tag, int):
            session = self.connectors[tag].session
            if session is not None and session.started_at is not None:
                session.transaction_id = str(payload["transactionId"])
                if payload["idTagInfo"]["status"] != "Accepted":
                    self.on_deauthorized(self.connectors[tag], now)

    def _sample(self, conn: Connector, session: Session, at: datetime, reason: SampleReason) -> None:
        value = meter_value(self.version, at, session.reading_wh(at), session.power_at(at), CONTEXT[reason])

        def build() -> Payload:
            payload: Payload = {"connectorId": conn.connector_id}
            if session.transaction_id is not None:
                payload["transactionId"] = int(session.transaction_id)
            payload["meterValue"] = [value]
            return payload

        self.endpoint.call("MeterValues", build)

    def _stop(
        self, conn: Connector, session: Session, at: datetime, meter_stop: int, cause: StopCause
    ) -> None:
        final = meter_value(self.version, at, meter_stop, None, "Transaction.End")
        final = self.signed_final(session, at, meter_stop, final)

        def build() -> Payload | None:
            if session.transaction_id is None:
                return None  # StartTransaction was never confirmed: there is no transaction to stop
            return {
                "idTag": session.token_uid,
                "meterStop": meter_stop,
                "timestamp": format_utc(at),
                "transactionId": int(session.transaction_id),
                "reason": REASON[cause],
                "transactionData": [final],
            }

        self.endpoint.call("StopTransaction", build)
