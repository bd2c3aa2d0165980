"""OCPP 1.6 upkeep CALLs: Local Auth List Management (§5.10, §5.15), Firmware Management
(§5.8 GetDiagnostics, §5.19 UpdateFirmware) and the security extension ("Improved security for
OCPP 1.6-J": certificates, GetLog, ExtendedTriggerMessage, SignedUpdateFirmware).

State and job timelines live in `upkeep.py`; here the wire: what each request means and what the
station answers and sends later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj import Payload
from simulators.ocppj.timestamps import parse_timestamp
from simulators.station.base import VirtualStation  # not Station16: v16.py imports this module
from simulators.station.upkeep import (
    DOWNLOADING,
    INSTALL,
    UPLOADING,
    ZERO,
    Step,
    add_certificate,
    certificate_hash_data,
    csr_pem,
    delete_certificate,
    firmware_name,
    get_log,
    install_certificate,
    steps,
)


def _start_at(now: datetime, wanted: str | None) -> datetime:
    """When a job starts: at the requested instant, or now if that is past (or not given or not
    readable: a schema-valid date-time the station cannot read must not raise)."""
    at = parse_timestamp(wanted) if wanted else None
    return max(now, at) if at is not None else now


def send_local_list(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    if not st.upkeep.local_list_enabled:
        return {"status": "NotSupported"}  # LocalAuthListEnabled is false
    items = [(e["idTag"], e.get("idTagInfo")) for e in p.get("localAuthorizationList", [])]
    full = p["updateType"] == "Full"
    return {"status": st.upkeep.local_list.update(p["listVersion"], full, items)}


def get_local_list_version(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    # §5.10: -1 when the local list is disabled, 0 when it is empty.
    return {"listVersion": st.upkeep.local_list.version if st.upkeep.local_list_enabled else -1}


def _install(st: VirtualStation, image: str, notification: str, extra: Payload) -> list[Step]:
    """Downloading … Installed, the install once no transaction runs, then the reboot that reports
    the new firmware version at boot (and, signed, a FirmwareUpdated security event)."""

    def reboot(at: datetime) -> None:
        st.upkeep.firmware_version = firmware_name(image)
        st.reset("hard_reset", at)
        if notification == "SignedFirmwareStatusNotification":
            st.queue("SecurityEventNotification", {"type": "FirmwareUpdated", "timestamp": format_utc(at)})

    verified = [(ZERO, "SignatureVerified", False)] if extra else []
    job = steps(
        notification,
        [*DOWNLOADING, *verified, (ZERO, "Installing", True)],
        extra,
    )
    installed = Step(INSTALL, notification, {"status": "Installed", **extra}, then=reboot)
    return [*job, installed]


def update_firmware(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    job = _install(st, p["location"], "FirmwareStatusNotification", {})
    st.upkeep.start("firmware", _start_at(now, p["retrieveDate"]), job)
    return {}


def signed_update_firmware(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    firmware = p["firmware"]
    if certificate_hash_data(firmware["signingCertificate"]) is None:
        return {"status": "InvalidCertificate"}
    status = "AcceptedCanceled" if st.upkeep.running("firmware") else "Accepted"
    extra = {"requestId": p["requestId"]}
    job = _install(st, firmware["location"], "SignedFirmwareStatusNotification", extra)
    st.upkeep.start("firmware", _start_at(now, firmware["retrieveDateTime"]), job)
    return {"status": status}


def get_diagnostics(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    name = f"{st.station_id}-diagnostics.log"
    job = steps("DiagnosticsStatusNotification", UPLOADING, {})
    st.upkeep.start("diagnostics", now, job)
    return {"fileName": name}


def certificate_signed(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    added = add_certificate(st.upkeep, "ChargePointCertificate", p["certificateChain"])
    return {"status": "Accepted" if added else "Rejected"}


def get_installed_certificate_ids(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    found = [c.hash_data for c in st.upkeep.certificates if c.kind == p["certificateType"]]
    return {"status": "Accepted", "certificateHashData": found} if found else {"status": "NotFound"}


def extended_trigger_message(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    what = p["requestedMessage"]
    if what == "SignChargePointCertificate":
        st.queue("SignCertificate", {"csr": csr_pem(st.station_id, st.vendor)})
        return {"status": "Accepted"}
    if what == "LogStatusNotification":
        st.queue("LogStatusNotification", {"status": st.upkeep.current("log")})
        return {"status": "Accepted"}
    if what == "FirmwareStatusNotification":
        st.queue("SignedFirmwareStatusNotification", {"status": st.upkeep.current("firmware")})
        return {"status": "Accepted"}
    from simulators.station.v16_calls import trigger_message  # the Core set shares its behaviour

    return trigger_message(st, p, now)


HANDLERS: Mapping[str, Callable[[Any, Payload, datetime], Payload]] = MappingProxyType(
    {
        "SendLocalList": send_local_list,
        "GetLocalListVersion": get_local_list_version,
        "UpdateFirmware": update_firmware,
        "GetDiagnostics": get_diagnostics,
        "SignedUpdateFirmware": signed_update_firmware,
        "GetLog": get_log,
        "InstallCertificate": install_certificate,
        "CertificateSigned": certificate_signed,
        "DeleteCertificate": delete_certificate,
        "GetInstalledCertificateIds": get_installed_certificate_ids,
        "ExtendedTriggerMessage": extended_trigger_message,
    }
)
