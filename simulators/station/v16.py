"""OCPP 1.6J virtual station: the 1.6 wire form of the shared station (Core profile messages)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
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

    @cached_property
    def _starting(self) -> dict[int, list[Session]]:
        """Per connector, the sessions whose StartTransaction is not answered yet, in sending order:
        an answer belongs to the session that sent it, which may have ended meanwhile (the driver
        left before a slow or offline CSMS answered) or been followed by another driver's."""
        return {}

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
        self._starting.setdefault(conn.connector_id, []).append(session)
        self.endpoint.call("StartTransaction", payload, tag=conn.connector_id)

    def _on_result(self, call: Call, payload: Payload | None, tag: Tag, now: datetime) -> None:
        # 1.6: the transaction id is the Central System's (StartTransaction.conf). Calls queued behind
        # StartTransaction build their payload when sent, so they see it. One connector's
        # StartTransactions are answered (or given up) in the order sent: a retry goes out first.
        if call.action != "StartTransaction" or not isinstance(tag, int):
            return
        waiting = self._starting.get(tag)
        if not waiting:
            return
        session = waiting.pop(0)
        if payload is None:
            return  # refused or given up: the transaction never existed for the CSMS
        session.transaction_id = str(payload["transactionId"])
        conn = self.connectors[tag]
        if conn.session is not session:
            # Already ended (its StopTransaction and MeterValues wait in the queue and now carry the id).
            self._late_transaction_id(tag, session)
        elif payload["idTagInfo"]["status"] != "Accepted":
            self.on_deauthorized(conn, now)

    def _late_transaction_id(self, connector_id: int, session: Session) -> None:
        # The visit's truth was recorded without a transaction id: it learns the CSMS's (the latest
        # record of that connector and plug-in; a late answer comes soon after the visit).
        for i in range(len(self.truth) - 1, -1, -1):
            t = self.truth[i]
            if t.connector_id == connector_id and t.plugged_at == session.plugged_at and t.authorized:
                if t.transaction_id is None:
                    self.truth[i] = t.with_transaction(session.transaction_id)
                return

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
