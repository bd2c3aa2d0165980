"""Cases with the station under test beyond the core: local authorization list, reservation, device
model reports, logs, certificates, display messages and firmware. Run after the core cases on the
station's (reconnected) connection; the firmware update goes last (it ends in a reboot).

Jobs that take the station time (uploads, downloads) are checked up to their first notification:
what follows comes after the station's own durations, which a conformance run does not wait out.
Ids as in `cases_station`: OCA ids where confirmed, else `REQ_<reference>_<what>_CS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bench.conformance.peer import Payload
from bench.conformance.registry import DOWN, UP, CsmsSide, call_ok, case, expect, versions
from simulators.ocppj.codec import OcppVersion


def _in(seconds: int) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _certificate() -> str:
    """A self-signed root certificate for the install/delete case (made per run: nothing to keep)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emsp-bench conformance root")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode("ascii")


def _register(version: OcppVersion, ids: dict[str, str]) -> None:
    v16 = version == "1.6"
    key = "listVersion" if v16 else "versionNumber"

    def entry(token: str) -> Payload:
        if v16:
            return {"idTag": token, "idTagInfo": {"status": "Accepted"}}
        return {"idToken": {"idToken": token, "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}

    def send_list(number: int, full: bool, tokens: list[str]) -> Payload:
        payload: Payload = {key: number, "updateType": "Full" if full else "Differential"}
        if tokens:
            payload["localAuthorizationList"] = [entry(t) for t in tokens]
        return payload

    async def list_version(c: CsmsSide) -> int:
        return int((await c.peer.call("GetLocalListVersion", {}))[key])

    if v16:

        @case(
            "TC_042_2_CS",
            version,
            "station",
            "An empty full local list: Accepted, version reads 0",
            ("SendLocalList", DOWN),
            ("GetLocalListVersion", DOWN),
        )
        async def _empty_list(c: CsmsSide) -> None:
            await call_ok(c, "SendLocalList", send_list(1, True, []))
            version_read = await list_version(c)
            expect(version_read == 0, f"an empty list's version reads {version_read}, expected 0")

    @case(
        ids["local_list"],
        version,
        "station",
        "SendLocalList Full then Differential: both Accepted, the version follows",
        ("SendLocalList", DOWN),
        ("GetLocalListVersion", DOWN),
    )
    async def _local_list(c: CsmsSide) -> None:
        """2.0.1 (D01, D02): no confirmed OCTT id, named after the requirements. Also D02
        (GetLocalListVersion) on 2.0.1; a full empty list clears it afterwards."""
        await call_ok(c, "SendLocalList", send_list(1, True, ["CONF-LIST-A"]))
        expect(await list_version(c) == 1, "the version does not read 1 after a full update to 1")
        await call_ok(c, "SendLocalList", send_list(2, False, ["CONF-LIST-B"]))
        expect(await list_version(c) == 2, "the version does not read 2 after a differential update to 2")
        await call_ok(c, "SendLocalList", send_list(1, True, []))

    @case(
        ids["list_mismatch"],
        version,
        "station",
        "A differential local list update that does not move the version forward: VersionMismatch",
        ("SendLocalList", DOWN),
        ("GetLocalListVersion", DOWN),
    )
    async def _list_mismatch(c: CsmsSide) -> None:
        """2.0.1 (D01): no confirmed OCTT id, named after the requirement. Full to 2, differential
        to 5, then differential to 4: refused, the version stays 5."""
        await call_ok(c, "SendLocalList", send_list(2, True, ["CONF-LIST-A"]))
        await call_ok(c, "SendLocalList", send_list(5, False, ["CONF-LIST-B"]))
        expect(await list_version(c) == 5, "the version does not read 5")
        await call_ok(c, "SendLocalList", send_list(4, False, ["CONF-LIST-C"]), "VersionMismatch")
        expect(await list_version(c) == 5, "a refused update changed the version")
        await call_ok(c, "SendLocalList", send_list(1, True, []))

    def reserve(reservation_id: int, connector: int) -> Payload:
        if v16:
            return {
                "connectorId": connector,
                "expiryDate": _in(3600),
                "idTag": "CONF-RESERVE",
                "reservationId": reservation_id,
            }
        return {
            "id": reservation_id,
            "expiryDateTime": _in(3600),
            "evseId": connector,
            "idToken": {"idToken": "CONF-RESERVE", "type": "ISO14443"},
        }

    def status_of(connector: int, status: str) -> Callable[[Payload], bool]:
        if v16:
            return lambda p: p["connectorId"] == connector and p["status"] == status
        return lambda p: p["evseId"] == connector and p["connectorStatus"] == status

    @case(
        ids["reserve"],
        version,
        "station",
        "ReserveNow on a free connector: Accepted, Reserved reported; "
        "CancelReservation: Accepted, Available again",
        ("ReserveNow", DOWN),
        ("StatusNotification", UP),
        ("CancelReservation", DOWN),
    )
    async def _reserve_cancel(c: CsmsSide) -> None:
        """2.0.1 (H01, H02): no confirmed OCTT id, named after the requirements."""
        since = len(c.peer.calls)
        await call_ok(c, "ReserveNow", reserve(4001, 1))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        since = len(c.peer.calls)
        await call_ok(c, "CancelReservation", {"reservationId": 4001})
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Available"))

    @case(
        ids["reserve_expire"],
        version,
        "station",
        "A reservation not used before its expiry: Reserved, then Available",
        ("ReserveNow", DOWN),
        ("StatusNotification", UP),
        *(() if v16 else (("ReservationStatusUpdate", UP),)),
    )
    async def _reserve_expire(c: CsmsSide) -> None:
        """2.0.1 (H01, and the ReservationStatusUpdate Expired it sends): no confirmed OCTT id, named
        after the requirement. The reservation expires within a second: the case's only wait."""
        since = len(c.peer.calls)
        request = reserve(4004, 1)
        request["expiryDate" if v16 else "expiryDateTime"] = _in(1)  # within the next second
        await call_ok(c, "ReserveNow", request)
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Available"))
        if not v16:
            update = await c.peer.expect("ReservationStatusUpdate", since=since)
            expect(
                update.payload == {"reservationId": 4004, "reservationUpdateStatus": "Expired"},
                f"ReservationStatusUpdate {update.payload}",
            )

    start_action = "RemoteStartTransaction" if v16 else "RequestStartTransaction"
    stop_action = "RemoteStopTransaction" if v16 else "RequestStopTransaction"
    started_action = "StartTransaction" if v16 else "TransactionEvent"

    @case(
        ids["reserve_start"],
        version,
        "station",
        "A reserved connector started remotely for its token: the start names the reservation",
        ("ReserveNow", DOWN),
        (start_action, DOWN),
        (started_action, UP),
        (stop_action, DOWN),
    )
    async def _reserve_start(c: CsmsSide) -> None:
        """2.0.1 (block H, using a reservation): no confirmed OCTT id, named after the requirement. The
        transaction is stopped remotely afterwards."""
        since = len(c.peer.calls)
        await call_ok(c, "ReserveNow", reserve(4003, 1))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        if v16:
            await call_ok(c, start_action, {"connectorId": 1, "idTag": "CONF-RESERVE"})
            call = await c.peer.expect("StartTransaction", since=since)
            transaction = c.peer.answered[call.unique_id]["transactionId"]
        else:
            token = {"idToken": "CONF-RESERVE", "type": "ISO14443"}
            await call_ok(c, start_action, {"evseId": 1, "remoteStartId": 3, "idToken": token})
            call = await c.peer.expect(
                "TransactionEvent", since=since, where=lambda p: p["eventType"] == "Started"
            )
            transaction = call.payload["transactionInfo"]["transactionId"]
        expect(
            call.payload.get("reservationId") == 4003,
            f"the start does not name reservation 4003: {call.payload}",
        )
        await call_ok(c, stop_action, {"transactionId": transaction})

    @case(
        ids["cancel_unknown"],
        version,
        "station",
        "CancelReservation of an unknown reservation: Rejected",
        ("CancelReservation", DOWN),
    )
    async def _cancel_unknown(c: CsmsSide) -> None:
        """2.0.1 (H02): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, "CancelReservation", {"reservationId": 4999}, "Rejected")

    @case(
        ids["reserve_unavailable"],
        version,
        "station",
        "ReserveNow on an unavailable connector: Unavailable",
        ("ChangeAvailability", DOWN),
        ("ReserveNow", DOWN),
    )
    async def _reserve_unavailable(c: CsmsSide) -> None:
        """2.0.1 (H01): no confirmed OCTT id, named after the requirement."""
        inoperative = (
            {"connectorId": 2, "type": "Inoperative"}
            if v16
            else {"operationalStatus": "Inoperative", "evse": {"id": 2}}
        )
        operative = (
            {"connectorId": 2, "type": "Operative"}
            if v16
            else {"operationalStatus": "Operative", "evse": {"id": 2}}
        )
        await call_ok(c, "ChangeAvailability", inoperative)
        try:
            await call_ok(c, "ReserveNow", reserve(4002, 2), "Unavailable")
        finally:
            await call_ok(c, "ChangeAvailability", operative)

    if not v16:

        @case(
            "TC_B_12_CS",
            version,
            "station",
            "GetBaseReport ConfigurationInventory: Accepted, a report of writable variables",
            ("GetBaseReport", DOWN),
            ("NotifyReport", UP),
        )
        async def _configuration_inventory(c: CsmsSide) -> None:
            data = await _report(
                c, "GetBaseReport", {"requestId": 31, "reportBase": "ConfigurationInventory"}
            )
            writable = all(
                a.get("mutability") in ("ReadWrite", "WriteOnly")
                for d in data
                for a in d["variableAttribute"]
            )
            expect(bool(data) and writable, f"a read-only variable in the configuration inventory: {data}")

        @case(
            "TC_B_13_CS",
            version,
            "station",
            "GetBaseReport FullInventory: Accepted, every variable with its characteristics",
            ("GetBaseReport", DOWN),
            ("NotifyReport", UP),
        )
        async def _full_inventory(c: CsmsSide) -> None:
            data = await _report(c, "GetBaseReport", {"requestId": 32, "reportBase": "FullInventory"})
            missing = [d["variable"]["name"] for d in data if "variableCharacteristics" not in d]
            expect(bool(data) and not missing, f"variables without characteristics: {missing}")

        @case(
            "REQ_B08_GetReport_CS",
            version,
            "station",
            "GetReport of one variable: Accepted, a report of just that variable",
            ("GetReport", DOWN),
            ("NotifyReport", UP),
        )
        async def _custom_report(c: CsmsSide) -> None:
            """B08 (Get Custom Report). Named after the requirement."""
            wanted = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            data = await _report(c, "GetReport", {"requestId": 33, "componentVariable": [wanted]})
            got = [(d["component"]["name"], d["variable"]["name"]) for d in data]
            expect(got == [("OCPPCommCtrlr", "HeartbeatInterval")], f"GetReport reported {got}")

        @case(
            "TC_F_18_CS",
            version,
            "station",
            "TriggerMessage FirmwareStatusNotification with no update under way: Idle",
            ("TriggerMessage", DOWN),
            ("FirmwareStatusNotification", UP),
        )
        async def _trigger_firmware_idle(c: CsmsSide) -> None:
            since = len(c.peer.calls)
            await call_ok(c, "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
            call = await c.peer.expect("FirmwareStatusNotification", since=since)
            expect(
                call.payload["status"] == "Idle", f"FirmwareStatusNotification {call.payload}, expected Idle"
            )

        @case(
            "REQ_E14_GetTransactionStatus_CS",
            version,
            "station",
            "GetTransactionStatus: whether messages are queued",
            ("GetTransactionStatus", DOWN),
        )
        async def _transaction_status(c: CsmsSide) -> None:
            """E14. Named after the requirement."""
            answer = await c.peer.call("GetTransactionStatus", {})
            expect(isinstance(answer.get("messagesInQueue"), bool), f"GetTransactionStatus: {answer}")

        @case(
            "REQ_O01_DisplayMessage_CS",
            version,
            "station",
            "SetDisplayMessage, GetDisplayMessages (reported), ClearDisplayMessage",
            ("SetDisplayMessage", DOWN),
            ("GetDisplayMessages", DOWN),
            ("NotifyDisplayMessages", UP),
            ("ClearDisplayMessage", DOWN),
        )
        async def _display_message(c: CsmsSide) -> None:
            """O01, O03, O05. Named after the requirements."""
            message = {
                "id": 61,
                "priority": "NormalCycle",
                "message": {"format": "UTF8", "content": "emsp-bench conformance"},
            }
            await call_ok(c, "SetDisplayMessage", {"message": message})
            since = len(c.peer.calls)
            await call_ok(c, "GetDisplayMessages", {"requestId": 62, "id": [61]})
            await c.peer.expect("NotifyDisplayMessages", since=since, where=lambda p: p["requestId"] == 62)
            await call_ok(c, "ClearDisplayMessage", {"id": 61})

    get_log = {
        "logType": "SecurityLog" if v16 else "DiagnosticsLog",
        "requestId": 51,
        "log": {"remoteLocation": "https://logs.example.invalid/upload"},
    }

    @case(
        ids["log"],
        version,
        "station",
        "GetLog: Accepted, the upload reported with its requestId",
        ("GetLog", DOWN),
        ("LogStatusNotification", UP),
    )
    async def _get_log(c: CsmsSide) -> None:
        """1.6 (security whitepaper GetLog): no confirmed OCTT id, named after the requirement. Up
        to LogStatusNotification Uploading: Uploaded comes after the station's upload time."""
        since = len(c.peer.calls)
        await call_ok(c, "GetLog", get_log)
        call = await c.peer.expect("LogStatusNotification", since=since)
        expect(call.payload.get("requestId") == 51, f"LogStatusNotification {call.payload}: requestId not 51")

    if v16:

        @case(
            "TC_045_1_CS",
            version,
            "station",
            "GetDiagnostics: a file name, the upload reported",
            ("GetDiagnostics", DOWN),
            ("DiagnosticsStatusNotification", UP),
        )
        async def _diagnostics(c: CsmsSide) -> None:
            """Up to DiagnosticsStatusNotification Uploading: Uploaded comes after the station's upload
            time."""
            since = len(c.peer.calls)
            await c.peer.call("GetDiagnostics", {"location": "ftp://logs.example.invalid/"})
            call = await c.peer.expect("DiagnosticsStatusNotification", since=since)
            expect(call.payload["status"] == "Uploading", f"DiagnosticsStatusNotification {call.payload}")

        @case(
            "REQ_SEC_ExtendedTrigger_CS",
            version,
            "station",
            "ExtendedTriggerMessage Heartbeat: accepted, then sent",
            ("ExtendedTriggerMessage", DOWN),
            ("Heartbeat", UP),
        )
        async def _extended_trigger(c: CsmsSide) -> None:
            """The 1.6 security whitepaper's ExtendedTriggerMessage. Named after the requirement."""
            since = len(c.peer.calls)
            await call_ok(c, "ExtendedTriggerMessage", {"requestedMessage": "Heartbeat"})
            await c.peer.expect("Heartbeat", since=since)

    root_type = "CentralSystemRootCertificate" if v16 else "CSMSRootCertificate"

    @case(
        ids["certificates"],
        version,
        "station",
        "InstallCertificate of a root, listed by GetInstalledCertificateIds, then DeleteCertificate",
        ("InstallCertificate", DOWN),
        ("GetInstalledCertificateIds", DOWN),
        ("DeleteCertificate", DOWN),
    )
    async def _certificates(c: CsmsSide) -> None:
        """1.6 security whitepaper / 2.0.1 M05, M03, M04. Named after the requirements."""
        await call_ok(c, "InstallCertificate", {"certificateType": root_type, "certificate": _certificate()})
        ask = {"certificateType": root_type if v16 else [root_type]}
        listed = await call_ok(c, "GetInstalledCertificateIds", ask)
        hashes = (
            listed.get("certificateHashData", [])
            if v16
            else [h["certificateHashData"] for h in listed.get("certificateHashDataChain", [])]
        )
        expect(bool(hashes), f"GetInstalledCertificateIds lists nothing: {listed}")
        await call_ok(c, "DeleteCertificate", {"certificateHashData": hashes[-1]})

    trigger, sign_what = (
        ("ExtendedTriggerMessage", "SignChargePointCertificate")
        if v16
        else ("TriggerMessage", "SignChargingStationCertificate")
    )

    @case(
        ids["cert_signed"],
        version,
        "station",
        "A triggered certificate request: SignCertificate with a CSR, the signed chain Accepted",
        (trigger, DOWN),
        ("SignCertificate", UP),
        ("CertificateSigned", DOWN),
    )
    async def _certificate_signed(c: CsmsSide) -> None:
        """1.6 security whitepaper / 2.0.1 A02 (update the station's certificate at the CSMS's request):
        no confirmed OCTT id, named after the requirement. The bench signs with a CA of its own."""
        from simulators.cpo.csms_ca import StationCa

        since = len(c.peer.calls)
        await call_ok(c, trigger, {"requestedMessage": sign_what})
        call = await c.peer.expect("SignCertificate", since=since)
        chain = StationCa("emsp-bench-conformance").sign(call.payload["csr"], datetime.now(UTC))
        expect(chain is not None, "the station's CSR could not be signed (not a valid request)")
        signed: Payload = {"certificateChain": chain}
        if not v16:
            signed["certificateType"] = "ChargingStationCertificate"
        await call_ok(c, "CertificateSigned", signed)

    if v16:

        @case(
            "REQ_SEC_SignedUpdateFirmware_CS",
            version,
            "station",
            "SignedUpdateFirmware with a signing certificate: Accepted, the download reported",
            ("SignedUpdateFirmware", DOWN),
            ("SignedFirmwareStatusNotification", UP),
        )
        async def _signed_update(c: CsmsSide) -> None:
            """1.6 security whitepaper (secure firmware update): no confirmed OCTT id, named after the
            requirement. Up to the first status, as UpdateFirmware (which replaces this update)."""
            since = len(c.peer.calls)
            firmware = {
                "location": "https://fw.example.invalid/fw-9s.bin",
                "retrieveDateTime": _in(0),
                "signingCertificate": _certificate(),
                "signature": "c2lnbmF0dXJl",
            }
            await call_ok(c, "SignedUpdateFirmware", {"requestId": 85, "firmware": firmware})
            call = await c.peer.expect("SignedFirmwareStatusNotification", since=since)
            expect(call.payload.get("requestId") == 85, f"SignedFirmwareStatusNotification {call.payload}")

    if not v16:
        monitored = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}

        @case(
            "REQ_N04_VariableMonitoring_CS",
            version,
            "station",
            "SetVariableMonitoring, reported by GetMonitoringReport, then ClearVariableMonitoring",
            ("SetVariableMonitoring", DOWN),
            ("GetMonitoringReport", DOWN),
            ("NotifyMonitoringReport", UP),
            ("ClearVariableMonitoring", DOWN),
        )
        async def _monitoring(c: CsmsSide) -> None:
            """N04, N02, N06: no confirmed OCTT ids, named after the requirements."""
            data = [{"value": 60, "type": "Delta", "severity": 5, **monitored}]
            result = (await c.peer.call("SetVariableMonitoring", {"setMonitoringData": data}))[
                "setMonitoringResult"
            ]
            expect(
                result[0]["status"] == "Accepted" and "id" in result[0], f"SetVariableMonitoring: {result}"
            )
            since = len(c.peer.calls)
            await call_ok(c, "GetMonitoringReport", {"requestId": 91, "componentVariable": [monitored]})
            await c.peer.expect("NotifyMonitoringReport", since=since, where=lambda p: p["requestId"] == 91)
            cleared = await c.peer.call("ClearVariableMonitoring", {"id": [result[0]["id"]]})
            expect(
                cleared["clearMonitoringResult"][0]["status"] == "Accepted",
                f"ClearVariableMonitoring: {cleared}",
            )

        @case(
            "REQ_N03_MonitoringBaseLevel_CS",
            version,
            "station",
            "SetMonitoringBase All and SetMonitoringLevel: Accepted",
            ("SetMonitoringBase", DOWN),
            ("SetMonitoringLevel", DOWN),
        )
        async def _monitoring_base(c: CsmsSide) -> None:
            """N03, N05: no confirmed OCTT ids, named after the requirements. Level 9 (all) restored."""
            await call_ok(c, "SetMonitoringBase", {"monitoringBase": "All"})
            await call_ok(c, "SetMonitoringLevel", {"severity": 5})
            await call_ok(c, "SetMonitoringLevel", {"severity": 9})

        @case(
            "REQ_N09_CustomerInformation_CS",
            version,
            "station",
            "CustomerInformation report for a token: Accepted, then NotifyCustomerInformation",
            ("CustomerInformation", DOWN),
            ("NotifyCustomerInformation", UP),
        )
        async def _customer_information(c: CsmsSide) -> None:
            """N09: no confirmed OCTT id, named after the requirement."""
            since = len(c.peer.calls)
            ask = {
                "requestId": 92,
                "report": True,
                "clear": False,
                "idToken": {"idToken": "CONF-CUSTOMER", "type": "ISO14443"},
            }
            await call_ok(c, "CustomerInformation", ask)
            await c.peer.expect(
                "NotifyCustomerInformation", since=since, where=lambda p: p["requestId"] == 92
            )

        @case("REQ_I_CostUpdated_CS", version, "station", "CostUpdated: answered", ("CostUpdated", DOWN))
        async def _cost_updated(c: CsmsSide) -> None:
            """Block I (the running cost of a transaction shown to the driver): no confirmed OCTT id, named
            after the requirement. Only the (empty) answer is observable."""
            answer = await c.peer.call("CostUpdated", {"totalCost": 1.5, "transactionId": "conformance"})
            expect(answer == {}, f"CostUpdated answered {answer}")

    if not v16:

        @case(
            "REQ_L03_PublishFirmware_CS",
            version,
            "station",
            "PublishFirmware: Accepted, the download reported; UnpublishFirmware meanwhile",
            ("PublishFirmware", DOWN),
            ("PublishFirmwareStatusNotification", UP),
            ("UnpublishFirmware", DOWN),
        )
        async def _publish(c: CsmsSide) -> None:
            """L03/L04 (the station as a Local Controller). Up to the first status: Published comes after
            the station's download time. Named after the requirements."""
            since = len(c.peer.calls)
            request = {
                "location": "https://fw.example.invalid/lc/fw-9.bin",
                "checksum": "0" * 32,
                "requestId": 71,
            }
            await call_ok(c, "PublishFirmware", request)
            call = await c.peer.expect("PublishFirmwareStatusNotification", since=since)
            expect(call.payload.get("requestId") == 71, f"PublishFirmwareStatusNotification {call.payload}")
            answer = await c.peer.call("UnpublishFirmware", {"checksum": "0" * 32})
            # Unpublished too if the image was already published (a slow run): both are right.
            expect(answer["status"] in ("DownloadOngoing", "Unpublished"), f"UnpublishFirmware: {answer}")

    @case(
        ids["firmware"],
        version,
        "station",
        "UpdateFirmware: accepted, the download reported",
        ("UpdateFirmware", DOWN),
        ("FirmwareStatusNotification", UP),
    )
    async def _update_firmware(c: CsmsSide) -> None:
        """2.0.1 (L01): no confirmed OCTT id, named after the requirement. Up to
        FirmwareStatusNotification Downloading: the install and its reboot come after the
        station's download time. Last of the cases for that reason."""
        since = len(c.peer.calls)
        location, now = "https://fw.example.invalid/fw-9.bin", _in(0)
        if v16:
            await c.peer.call("UpdateFirmware", {"location": location, "retrieveDate": now})
        else:
            await call_ok(
                c,
                "UpdateFirmware",
                {"requestId": 81, "firmware": {"location": location, "retrieveDateTime": now}},
            )
        call = await c.peer.expect("FirmwareStatusNotification", since=since)
        expect(call.payload["status"] == "Downloading", f"FirmwareStatusNotification {call.payload}")


async def _report(c: CsmsSide, action: str, request: Payload) -> list[Payload]:
    """Send a report request; the reportData of every NotifyReport with its requestId (tbc followed)."""
    since = len(c.peer.calls)
    await call_ok(c, action, request)
    data: list[Payload] = []
    seen = since
    while True:
        call = await c.peer.expect(
            "NotifyReport", since=seen, where=lambda p: p["requestId"] == request["requestId"]
        )
        seen = c.peer.calls.index(call) + 1
        data += call.payload.get("reportData", [])
        if not call.payload.get("tbc", False):
            return data


for _version, _ids in zip(
    versions(),
    (
        {
            "local_list": "TC_043_CS",
            "list_mismatch": "TC_043_2_CS",
            "reserve": "TC_051_CS",
            "reserve_start": "TC_046_2_CS",
            "reserve_expire": "TC_047_CS",
            "cancel_unknown": "TC_052_CS",
            "reserve_unavailable": "TC_048_3_CS",
            "log": "REQ_SEC_GetLog_CS",
            "certificates": "REQ_SEC_Certificates_CS",
            "cert_signed": "REQ_SEC_CertificateSigned_CS",
            "firmware": "TC_044_1_CS",
        },
        {
            "local_list": "REQ_D01_SendLocalList_CS",
            "list_mismatch": "REQ_D01_VersionMismatch_CS",
            "reserve": "REQ_H01_ReserveNow_CS",
            "reserve_start": "REQ_H_ReservedRemoteStart_CS",
            "reserve_expire": "REQ_H01_ReservationExpiry_CS",
            "cancel_unknown": "REQ_H02_CancelUnknown_CS",
            "reserve_unavailable": "REQ_H01_ReserveUnavailable_CS",
            "log": "TC_N_25_CS",
            "certificates": "REQ_M05_Certificates_CS",
            "cert_signed": "REQ_A02_CertificateSigned_CS",
            "firmware": "REQ_L01_UpdateFirmware_CS",
        },
    ),
    strict=True,
):
    _register(_version, _ids)
