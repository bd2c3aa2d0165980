"""OCPP 2.0.1 upkeep CALLs: blocks A (certificates), D (local authorization list), L (firmware,
and publishing it as a Local Controller: L03/L04),
N (logs, monitoring, customer information), O (display messages), and GetTransactionStatus (E14),
SetNetworkProfile (B09), CostUpdated (I). State and job timelines live in `upkeep.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj import Payload
from simulators.ocppj.timestamps import parse_timestamp
from simulators.station.upkeep import (
    DOWNLOADING,
    INSTALL,
    ZERO,
    Step,
    add_certificate,
    certificate_hash_data,
    delete_certificate,
    firmware_name,
    get_log,
    install_certificate,
    steps,
)
from simulators.station.v201_core import Station201Core
from simulators.station.v201_variables import VARIABLES

_FORMATS = frozenset({"ASCII", "HTML", "URI", "UTF8"})


# -- A: certificates ---------------------------------------------------------------------------
def certificate_signed(st: Station201Core, p: Payload, now: datetime) -> Payload:
    kind = p.get("certificateType", "ChargingStationCertificate")
    added = add_certificate(st.upkeep, kind, p["certificateChain"])
    return {"status": "Accepted" if added else "Rejected"}  # A02.FR.05: Rejected, no valid certificate


def get_installed_certificate_ids(st: Station201Core, p: Payload, now: datetime) -> Payload:
    kinds = p.get("certificateType")
    chain = [
        {"certificateType": c.kind, "certificateHashData": c.hash_data}
        for c in st.upkeep.certificates
        if (kinds is None or c.kind in kinds) and c.kind != "ChargingStationCertificate"
    ]
    return {"status": "Accepted", "certificateHashDataChain": chain} if chain else {"status": "NotFound"}


# -- D: local authorization list ---------------------------------------------------------------
def send_local_list(st: Station201Core, p: Payload, now: datetime) -> Payload:
    if not st.upkeep.local_list_enabled:
        return {"status": "Failed"}  # LocalAuthListCtrlr.Enabled is false
    items = [(e["idToken"]["idToken"], e.get("idTokenInfo")) for e in p.get("localAuthorizationList", [])]
    return {"status": st.upkeep.local_list.update(p["versionNumber"], p["updateType"] == "Full", items)}


def get_local_list_version(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {"versionNumber": st.upkeep.local_list.version}  # D02: 0 when the list is empty


# -- L: firmware --------------------------------------------------------------------------------
def update_firmware(st: Station201Core, p: Payload, now: datetime) -> Payload:
    firmware, request_id = p["firmware"], p["requestId"]
    signed = "signature" in firmware
    if "signingCertificate" in firmware and certificate_hash_data(firmware["signingCertificate"]) is None:
        return {"status": "InvalidCertificate"}  # L01.FR.02
    status = "AcceptedCanceled" if st.upkeep.running("firmware") else "Accepted"  # L01.FR.24
    extra = {"requestId": request_id}

    def reboot(at: datetime) -> None:
        st.upkeep.firmware_version = firmware_name(firmware["location"])
        st.upkeep.boot_reason = "FirmwareUpdate"
        st.reset("hard_reset", at)
        st.upkeep.boot_reason = None
        st.queue("SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": format_utc(at)})

    verified = [(ZERO, "SignatureVerified", False)] if signed else []
    job = steps(
        "FirmwareStatusNotification",
        [*DOWNLOADING, *verified, (ZERO, "Installing", True)],
        extra,
    )
    rebooting = Step(INSTALL, "FirmwareStatusNotification", {"status": "InstallRebooting", **extra})
    rebooting.then = reboot
    installed = Step(ZERO, "FirmwareStatusNotification", {"status": "Installed", **extra})
    retrieve = parse_timestamp(firmware["retrieveDateTime"])
    st.upkeep.start("firmware", max(now, retrieve) if retrieve else now, [*job, rebooting, installed])
    return {"status": status}


def publish_firmware(st: Station201Core, p: Payload, now: datetime) -> Payload:
    """L03: the station, as a Local Controller, downloads the image, checks it and publishes it for
    the stations behind it: Downloading, Downloaded, ChecksumVerified, Published (with the URI they
    fetch it from). Nothing is downloaded, so the checksum always verifies. A new request replaces
    one under way, as for UpdateFirmware."""
    checksum, extra = p["checksum"], {"requestId": p["requestId"]}
    uri = f"http://{st.station_id}.local/firmware/{firmware_name(p['location'])}"

    def publish(at: datetime) -> None:
        st.upkeep.published[checksum] = [uri]

    job = steps("PublishFirmwareStatusNotification", [*DOWNLOADING, (ZERO, "ChecksumVerified", False)], extra)
    published = {"status": "Published", "location": [uri], **extra}
    job.append(Step(ZERO, "PublishFirmwareStatusNotification", published, then=publish))
    st.upkeep.start("publish", now, job)
    return {"status": "Accepted"}


def unpublish_firmware(st: Station201Core, p: Payload, now: datetime) -> Payload:
    """L04: stop serving a published image; DownloadOngoing while one is still being fetched."""
    if st.upkeep.running("publish"):
        return {"status": "DownloadOngoing"}
    if st.upkeep.published.pop(p["checksum"], None) is None:
        return {"status": "NoFirmware"}
    return {"status": "Unpublished"}


# -- N: logs, monitoring, customer information ---------------------------------------------------
def _known(component: str, variable: str) -> str:
    if not any(c == component for c, _v, _i in VARIABLES):
        return "UnknownComponent"
    known = any(c == component and v == variable for c, v, _i in VARIABLES)
    return "Accepted" if known else "UnknownVariable"


def set_variable_monitoring(st: Station201Core, p: Payload, now: datetime) -> Payload:
    results = []
    for data in p["setMonitoringData"]:
        status = _known(data["component"]["name"], data["variable"]["name"])
        monitor_id = data.get("id")
        if status == "Accepted" and monitor_id is not None and monitor_id not in st.upkeep.monitors:
            status = "Rejected"  # N04.FR.13: an id given must be one of an existing monitor
        if status == "Accepted":
            monitor_id = monitor_id if monitor_id is not None else max(st.upkeep.monitors, default=0) + 1
            st.upkeep.monitors[monitor_id] = {**data, "id": monitor_id}
        keys = ("type", "severity", "component", "variable")
        result = {"status": status, **{k: data[k] for k in keys}}
        results.append({**result, "id": monitor_id} if status == "Accepted" else result)
    return {"setMonitoringResult": results}


def clear_variable_monitoring(st: Station201Core, p: Payload, now: datetime) -> Payload:
    results = []
    for monitor_id in p["id"]:
        found = st.upkeep.monitors.pop(monitor_id, None) is not None
        results.append({"status": "Accepted" if found else "NotFound", "id": monitor_id})
    return {"clearMonitoringResult": results}


def get_monitoring_report(st: Station201Core, p: Payload, now: datetime) -> Payload:
    asked = p.get("componentVariable", [])
    wanted = {(cv["component"]["name"], cv.get("variable", {}).get("name")) for cv in asked}
    found = [
        m
        for m in st.upkeep.monitors.values()
        if not wanted
        or (m["component"]["name"], m["variable"]["name"]) in wanted
        or (m["component"]["name"], None) in wanted
    ]
    if not found:
        return {"status": "EmptyResultSet"}
    for seq, m in enumerate(found):
        monitor = {"id": m["id"], "transaction": m.get("transaction", False), "value": m["value"],
                   "type": m["type"], "severity": m["severity"]}  # fmt: skip
        report = {"component": m["component"], "variable": m["variable"], "variableMonitoring": [monitor]}
        st.queue(
            "NotifyMonitoringReport",
            {"requestId": p["requestId"], "seqNo": seq, "generatedAt": format_utc(now), "monitor": [report],
             "tbc": seq < len(found) - 1},
        )  # fmt: skip
    return {"status": "Accepted"}


def set_monitoring_base(st: Station201Core, p: Payload, now: datetime) -> Payload:
    if p["monitoringBase"] != "All":
        st.upkeep.monitors.clear()  # N03: back to the pre-configured (none) monitors
    return {"status": "Accepted"}


def set_monitoring_level(st: Station201Core, p: Payload, now: datetime) -> Payload:
    if not 0 <= p["severity"] <= 9:
        return {"status": "Rejected"}
    st.upkeep.monitoring_level = p["severity"]
    return {"status": "Accepted"}


def customer_information(st: Station201Core, p: Payload, now: datetime) -> Payload:
    if not (p.get("customerIdentifier") or p.get("idToken") or p.get("customerCertificate")):
        return {"status": "Invalid"}  # N09.FR.03: one way to tell the customer is needed
    if p["report"]:
        # The station keeps no customer data beyond its local list: that is all it can report.
        token = p.get("idToken", {}).get("idToken")
        info = st.upkeep.local_list.info_of(token) if token else None
        data = f"local list: {info['status']}" if info else "no data held"
        st.queue(
            "NotifyCustomerInformation",
            {"data": data, "seqNo": 0, "generatedAt": format_utc(now), "requestId": p["requestId"]},
        )
    if p["clear"] and p.get("idToken"):
        st.upkeep.local_list.remove(p["idToken"]["idToken"])
    return {"status": "Accepted"}


# -- O: display messages ---------------------------------------------------------------------------
def set_display_message(st: Station201Core, p: Payload, now: datetime) -> Payload:
    message = p["message"]
    if message["message"]["format"] not in _FORMATS:
        return {"status": "NotSupportedMessageFormat"}
    transaction = message.get("transactionId")
    if transaction is not None and st.by_transaction(transaction) is None:
        return {"status": "UnknownTransaction"}  # O02.FR.16
    st.upkeep.messages[message["id"]] = message
    return {"status": "Accepted"}


def get_display_messages(st: Station201Core, p: Payload, now: datetime) -> Payload:
    ids = p.get("id")
    found = [
        m
        for m in st.upkeep.messages.values()
        if (ids is None or m["id"] in ids)
        and ("priority" not in p or m["priority"] == p["priority"])
        and ("state" not in p or m.get("state") == p["state"])
    ]
    if not found:
        return {"status": "Unknown"}
    st.queue("NotifyDisplayMessages", {"requestId": p["requestId"], "messageInfo": found})
    return {"status": "Accepted"}


def clear_display_message(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {"status": "Accepted" if st.upkeep.messages.pop(p["id"], None) is not None else "Unknown"}


# -- E, B, I -----------------------------------------------------------------------------------------
def get_transaction_status(st: Station201Core, p: Payload, now: datetime) -> Payload:
    queued = any(a == "TransactionEvent" for a in st.endpoint.queued_actions())
    transaction = p.get("transactionId")
    if transaction is None:
        return {"messagesInQueue": queued}
    return {"ongoingIndicator": st.by_transaction(transaction) is not None, "messagesInQueue": queued}


def set_network_profile(st: Station201Core, p: Payload, now: datetime) -> Payload:
    # B09: the station stores the profile for a later switch; it keeps its current connection.
    st.upkeep.network_profiles[p["configurationSlot"]] = p["connectionData"]
    return {"status": "Accepted"}


def cost_updated(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {}  # I03: a display would show it; the virtual station has nothing to show it on


HANDLERS: Mapping[str, Callable[[Any, Payload, datetime], Payload]] = MappingProxyType(
    {
        "CertificateSigned": certificate_signed,
        "InstallCertificate": install_certificate,
        "DeleteCertificate": delete_certificate,
        "GetInstalledCertificateIds": get_installed_certificate_ids,
        "SendLocalList": send_local_list,
        "GetLocalListVersion": get_local_list_version,
        "UpdateFirmware": update_firmware,
        "PublishFirmware": publish_firmware,
        "UnpublishFirmware": unpublish_firmware,
        "GetLog": get_log,
        "SetVariableMonitoring": set_variable_monitoring,
        "ClearVariableMonitoring": clear_variable_monitoring,
        "GetMonitoringReport": get_monitoring_report,
        "SetMonitoringBase": set_monitoring_base,
        "SetMonitoringLevel": set_monitoring_level,
        "CustomerInformation": customer_information,
        "SetDisplayMessage": set_display_message,
        "GetDisplayMessages": get_display_messages,
        "ClearDisplayMessage": clear_display_message,
        "GetTransactionStatus": get_transaction_status,
        "SetNetworkProfile": set_network_profile,
        "CostUpdated": cost_updated,
    }
)
