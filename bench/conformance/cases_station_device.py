"""Cases with the station under test: device model reports, monitoring, display messages, logs,
certificates and firmware. Run last, after `cases_station_upkeep`; the firmware update goes last of
all (it ends in a reboot).

Jobs that take the station time (uploads, downloads) are checked up to their first notification:
what follows comes after the station's own durations, which a conformance run does not wait out.
Ids as in `cases_station`: OCA ids where confirmed, else `REQ_<reference>_<what>_CS`.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime

from bench.conformance.peer import Payload
from bench.conformance.registry import DOWN, UP, CsmsSide, call_ok, case, expect, utc_in, versions
from simulators.ocppj.codec import OcppVersion


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
                "retrieveDateTime": utc_in(0),
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
        location, now = "https://fw.example.invalid/fw-9.bin", utc_in(0)
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


# Case ids per version (1.6, 2.0.1) for the cases `_register` defines.
IDS: tuple[dict[str, str], dict[str, str]] = (
    {
        "log": "REQ_SEC_GetLog_CS",
        "certificates": "REQ_SEC_Certificates_CS",
        "cert_signed": "REQ_SEC_CertificateSigned_CS",
        "firmware": "TC_044_1_CS",
    },
    {
        "log": "TC_N_25_CS",
        "certificates": "REQ_M05_Certificates_CS",
        "cert_signed": "REQ_A02_CertificateSigned_CS",
        "firmware": "REQ_L01_UpdateFirmware_CS",
    },
)


def register() -> None:
    """Register this module's cases (bench.conformance.cases calls it, in run order)."""
    for version, ids in zip(versions(), IDS, strict=True):
        _register(version, ids)
