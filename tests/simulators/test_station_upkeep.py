"""Upkeep CALLs on the virtual stations (1.6 Firmware Management, Local Auth List Management and the
security extension; 2.0.1 blocks A, D, L, N, O): what the station answers and what it sends later.
Every frame both ways is checked against the official schemas by the `ocpp` package (ocpp_pair)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from ocpp_pair import Pair
from test_station_calls import EV, T0, VERSIONS, after, charging, make_pair

import simulators.station
from simulators.cpo.events import TransactionStarted
from simulators.ocppj import OcppVersion
from simulators.station.upkeep import csr_pem, firmware_name
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201


def _certificate(name: str = "bench root") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(4242)
        .not_valid_before(T0 - timedelta(days=1))
        .not_valid_after(T0 + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM).decode()


def _list_entry(version: OcppVersion, token: str, status: str | None) -> dict[str, Any]:
    if version == "1.6":
        return {"idTag": token, **({"idTagInfo": {"status": status}} if status else {})}
    info = {"idTokenInfo": {"status": status}} if status else {}
    return {"idToken": {"idToken": token, "type": "ISO14443"}, **info}


def _send_list(
    pair: Pair, version: OcppVersion, number: int, full: bool, entries: list[Any], at: datetime
) -> Any:
    kind = "Full" if full else "Differential"
    key = "listVersion" if version == "1.6" else "versionNumber"
    payload = {key: number, "updateType": kind, **({"localAuthorizationList": entries} if entries else {})}
    return pair.command("SendLocalList", payload, at).payload


def _list_version(pair: Pair, version: OcppVersion, at: datetime) -> int:
    answer = pair.command("GetLocalListVersion", {}, at).payload
    return int(answer["listVersion" if version == "1.6" else "versionNumber"])


@pytest.mark.parametrize("version", VERSIONS)
def test_local_list_versions_full_and_differential_updates(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    assert _list_version(pair, version, at) == 0  # empty
    entries = [_list_entry(version, "TOKEN-A", "Accepted"), _list_entry(version, "TOKEN-B", "Blocked")]
    assert _send_list(pair, version, 3, True, entries, at) == {"status": "Accepted"}
    assert _list_version(pair, version, at) == 3
    # A differential update must move the version forward.
    assert _send_list(pair, version, 3, False, [], at) == {"status": "VersionMismatch"}
    removal = [_list_entry(version, "TOKEN-B", None)]
    assert _send_list(pair, version, 4, False, removal, at) == {"status": "Accepted"}
    assert set(pair.station.upkeep.local_list.entries) == {"TOKEN-A"}
    assert _send_list(pair, version, 5, True, [], at) == {"status": "Accepted"}
    assert _list_version(pair, version, at) == 0  # a full update with no entries empties it


def test_a_disabled_local_list_reports_minus_one_and_refuses_updates_16() -> None:
    pair = make_pair("1.6")
    at = T0 + timedelta(minutes=1)
    change = {"key": "LocalAuthListEnabled", "value": "false"}
    assert pair.command("ChangeConfiguration", change, at).payload == {"status": "Accepted"}
    assert _list_version(pair, "1.6", at) == -1
    assert _send_list(pair, "1.6", 1, True, [], at) == {"status": "NotSupported"}


@pytest.mark.parametrize("version", VERSIONS)
def test_offline_a_listed_token_charges_at_once_and_the_start_goes_out_on_reconnect(
    version: OcppVersion,
) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    _send_list(pair, version, 1, True, [_list_entry(version, "TOKEN-A", "Accepted")], at)
    offline_at = T0 + timedelta(minutes=2)
    pair.pump(pair.station.set_online(False, offline_at), offline_at)
    pair.plug_in(1, "TOKEN-A", EV, T0 + timedelta(minutes=3))  # on the list: charges offline
    pair.plug_in(2, "TOKEN-X", EV, T0 + timedelta(minutes=3))  # not on it: waits for the CSMS
    station = pair.station
    assert station.connectors[1].session is not None and station.connectors[1].session.started_at is not None
    assert station.connectors[2].session is not None and station.connectors[2].session.started_at is None
    assert not after(pair, offline_at)  # nothing left while offline
    back = T0 + timedelta(minutes=10)
    pair.pump(station.set_online(True, back), back)
    started = [e for e in pair.events if isinstance(e, TransactionStarted)]
    assert [e.token_uid for e in started][:1] == ["TOKEN-A"]
    assert started[0].at == T0 + timedelta(minutes=3)  # the start as it happened, sent late


FIRMWARE = {
    "1.6": (
        "UpdateFirmware",
        {"location": "https://fw.example/cs/fw-2.1.bin", "retrieveDate": "2024-05-01T08:05:00Z"},
    ),
    "2.0.1": (
        "UpdateFirmware",
        {
            "requestId": 7,
            "firmware": {
                "location": "https://fw.example/cs/fw-2.1.bin",
                "retrieveDateTime": "2024-05-01T08:05:00Z",
            },
        },
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_firmware_update_waits_for_the_session_then_reboots_with_the_new_version(
    version: OcppVersion,
) -> None:
    pair = charging(version)  # a session runs on connector 1 from 08:01
    at = T0 + timedelta(minutes=2)
    action, payload = FIRMWARE[version]
    answer = pair.command(action, payload, at).payload
    assert answer == ({} if version == "1.6" else {"status": "Accepted"})
    pair.run_until(T0 + timedelta(minutes=30))
    statuses = [m[3]["status"] for m in after(pair, at) if m[2] == "FirmwareStatusNotification"]
    assert statuses == ["Downloading", "Downloaded"]  # no install while the driver charges
    pair.unplug(1, T0 + timedelta(minutes=40))
    pair.run_until(T0 + timedelta(minutes=45))
    sent = [(m[2], m[3]) for m in after(pair, at)]
    statuses = [p["status"] for a, p in sent if a == "FirmwareStatusNotification"]
    expected = ["Downloading", "Downloaded", "Installing", "Installed"]
    if version == "2.0.1":
        expected = ["Downloading", "Downloaded", "Installing", "InstallRebooting", "Installed"]
        assert all(p["requestId"] == 7 for a, p in sent if a == "FirmwareStatusNotification")
    assert statuses == expected
    [boot] = [p for a, p in sent if a == "BootNotification"]
    if version == "1.6":
        assert boot["firmwareVersion"] == "fw-2.1"
    else:
        assert boot["chargingStation"]["firmwareVersion"] == "fw-2.1"
        assert boot["reason"] == "FirmwareUpdate"
        assert any(a == "SecurityEventNotification" and p["type"] == "FirmwareUpdated" for a, p in sent)
    actions = [a for a, _p in sent]
    last_status = max(i for i, a in enumerate(actions) if a == "FirmwareStatusNotification")
    # 2.0.1 L01: Installed comes after the reboot; 1.6 reports Installed and then reboots.
    assert (actions.index("BootNotification") < last_status) == (version == "2.0.1")


def test_signed_firmware_with_a_bad_certificate_is_refused_16() -> None:
    pair = make_pair("1.6")
    firmware = {"location": "https://fw.example/fw.bin", "retrieveDateTime": "2024-05-01T08:00:00Z",
                "signingCertificate": "not a certificate", "signature": "c2ln"}  # fmt: skip
    answer = pair.command(
        "SignedUpdateFirmware", {"requestId": 1, "firmware": firmware}, T0 + timedelta(minutes=1)
    )
    assert answer.payload == {"status": "InvalidCertificate"}
    firmware["signingCertificate"] = _certificate()
    at = T0 + timedelta(minutes=2)
    answer = pair.command("SignedUpdateFirmware", {"requestId": 2, "firmware": firmware}, at)
    assert answer.payload == {"status": "Accepted"}
    pair.run_until(T0 + timedelta(minutes=5))
    statuses = [m[3]["status"] for m in after(pair, at) if m[2] == "SignedFirmwareStatusNotification"]
    assert statuses == ["Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"]


LOGS = {
    "1.6": [
        ("GetDiagnostics", {"location": "ftp://logs.example/"}, "DiagnosticsStatusNotification", None),
        (
            "GetLog",
            {"logType": "SecurityLog", "requestId": 5, "log": {"remoteLocation": "https://logs.example/"}},
            "LogStatusNotification",
            5,
        ),
    ],
    "2.0.1": [
        (
            "GetLog",
            {"logType": "DiagnosticsLog", "requestId": 5, "log": {"remoteLocation": "https://logs.example/"}},
            "LogStatusNotification",
            5,
        ),
    ],
}


@pytest.mark.parametrize(("version", "case"), [(v, c) for v in VERSIONS for c in LOGS[v]])
def test_log_uploads_report_uploading_then_uploaded(version: OcppVersion, case: tuple[Any, ...]) -> None:
    action, payload, notification, request_id = case
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    answer = pair.command(action, payload, at).payload
    assert ("fileName" in answer) or answer["status"] == "Accepted"
    pair.run_until(T0 + timedelta(minutes=2))
    sent = [m[3] for m in after(pair, at) if m[2] == notification]
    assert [p["status"] for p in sent] == ["Uploading", "Uploaded"]
    assert all(p.get("requestId") == request_id for p in sent)


CERT_TYPE = {"1.6": "CentralSystemRootCertificate", "2.0.1": "CSMSRootCertificate"}


@pytest.mark.parametrize("version", VERSIONS)
def test_certificates_install_list_delete(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    kind = CERT_TYPE[version]
    bad = pair.command("InstallCertificate", {"certificateType": kind, "certificate": "garbage"}, at)
    assert bad.payload == {"status": "Rejected"}
    installed = pair.command(
        "InstallCertificate", {"certificateType": kind, "certificate": _certificate()}, at
    )
    assert installed.payload == {"status": "Accepted"}
    query = {"certificateType": kind} if version == "1.6" else {"certificateType": [kind]}
    listed = pair.command("GetInstalledCertificateIds", query, at).payload
    assert listed["status"] == "Accepted"
    hashed = (
        listed["certificateHashData"][0]
        if version == "1.6"
        else listed["certificateHashDataChain"][0]["certificateHashData"]
    )
    assert hashed["serialNumber"] == format(4242, "x")
    assert pair.command("DeleteCertificate", {"certificateHashData": hashed}, at).payload == {
        "status": "Accepted"
    }
    assert pair.command("DeleteCertificate", {"certificateHashData": hashed}, at).payload == {
        "status": "NotFound"
    }
    assert pair.command("GetInstalledCertificateIds", query, at).payload == {"status": "NotFound"}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_triggered_certificate_request_sends_a_deterministic_csr(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    if version == "1.6":
        answer = pair.command(
            "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}, at
        )
    else:
        answer = pair.command("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}, at)
    assert answer.payload == {"status": "Accepted"}
    [sign] = [m[3] for m in after(pair, at) if m[2] == "SignCertificate"]
    assert sign["csr"] == csr_pem("CS-1", "emsp-bench")  # same station, same request: runs stay identical
    request = x509.load_pem_x509_csr(sign["csr"].encode())
    assert request.is_signature_valid
    assert request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-1"


def test_monitors_set_report_clear_201() -> None:
    pair = make_pair("2.0.1")
    at = T0 + timedelta(minutes=1)
    known = {"value": 600, "type": "UpperThreshold", "severity": 5, "component": {"name": "OCPPCommCtrlr"},
             "variable": {"name": "HeartbeatInterval"}}  # fmt: skip
    unknown = {**known, "component": {"name": "NoSuchCtrlr"}}
    results = pair.command("SetVariableMonitoring", {"setMonitoringData": [known, unknown]}, at).payload
    statuses = [r["status"] for r in results["setMonitoringResult"]]
    assert statuses == ["Accepted", "UnknownComponent"]
    monitor_id = results["setMonitoringResult"][0]["id"]
    assert pair.command("GetMonitoringReport", {"requestId": 3}, at).payload == {"status": "Accepted"}
    [report] = [m[3] for m in after(pair, at) if m[2] == "NotifyMonitoringReport"]
    assert report["monitor"][0]["variableMonitoring"][0]["id"] == monitor_id
    cleared = pair.command("ClearVariableMonitoring", {"id": [monitor_id, 99]}, at).payload
    assert [r["status"] for r in cleared["clearMonitoringResult"]] == ["Accepted", "NotFound"]
    assert pair.command("GetMonitoringReport", {"requestId": 4}, at).payload == {"status": "EmptyResultSet"}
    assert pair.command("SetMonitoringLevel", {"severity": 3}, at).payload == {"status": "Accepted"}
    assert pair.command("SetMonitoringBase", {"monitoringBase": "FactoryDefault"}, at).payload == {
        "status": "Accepted"
    }


def test_display_messages_set_get_clear_201() -> None:
    pair = charging("2.0.1")
    at = T0 + timedelta(minutes=5)
    message = {"id": 1, "priority": "NormalCycle", "message": {"format": "UTF8", "content": "Welcome"}}
    assert pair.command("SetDisplayMessage", {"message": message}, at).payload == {"status": "Accepted"}
    stray = {**message, "id": 2, "transactionId": "no-such-transaction"}
    assert pair.command("SetDisplayMessage", {"message": stray}, at).payload == {
        "status": "UnknownTransaction"
    }
    assert pair.command("GetDisplayMessages", {"requestId": 9}, at).payload == {"status": "Accepted"}
    [notify] = [m[3] for m in after(pair, at) if m[2] == "NotifyDisplayMessages"]
    assert [m["id"] for m in notify["messageInfo"]] == [1]
    assert pair.command("ClearDisplayMessage", {"id": 1}, at).payload == {"status": "Accepted"}
    assert pair.command("ClearDisplayMessage", {"id": 1}, at).payload == {"status": "Unknown"}
    assert pair.command("GetDisplayMessages", {"requestId": 10}, at).payload == {"status": "Unknown"}


def test_transaction_status_customer_information_network_profile_and_cost_201() -> None:
    pair = charging("2.0.1")
    at = T0 + timedelta(minutes=5)
    [started] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    status = pair.command("GetTransactionStatus", {"transactionId": started.transaction_id}, at).payload
    assert status == {"ongoingIndicator": True, "messagesInQueue": False}
    ask = {
        "requestId": 2,
        "report": True,
        "clear": False,
        "idToken": {"idToken": "TOKEN-A", "type": "ISO14443"},
    }
    assert pair.command("CustomerInformation", ask, at).payload == {"status": "Accepted"}
    assert [m[2] for m in after(pair, at)].count("NotifyCustomerInformation") == 1
    nobody = {"requestId": 3, "report": True, "clear": False}
    assert pair.command("CustomerInformation", nobody, at).payload == {"status": "Invalid"}
    profile = {"configurationSlot": 2, "connectionData": {"ocppVersion": "OCPP20", "ocppTransport": "JSON",
               "ocppCsmsUrl": "wss://csms.example/ocpp", "messageTimeout": 30, "securityProfile": 2,
               "ocppInterface": "Wired0"}}  # fmt: skip
    assert pair.command("SetNetworkProfile", profile, at).payload == {"status": "Accepted"}
    cost = {"totalCost": 4.2, "transactionId": started.transaction_id}
    assert pair.command("CostUpdated", cost, at).payload == {}


@pytest.mark.parametrize(
    ("location", "name"),
    [
        ("https://fw.example/cs/fw-2.1.bin", "fw-2.1"),
        ("https://fw.example/img?x=1", "img"),
        ("ftp://h/", "h"),
    ],
)
def test_firmware_names_come_from_the_image_file(location: str, name: str) -> None:
    assert firmware_name(location) == name


@pytest.mark.parametrize("version", VERSIONS)
def test_the_csms_signs_a_triggered_request_and_the_station_installs_the_certificate(
    version: OcppVersion,
) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    if version == "1.6":
        pair.command("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}, at)
    else:
        pair.command("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}, at)
    [signed] = [c for c in pair.trace if c.src == pair.csms.cpo_id and '"CertificateSigned"' in c.frame]
    chain = json.loads(signed.frame)[3]["certificateChain"]
    leaf = x509.load_pem_x509_certificate(chain.encode())
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CS-1"
    assert leaf.issuer == pair.csms.ca.root(at).subject
    kinds = [c.kind for c in pair.station.upkeep.certificates]
    assert kinds == ["ChargePointCertificate" if version == "1.6" else "ChargingStationCertificate"]
    # A request that is no CSR is refused.
    answer = pair.csms._sign_certificate(pair.csms._links["CS-1"], {"csr": "garbage"}, at, [])
    assert answer == {"status": "Rejected"}


def _sent_in(paths: list[Path]) -> set[str]:
    """Actions the code sends as CALLs: endpoint.call("X"), queue("X"), steps("X", ...), Step(d, "X")."""
    pattern = re.compile(r'(?:\.call|\.queue|\bsteps)\(\s*"(\w+)"|\bStep\(\s*\w+,\s*"(\w+)"')
    found: set[str] = set()
    for path in paths:
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(1) or match.group(2))
    return found


def test_each_station_declares_every_call_its_code_sends() -> None:
    """`sends` feeds the coverage table (emsp-bench conformance ocpp --coverage): it must not lag
    the code. Shared modules count for both versions."""
    folder = Path(simulators.station.__file__).parent
    shared = [p for p in folder.glob("*.py") if not p.name.startswith(("v16", "v201"))]
    for station, prefix in ((Station16, "v16"), (Station201, "v201")):
        sent = _sent_in(shared + sorted(folder.glob(f"{prefix}*.py")))
        assert sent <= station.sends, (prefix, sent - station.sends)
        assert station.sends <= sent | {"DataTransfer"}, (prefix, station.sends - sent)
