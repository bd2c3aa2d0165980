"""What an OCPP 2.0.1 station does with the CSMS's CALLs: blocks B (provisioning), F (remote control),
G (availability), K (smart charging), C (clear cache) and P (DataTransfer). Its device model
variables, as data, are in v201_variables.py.

Each handler takes the station, the request payload (schema-valid) and the time, acts, and returns the
response payload; messages it queues (NotifyReport, ReportChargingProfiles, a triggered message) go
out after the response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj import Payload
from simulators.ocppj.meter import meter_value, wire_number
from simulators.ocppj.timestamps import parse_timestamp
from simulators.station import smart
from simulators.station.upkeep import csr_pem
from simulators.station.v201_core import Station201Core
from simulators.station.v201_report import get_report, report_entry
from simulators.station.v201_variables import VARIABLES, Var

_COMPONENTS = frozenset(c for c, _v, _i in VARIABLES)


def _lookup(item: Payload) -> tuple[str, Var | None]:
    component, variable = item["component"]["name"], item["variable"]
    if component not in _COMPONENTS:
        return "UnknownComponent", None
    var = VARIABLES.get((component, variable["name"], variable.get("instance")))
    return ("Accepted", var) if var is not None else ("UnknownVariable", None)


def get_variables(st: Station201Core, p: Payload, now: datetime) -> Payload:
    results = []
    for item in p["getVariableData"]:
        status, var = _lookup(item)
        if var is not None and item.get("attributeType", "Actual") != "Actual":
            status, var = "NotSupportedAttributeType", None
        result: Payload = {
            "attributeStatus": status,
            "component": item["component"],
            "variable": item["variable"],
        }
        if var is not None:
            result["attributeValue"] = var.get(st)
        results.append(result)
    return {"getVariableResult": results}


def set_variables(st: Station201Core, p: Payload, now: datetime) -> Payload:
    results = []
    for item in p["setVariableData"]:
        status, var = _lookup(item)
        if var is not None and item.get("attributeType", "Actual") != "Actual":
            status = "NotSupportedAttributeType"
        elif var is not None:
            try:
                if var.put is None:
                    raise ValueError("read-only")
                var.put(st, item["attributeValue"], now)
            except ValueError:
                status = "Rejected"
        results.append(
            {"attributeStatus": status, "component": item["component"], "variable": item["variable"]}
        )
    return {"setVariableResult": results}


def get_base_report(st: Station201Core, p: Payload, now: datetime) -> Payload:
    configurable = p["reportBase"] == "ConfigurationInventory"
    data = [
        report_entry(st, key, var) for key, var in VARIABLES.items() if not (configurable and var.put is None)
    ]
    report = {
        "requestId": p["requestId"],
        "generatedAt": format_utc(now),
        "seqNo": 0,
        "tbc": False,
        "reportData": data,
    }
    st.queue("NotifyReport", report)
    return {"status": "Accepted"}


def reset(st: Station201Core, p: Payload, now: datetime) -> Payload:
    if "evseId" in p:
        return {"status": "Rejected"}  # B12 (reset of one EVSE) is optional: not supported
    done = st.reset("soft_reset", now, on_idle=p["type"] == "OnIdle")
    return {"status": "Accepted" if done else "Scheduled"}


def request_start(st: Station201Core, p: Payload, now: datetime) -> Payload:
    profile = p.get("chargingProfile")
    if profile is not None and profile["chargingProfilePurpose"] != "TxProfile":
        return {"status": "Rejected"}  # F01.FR.12: only a TxProfile may come with a remote start
    conn = st.remote_start(p.get("evseId"), p["idToken"]["idToken"], now, remote_start_id=p["remoteStartId"])
    if conn is None:
        return {"status": "Rejected"}
    if profile is not None:
        read = smart.read_profile(profile, conn.connector_id, now, version_201=True)
        if read is not None:
            st.install_profile(read, now)
    session = conn.session
    tx = session.transaction_id if session is not None else None
    return {"status": "Accepted", **({"transactionId": tx} if tx else {})}


def request_stop(st: Station201Core, p: Payload, now: datetime) -> Payload:
    conn = st.by_transaction(p["transactionId"])
    if conn is None:
        return {"status": "Rejected"}
    st.end_transaction(conn, now, "remote")
    return {"status": "Accepted"}


def reserve_now(st: Station201Core, p: Payload, now: datetime) -> Payload:
    ends = parse_timestamp(p["expiryDateTime"]) or now  # an unreadable expiry: over at once
    return {"status": st.reserve(p["id"], p.get("evseId"), p["idToken"]["idToken"], now, ends)}


def cancel_reservation(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {"status": st.cancel_reservation(p["reservationId"], now)}


def unlock_connector(st: Station201Core, p: Payload, now: datetime) -> Payload:
    conn = st.connectors.get(p["evseId"])
    if conn is None or p["connectorId"] != 1:
        return {"status": "UnknownConnector"}
    if conn.session is not None and conn.session.started_at is not None:
        return {"status": "OngoingAuthorizedTransaction"}  # F05.FR.02
    return {"status": "Unlocked"}


def change_availability(st: Station201Core, p: Payload, now: datetime) -> Payload:
    evse = p.get("evse", {}).get("id", 0)
    return {"status": st.set_available(evse, p["operationalStatus"] == "Operative", now)}


def clear_cache(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {"status": "Accepted"}  # no authorization cache is kept


def data_transfer(st: Station201Core, p: Payload, now: datetime) -> Payload:
    return {"status": "UnknownVendorId"}


def trigger_message(st: Station201Core, p: Payload, now: datetime) -> Payload:
    what, evse = p["requestedMessage"], p.get("evse", {}).get("id")
    if evse is not None and evse not in st.connectors:
        return {"status": "Rejected"}
    targets = [st.connectors[evse]] if evse else list(st.connectors.values())
    if what == "BootNotification":
        if st.booted:
            return {"status": "Rejected"}  # F06.FR.17: not once the boot was accepted
        st.queue("BootNotification", st._boot_payload(reason="Triggered"))
    elif what == "Heartbeat":
        st.queue("Heartbeat", {})
    elif what == "StatusNotification":
        for conn in targets:
            st.send_status(conn, now)
    elif what == "MeterValues":
        for conn in targets:
            register = (
                conn.session.reading_wh(now) if conn.session and conn.session.started_at else conn.register_wh
            )
            value = meter_value("2.0.1", now, register, None, "Trigger")
            st.queue("MeterValues", {"evseId": conn.connector_id, "meterValue": [value]})
    elif what == "TransactionEvent":
        running = [c for c in targets if c.session is not None and c.session.started_at is not None]
        if not running:
            return {"status": "Rejected"}
        for conn in running:
            st.event(conn, "Trigger", now)
    elif what == "FirmwareStatusNotification":
        st.queue("FirmwareStatusNotification", st.upkeep.triggered("firmware"))
    elif what == "LogStatusNotification":
        st.queue("LogStatusNotification", st.upkeep.triggered("log"))
    elif what == "PublishFirmwareStatusNotification":
        st.queue("PublishFirmwareStatusNotification", st.upkeep.triggered("publish"))
    elif what == "SignChargingStationCertificate":
        csr = csr_pem(st.station_id, st.vendor)
        st.queue("SignCertificate", {"csr": csr, "certificateType": "ChargingStationCertificate"})
    else:
        return {"status": "NotImplemented"}  # V2G certificates (ISO 15118)
    return {"status": "Accepted"}


def set_charging_profile(st: Station201Core, p: Payload, now: datetime) -> Payload:
    evse, wire = p["evseId"], p["chargingProfile"]
    purpose = wire["chargingProfilePurpose"]
    if evse != 0 and evse not in st.connectors:
        return {"status": "Rejected"}
    if purpose == "ChargingStationExternalConstraints":
        return {"status": "Rejected"}  # K01.FR.22: set by an external system, never by the CSMS
    if purpose == "ChargingStationMaxProfile" and evse != 0:
        return {"status": "Rejected"}  # K01.FR.03
    if purpose == "TxProfile":
        conn = st.connectors.get(evse)
        session = conn.session if conn else None
        if (
            session is None
            or session.started_at is None
            or wire.get("transactionId") != session.transaction_id
        ):
            return {"status": "Rejected"}  # K01.FR.09: a TxProfile names the running transaction
    profile = smart.read_profile(wire, evse, now, version_201=True)
    if profile is None:
        return {"status": "Rejected"}
    st.install_profile(profile, now)
    return {"status": "Accepted"}


def clear_charging_profile(st: Station201Core, p: Payload, now: datetime) -> Payload:
    criteria = p.get("chargingProfileCriteria", {})
    purpose = smart.PURPOSE.get(criteria.get("chargingProfilePurpose", ""))

    def keep(profile: smart.Profile) -> bool:
        if "chargingProfileId" in p:
            return profile.profile_id != p["chargingProfileId"]
        return not (
            ("evseId" not in criteria or profile.connector == criteria["evseId"])
            and (purpose is None or profile.purpose == purpose)
            and ("stackLevel" not in criteria or profile.stack == criteria["stackLevel"])
        )

    return {"status": "Accepted" if st.clear_profiles(keep, now) else "Unknown"}


def get_composite_schedule(st: Station201Core, p: Payload, now: datetime) -> Payload:
    evse = p["evseId"]
    if evse != 0 and evse not in st.connectors:
        return {"status": "Rejected"}
    unit = p.get("chargingRateUnit", "W")
    periods = [
        {"startPeriod": start, "limit": _in_unit(limit, unit)}
        for start, limit in st.composite(evse, now, p["duration"])
    ]
    schedule = {
        "evseId": evse,
        "duration": p["duration"],
        "scheduleStart": format_utc(now),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    return {"status": "Accepted", "schedule": schedule}


def get_charging_profiles(st: Station201Core, p: Payload, now: datetime) -> Payload:
    wanted = p["chargingProfile"]
    purpose = smart.PURPOSE.get(wanted.get("chargingProfilePurpose", ""))
    sources = wanted.get("chargingLimitSource")
    found = [
        profile
        for profile in st.profiles
        if ("evseId" not in p or profile.connector == p["evseId"])
        and (purpose is None or profile.purpose == purpose)
        and ("stackLevel" not in wanted or profile.stack == wanted["stackLevel"])
        and ("chargingProfileId" not in wanted or profile.profile_id in wanted["chargingProfileId"])
        and (sources is None or "CSO" in sources)  # every profile here came from the CSMS
    ]
    if not found:
        return {"status": "NoProfiles"}
    evses = sorted({profile.connector for profile in found})
    for n, evse in enumerate(evses):
        report = {
            "requestId": p["requestId"],
            "chargingLimitSource": "CSO",
            "evseId": evse,
            "chargingProfile": [profile.wire for profile in found if profile.connector == evse],
            "tbc": n < len(evses) - 1,
        }
        st.queue("ReportChargingProfiles", report)
    return {"status": "Accepted"}


def _in_unit(limit_w: Any, unit: str) -> Any:
    value = limit_w if unit == "W" else limit_w / (smart.VOLTS * smart.DEFAULT_PHASES)
    return wire_number(value.quantize(smart.ONE_TENTH))


HANDLERS: Mapping[str, Callable[[Any, Payload, datetime], Payload]] = MappingProxyType(
    {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "GetBaseReport": get_base_report,
        "GetReport": get_report,
        "Reset": reset,
        "RequestStartTransaction": request_start,
        "RequestStopTransaction": request_stop,
        "TriggerMessage": trigger_message,
        "UnlockConnector": unlock_connector,
        "ReserveNow": reserve_now,
        "CancelReservation": cancel_reservation,
        "ChangeAvailability": change_availability,
        "ClearCache": clear_cache,
        "DataTransfer": data_transfer,
        "SetChargingProfile": set_charging_profile,
        "ClearChargingProfile": clear_charging_profile,
        "GetCompositeSchedule": get_composite_schedule,
        "GetChargingProfiles": get_charging_profiles,
    }
)
