"""Cases with the CSMS under test: the bench plays a station (`StationSide`) on a fresh connection
per case.

Ids: OCA test-case ids where the OCTT lists confirm them (1.6 `TC_nnn[_n]_CSMS`, 2.0.1
`TC_X_nn_CSMS`); otherwise `REQ_<spec reference>_<what>_CSMS`, named after the requirement the case
exercises (1.6 section, 2.0.1 use case), and the case's docstring says so.

Most cases here need nothing of the CSMS's operator: the station sends, the CSMS answers. Two wait
for a CSMS-initiated CALL (up to PUSH_WAIT_S): the local list pushed after the boot (the mock CSMS's
`local_list` policy pushes; another CSMS's operator triggers it within the wait) and the
CertificateSigned that follows an accepted SignCertificate.
"""

from __future__ import annotations

from typing import Any

from bench.conformance.peer import Payload, now_text
from bench.conformance.registry import DOWN, UP, StationSide, case, expect, versions
from simulators.ocppj.codec import OcppVersion
from simulators.station.upkeep import csr_pem

PUSH_WAIT_S = 10.0  # how long a case waits for a CALL of the CSMS (SendLocalList, CertificateSigned)


def _register(version: OcppVersion, ids: dict[str, str]) -> None:
    v16 = version == "1.6"

    @case(
        ids["boot"],
        version,
        "csms",
        "Cold boot: BootNotification accepted, status and heartbeat answered",
        ("BootNotification", UP),
        ("StatusNotification", UP),
        ("Heartbeat", UP),
    )
    async def _cold_boot(s: StationSide) -> None:
        answer = await s.boot()
        expect(int(answer["interval"]) >= 0, f"interval {answer['interval']} is negative")
        await s.status("Available")
        beat = await s.peer.call("Heartbeat", {})
        expect(bool(beat.get("currentTime")), "Heartbeat answer without currentTime")

    @case(ids["auth"], version, "csms", "Authorize a valid token: Accepted", ("Authorize", UP))
    async def _authorize_ok(s: StationSide) -> None:
        """No OCTT case is only this exchange (1.6 §4.1 / 2.0.1 C01): named after the requirement."""
        await s.boot()
        status = await s.authorize(s.token)
        expect(status == "Accepted", f"token {s.token} answered {status}, expected Accepted")

    @case(ids["auth_bad"], version, "csms", "Authorize an unknown token: not Accepted", ("Authorize", UP))
    async def _authorize_invalid(s: StationSide) -> None:
        """2.0.1 (C01): no confirmed OCTT id, named after the requirement."""
        await s.boot()
        status = await s.authorize(s.invalid_token)
        expect(status != "Accepted", f"unknown token {s.invalid_token} was Accepted")

    tx_messages: tuple[tuple[str, str], ...] = (
        (("StartTransaction", UP), ("MeterValues", UP), ("StopTransaction", UP))
        if v16
        else (("TransactionEvent", UP),)
    )

    @case(
        ids["session"],
        version,
        "csms",
        "A charging session, cable plugged in first: authorize, start, meter values, stop",
        ("Authorize", UP),
        ("StatusNotification", UP),
        *tx_messages,
    )
    async def _session_plug_first(s: StationSide) -> None:
        """2.0.1 (E02, cable plugin first): no confirmed OCTT id, named after the requirement."""
        await s.boot()
        await s.status("Preparing" if v16 else "Occupied")
        expect(await s.authorize(s.token) == "Accepted", f"token {s.token} not Accepted")
        await _transaction(s, s.token)

    @case(
        ids["session_id_first"],
        version,
        "csms",
        "A charging session, identification first: authorize, plug in, start, stop",
        ("Authorize", UP),
        ("StatusNotification", UP),
        *tx_messages,
    )
    async def _session_id_first(s: StationSide) -> None:
        """2.0.1 (E03, IdToken first): no confirmed OCTT id, named after the requirement."""
        await s.boot()
        expect(await s.authorize(s.token) == "Accepted", f"token {s.token} not Accepted")
        await s.status("Preparing" if v16 else "Occupied")
        await _transaction(s, s.token)
        await s.status("Available")

    @case(
        ids["start_invalid"],
        version,
        "csms",
        "A transaction started with an unknown token: its idTagInfo/idTokenInfo is not Accepted",
        *tx_messages,
    )
    async def _start_invalid(s: StationSide) -> None:
        """1.6 §4.8 / 2.0.1 E05 (a start the station could not authorize first, e.g. offline): the
        CSMS must say the token is not valid. Named after the requirement."""
        await s.boot()
        await _transaction(s, s.invalid_token, expect_accepted=False)

    @case(ids["data"], version, "csms", "DataTransfer to the CSMS: a valid answer", ("DataTransfer", UP))
    async def _data_transfer(s: StationSide) -> None:
        """2.0.1 (P02, data transfer to the CSMS): no confirmed OCTT id, named after the requirement."""
        await s.boot()
        answer = await s.peer.call("DataTransfer", {"vendorId": "emsp-bench", "messageId": "conformance"})
        expect("status" in answer, "DataTransfer answer without status")

    @case(ids["meter"], version, "csms", "MeterValues outside a transaction: answered", ("MeterValues", UP))
    async def _meter_values(s: StationSide) -> None:
        """1.6 §4.7 / 2.0.1 J01: clock-aligned values of the main meter, no transaction. Named after
        the requirement."""
        await s.boot()
        sample = {"value": "12345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        if v16:
            await s.peer.call(
                "MeterValues",
                {
                    "connectorId": 0,
                    "meterValue": [
                        {"timestamp": now_text(), "sampledValue": [{**sample, "context": "Sample.Clock"}]}
                    ],
                },
            )
        else:
            value = {"value": 12345, "measurand": "Energy.Active.Import.Register", "context": "Sample.Clock"}
            await s.peer.call(
                "MeterValues",
                {"evseId": 0, "meterValue": [{"timestamp": now_text(), "sampledValue": [value]}]},
            )

    @case(
        ids["faulted"],
        version,
        "csms",
        "StatusNotification Faulted with an error code: answered",
        ("StatusNotification", UP),
    )
    async def _faulted(s: StationSide) -> None:
        """1.6 §4.9 / 2.0.1 G05 (connector faulted, then available again). Named after the requirement."""
        await s.boot()
        if v16:
            await s.status("Faulted", error="GroundFailure")
        else:
            await s.status("Faulted")
        await s.status("Available")

    firmware_status = "FirmwareStatusNotification"

    @case(
        ids["firmware"],
        version,
        "csms",
        "FirmwareStatusNotification, each status of an update: answered",
        (firmware_status, UP),
    )
    async def _firmware_status(s: StationSide) -> None:
        """The notifications of 1.6 §4.5 / 2.0.1 L01 as a station sends them during an update; the
        UpdateFirmware that starts it needs the CSMS's operator and is not part of this case. Named
        after the requirement."""
        await s.boot()
        statuses = ["Downloading", "Downloaded", "Installing", "Installed"]
        if not v16:
            statuses = [
                "Downloading",
                "Downloaded",
                "SignatureVerified",
                "Installing",
                "InstallRebooting",
                "Installed",
            ]
        for status in statuses:
            await s.peer.call(
                firmware_status, {"status": status} if v16 else {"status": status, "requestId": 1}
            )

    @case(
        ids["security_event"],
        version,
        "csms",
        "SecurityEventNotification: answered",
        ("SecurityEventNotification", UP),
    )
    async def _security_event(s: StationSide) -> None:
        """1.6 security whitepaper / 2.0.1 A04: a station reports a security event. Named after the
        requirement."""
        await s.boot()
        await s.peer.call(
            "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": now_text()}
        )

    @case(
        ids["log"],
        version,
        "csms",
        "LogStatusNotification Uploading, Uploaded: answered",
        ("LogStatusNotification", UP),
    )
    async def _log_status(s: StationSide) -> None:
        """The notifications of a log upload (1.6 security whitepaper GetLog / 2.0.1 N01); the
        GetLog that starts it needs the CSMS's operator. Named after the requirement."""
        await s.boot()
        for status in ("Uploading", "Uploaded"):
            await s.peer.call("LogStatusNotification", {"status": status, "requestId": 1})

    @case(
        ids["local_list"],
        version,
        "csms",
        "The CSMS pushes a local authorization list: Full, every entry with its authorization info",
        ("SendLocalList", DOWN),
    )
    async def _local_list_push(s: StationSide) -> None:
        """2.0.1 (D01): no confirmed OCTT id, named after the requirement. The bench answers
        Accepted. Waits PUSH_WAIT_S after the boot: the mock CSMS's local_list
        policy pushes at once; another CSMS's operator triggers the push within that time."""
        since = len(s.peer.calls)
        await s.boot()
        call = await s.peer.expect("SendLocalList", since=since, timeout=PUSH_WAIT_S)
        entries = call.payload.get("localAuthorizationList", [])
        info = "idTagInfo" if v16 else "idTokenInfo"
        expect(
            call.payload["updateType"] == "Full", f"updateType {call.payload['updateType']}, expected Full"
        )
        expect(all(info in e for e in entries), f"an entry without {info}: {entries}")

    @case(
        ids["sign"],
        version,
        "csms",
        "SignCertificate with a CSR: Accepted, then the signed chain comes with CertificateSigned",
        ("SignCertificate", UP),
        ("CertificateSigned", DOWN),
    )
    async def _sign_certificate(s: StationSide) -> None:
        """1.6 security whitepaper / 2.0.1 A02 (the station renews its certificate): no confirmed OCTT id,
        named after the requirement. The bench accepts the chain without checking it."""
        since = len(s.peer.calls)
        await s.boot()
        request: Payload = {"csr": csr_pem(s.station_id, "emsp-bench")}
        if not v16:
            request["certificateType"] = "ChargingStationCertificate"
        answer = await s.peer.call("SignCertificate", request)
        expect(answer["status"] == "Accepted", f"SignCertificate answered {answer['status']}")
        call = await s.peer.expect("CertificateSigned", since=since, timeout=PUSH_WAIT_S)
        chain = call.payload["certificateChain"]
        expect("BEGIN CERTIFICATE" in chain, "CertificateSigned without a PEM certificate")

    if v16:

        @case(
            "REQ_SEC_SignedFirmwareStatus_CSMS",
            version,
            "csms",
            "SignedFirmwareStatusNotification, each status of a signed update: answered",
            ("SignedFirmwareStatusNotification", UP),
        )
        async def _signed_firmware_status(s: StationSide) -> None:
            """1.6 security whitepaper (secure firmware update): no confirmed OCTT id, named after the
            requirement. The SignedUpdateFirmware that starts it needs the CSMS's operator."""
            await s.boot()
            for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"):
                await s.peer.call("SignedFirmwareStatusNotification", {"status": status, "requestId": 1})

    if not v16:

        @case(
            "REQ_N_NotifyEvent_CSMS",
            version,
            "csms",
            "NotifyEvent of a monitored variable: answered",
            ("NotifyEvent", UP),
        )
        async def _notify_event(s: StationSide) -> None:
            """Block N (monitoring events): no confirmed OCTT id, named after the requirement."""
            await s.boot()
            event = {
                "eventId": 1,
                "timestamp": now_text(),
                "trigger": "Delta",
                "actualValue": "Faulted",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "Connector"},
                "variable": {"name": "AvailabilityState"},
            }
            await s.peer.call("NotifyEvent", {"generatedAt": now_text(), "seqNo": 0, "eventData": [event]})

        @case(
            "REQ_K_ExternalChargingLimit_CSMS",
            version,
            "csms",
            "NotifyChargingLimit, then ClearedChargingLimit, of an external system: answered",
            ("NotifyChargingLimit", UP),
            ("ClearedChargingLimit", UP),
        )
        async def _external_limit(s: StationSide) -> None:
            """Block K (a limit set by an external system, e.g. the grid operator, and its end): no
            confirmed OCTT id, named after the requirement."""
            await s.boot()
            await s.peer.call("NotifyChargingLimit", {"chargingLimit": {"chargingLimitSource": "SO"}})
            await s.peer.call("ClearedChargingLimit", {"chargingLimitSource": "SO"})

        @case(
            "REQ_H_ReservationStatusUpdate_CSMS",
            version,
            "csms",
            "ReservationStatusUpdate Expired: answered",
            ("ReservationStatusUpdate", UP),
        )
        async def _reservation_update(s: StationSide) -> None:
            """Block H (a reservation that expired unused): no confirmed OCTT id, named after the
            requirement."""
            await s.boot()
            await s.peer.call(
                "ReservationStatusUpdate", {"reservationId": 1, "reservationUpdateStatus": "Expired"}
            )

    if not v16:

        @case(
            "REQ_B07_NotifyReport_CSMS",
            version,
            "csms",
            "NotifyReport of a base report: answered",
            ("NotifyReport", UP),
        )
        async def _notify_report(s: StationSide) -> None:
            """B07: the report a station sends after GetBaseReport (which needs the CSMS's operator).
            Named after the requirement."""
            await s.boot()
            data = [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                    "variableAttribute": [{"type": "Actual", "value": "300"}],
                }
            ]
            await s.peer.call(
                "NotifyReport",
                {"requestId": 1, "generatedAt": now_text(), "seqNo": 0, "tbc": False, "reportData": data},
            )

        @case(
            "REQ_L03_PublishFirmwareStatus_CSMS",
            version,
            "csms",
            "PublishFirmwareStatusNotification up to Published: answered",
            ("PublishFirmwareStatusNotification", UP),
        )
        async def _publish_status(s: StationSide) -> None:
            """L03: a Local Controller reports publishing an image (the PublishFirmware that starts it
            needs the CSMS's operator). Named after the requirement."""
            await s.boot()
            for status in ("Downloading", "Downloaded", "ChecksumVerified", "Published"):
                payload: Payload = {"status": status, "requestId": 1}
                if status == "Published":
                    payload["location"] = ["http://lc.example/firmware/fw.bin"]
                await s.peer.call("PublishFirmwareStatusNotification", payload)


async def _transaction(s: StationSide, token: str, *, expect_accepted: bool = True) -> None:
    """Start, one meter value, stop on connector/EVSE 1; the start's token status checked."""
    if s.v16:
        started = await s.peer.call(
            "StartTransaction", {"connectorId": 1, "idTag": token, "meterStart": 0, "timestamp": now_text()}
        )
        status = started["idTagInfo"]["status"]
        _check_start(status, token, expect_accepted)
        tx = started["transactionId"]
        sample = {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        await s.peer.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": tx,
                "meterValue": [{"timestamp": now_text(), "sampledValue": [sample]}],
            },
        )
        await s.peer.call(
            "StopTransaction",
            {
                "transactionId": tx,
                "meterStop": 3000,
                "timestamp": now_text(),
                "idTag": token,
                "reason": "EVDisconnected",
            },
        )
        return
    tx_id = f"conf-{s.station_id}-{s.peer.next_transaction()}"

    def event(kind: str, seq: int, trigger: str, wh: int, **extra: Any) -> Payload:
        info = {"transactionId": tx_id, "chargingState": "Charging" if kind != "Ended" else "Idle"}
        if kind == "Ended":
            info["stoppedReason"] = "EVDisconnected" if expect_accepted else "DeAuthorized"
        meter = [
            {
                "timestamp": now_text(),
                "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
            }
        ]
        return {
            "eventType": kind,
            "timestamp": now_text(),
            "triggerReason": trigger,
            "seqNo": seq,
            "transactionInfo": info,
            "meterValue": meter,
            **extra,
        }

    token_payload = {"idToken": token, "type": "ISO14443"}
    started = await s.peer.call(
        "TransactionEvent",
        event("Started", 0, "Authorized", 0, idToken=token_payload, evse={"id": 1, "connectorId": 1}),
    )
    _check_start(started.get("idTokenInfo", {}).get("status", "Accepted"), token, expect_accepted)
    await s.peer.call("TransactionEvent", event("Updated", 1, "MeterValuePeriodic", 1500))
    await s.peer.call(
        "TransactionEvent",
        event("Ended", 2, "EVCommunicationLost" if expect_accepted else "Deauthorized", 3000),
    )


def _check_start(status: str, token: str, expect_accepted: bool) -> None:
    if expect_accepted:
        expect(status == "Accepted", f"start with {token}: {status}, expected Accepted")
    else:
        expect(status != "Accepted", f"start with the unknown token {token} was Accepted")


# Case ids per version (1.6, 2.0.1) for the cases `_register` defines.
IDS: tuple[dict[str, str], dict[str, str]] = (
    {
        "boot": "TC_001_CSMS",
        "auth": "REQ_4.1_Authorize_CSMS",
        "auth_bad": "TC_023_1_CSMS",
        "session": "TC_003_CSMS",
        "session_id_first": "TC_004_1_CSMS",
        "start_invalid": "REQ_4.8_StartInvalidToken_CSMS",
        "data": "TC_064_CSMS",
        "meter": "REQ_4.7_MeterValues_CSMS",
        "faulted": "REQ_4.9_StatusFaulted_CSMS",
        "firmware": "REQ_4.5_FirmwareStatus_CSMS",
        "security_event": "REQ_SEC_SecurityEvent_CSMS",
        "log": "REQ_SEC_LogStatus_CSMS",
        "sign": "REQ_SEC_SignCertificate_CSMS",
        "local_list": "TC_043_4_CSMS",
    },
    {
        "boot": "TC_B_01_CSMS",
        "auth": "REQ_C01_Authorize_CSMS",
        "auth_bad": "REQ_C01_AuthorizeUnknown_CSMS",
        "session": "REQ_E02_TransactionPlugFirst_CSMS",
        "session_id_first": "REQ_E03_TransactionIdFirst_CSMS",
        "start_invalid": "REQ_E05_StartInvalidToken_CSMS",
        "data": "REQ_P02_DataTransfer_CSMS",
        "meter": "REQ_J01_MeterValues_CSMS",
        "faulted": "REQ_G05_StatusFaulted_CSMS",
        "firmware": "REQ_L01_FirmwareStatus_CSMS",
        "security_event": "REQ_A04_SecurityEvent_CSMS",
        "log": "REQ_N01_LogStatus_CSMS",
        "sign": "REQ_A02_SignCertificate_CSMS",
        "local_list": "REQ_D01_LocalListPush_CSMS",
    },
)


def register() -> None:
    """Register this module's cases (bench.conformance.cases calls it, in run order)."""
    for version, ids in zip(versions(), IDS, strict=True):
        _register(version, ids)
