"""What an OCPP 1.6J station does with the Central System's CALLs: Core, Remote Trigger and Smart
Charging profiles (1.6 §5), and its configuration keys (§9.1) as data.

Each handler takes the station, the CALL's payload (schema-valid) and the time, acts, and returns the
.conf payload. Messages a handler queues (a triggered message, a StopTransaction) go out after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj import Payload
from simulators.ocppj.meter import meter_value, wire_number
from simulators.ocppj.timestamps import parse_timestamp
from simulators.station import smart
from simulators.station.base import VirtualStation  # not Station16: v16.py imports this module
from simulators.station.setting_values import seconds_text, setting_bool, setting_int, setting_seconds
from simulators.station.upkeep import LOCAL_LIST_MAX, SEND_LIST_MAX


@dataclass(frozen=True, slots=True)
class Key:
    """A configuration key: how to read it and, unless read-only, to write it (raising ValueError
    on a value it cannot take)."""

    get: Callable[[VirtualStation], str]
    put: Callable[[VirtualStation, str, datetime], None] | None = None


KEYS: Mapping[str, Key] = MappingProxyType(
    {
        "HeartbeatInterval": Key(
            lambda st: seconds_text(st._heartbeat),
            lambda st, v, now: st.set_heartbeat(setting_seconds(v), now),
        ),
        "MeterValueSampleInterval": Key(
            lambda st: seconds_text(st.meter_interval),
            lambda st, v, now: st.set_meter_interval(setting_seconds(v, 1), now),
        ),
        "AuthorizeRemoteTxRequests": Key(
            lambda st: str(st.authorize_remote).lower(),
            lambda st, v, now: setattr(st, "authorize_remote", setting_bool(v)),
        ),
        "StopTransactionOnInvalidId": Key(
            lambda st: str(st.stop_on_invalid).lower(),
            lambda st, v, now: setattr(st, "stop_on_invalid", setting_bool(v)),
        ),
        "TransactionMessageAttempts": Key(
            lambda st: str(st.tx_attempts), lambda st, v, now: setattr(st, "tx_attempts", setting_int(v, 1))
        ),
        "NumberOfConnectors": Key(lambda st: str(len(st.connectors))),
        "SupportedFeatureProfiles": Key(
            lambda st: (
                "Core,FirmwareManagement,LocalAuthListManagement,RemoteTrigger,Reservation,SmartCharging"
            )
        ),
        "LocalAuthListEnabled": Key(
            lambda st: str(st.upkeep.local_list_enabled).lower(),
            lambda st, v, now: setattr(st.upkeep, "local_list_enabled", setting_bool(v)),
        ),
        "LocalAuthorizeOffline": Key(
            lambda st: str(st.upkeep.local_authorize_offline).lower(),
            lambda st, v, now: setattr(st.upkeep, "local_authorize_offline", setting_bool(v)),
        ),
        "LocalAuthListMaxLength": Key(lambda st: str(LOCAL_LIST_MAX)),
        "SendLocalListMaxLength": Key(lambda st: str(SEND_LIST_MAX)),
        "ChargeProfileMaxStackLevel": Key(lambda st: "8"),
        "ChargingScheduleAllowedChargingRateUnit": Key(lambda st: "Current,Power"),
        "ChargingScheduleMaxPeriods": Key(lambda st: "24"),
        "MaxChargingProfilesInstalled": Key(lambda st: "16"),
    }
)


def change_availability(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    return {"status": st.set_available(p["connectorId"], p["type"] == "Operative", now)}


def change_configuration(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    key = KEYS.get(p["key"])
    if key is None:
        return {"status": "NotSupported"}
    if key.put is None:
        return {"status": "Rejected"}  # read-only
    try:
        key.put(st, p["value"], now)
    except ValueError:
        return {"status": "Rejected"}
    return {"status": "Accepted"}


def get_configuration(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    wanted = p.get("key") or list(KEYS)
    known = [
        {"key": k, "readonly": KEYS[k].put is None, "value": KEYS[k].get(st)} for k in wanted if k in KEYS
    ]
    unknown = [k for k in wanted if k not in KEYS]
    return {"configurationKey": known, **({"unknownKey": unknown} if unknown else {})}


def clear_cache(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    return {"status": "Accepted"}  # no authorization cache is kept: there is nothing to clear


def data_transfer(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    return {"status": "UnknownVendorId"}  # no vendor extension


def remote_start(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    profile = p.get("chargingProfile")
    if profile is not None and profile["chargingProfilePurpose"] != "TxProfile":
        return {"status": "Rejected"}  # §5.11: only a TxProfile may come with a remote start
    conn = st.remote_start(p.get("connectorId"), p["idTag"], now)
    if conn is None:
        return {"status": "Rejected"}
    if profile is not None:
        read = smart.read_profile(profile, conn.connector_id, now, version_201=False)
        if read is not None:
            st.install_profile(read, now)
    return {"status": "Accepted"}


def remote_stop(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    conn = st.by_transaction(str(p["transactionId"]))
    if conn is None:
        return {"status": "Rejected"}
    st.end_transaction(conn, now, "remote")
    return {"status": "Accepted"}


def reset(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    st.reset("hard_reset" if p["type"] == "Hard" else "soft_reset", now)
    return {"status": "Accepted"}


def reserve_now(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    ends = parse_timestamp(p["expiryDate"]) or now  # an unreadable expiry: over at once
    return {"status": st.reserve(p["reservationId"], p["connectorId"], p["idTag"], now, ends)}


def cancel_reservation(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    return {"status": st.cancel_reservation(p["reservationId"], now)}


def unlock_connector(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    conn = st.connectors.get(p["connectorId"])
    if conn is None:
        return {"status": "NotSupported"}
    if conn.session is not None and conn.session.started_at is not None:
        st.end_transaction(conn, now, "unlock")  # §5.18: stop the transaction, then unlock
    return {"status": "Unlocked"}


def trigger_message(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    what, cid = p["requestedMessage"], p.get("connectorId")
    if cid is not None and cid not in st.connectors and cid != 0:
        return {"status": "Rejected"}
    targets = [st.connectors[cid]] if cid else list(st.connectors.values())
    if what == "BootNotification":
        st.queue("BootNotification", st._boot_payload())
    elif what == "Heartbeat":
        st.queue("Heartbeat", {})
    elif what == "StatusNotification":
        for conn in targets:
            st.send_status(conn, now)
    elif what == "MeterValues":
        for conn in targets:
            trigger_sample(st, conn.connector_id, now)
    elif what == "DiagnosticsStatusNotification":
        st.queue("DiagnosticsStatusNotification", {"status": st.upkeep.current("diagnostics")})
    elif what == "FirmwareStatusNotification":
        st.queue("FirmwareStatusNotification", {"status": st.upkeep.current("firmware")})
    else:  # pragma: no cover - the schema allows no other value
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}


def trigger_sample(st: VirtualStation, cid: int, now: datetime) -> None:
    conn = st.connectors[cid]
    if conn.session is not None and conn.session.started_at is not None:
        st._sample(conn, conn.session, now, "trigger")
    else:
        value = meter_value("1.6", now, conn.register_wh, None, "Trigger")
        st.queue("MeterValues", {"connectorId": cid, "meterValue": [value]})


def set_charging_profile(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    cid, wire = p["connectorId"], p["csChargingProfiles"]
    if cid != 0 and cid not in st.connectors:
        return {"status": "Rejected"}
    purpose = wire["chargingProfilePurpose"]
    if purpose == "ChargePointMaxProfile" and cid != 0:
        return {"status": "Rejected"}  # §3.13.1: only on connector 0
    if purpose == "TxProfile":
        conn = st.connectors.get(cid)
        session = conn.session if conn else None
        if session is None or session.started_at is None:
            return {"status": "Rejected"}  # §5.16.1: a TxProfile needs a transaction on the connector
        if "transactionId" in wire and str(wire["transactionId"]) != session.transaction_id:
            return {"status": "Rejected"}
    profile = smart.read_profile(wire, cid, now, version_201=False)
    if profile is None:
        return {"status": "Rejected"}
    st.install_profile(profile, now)
    return {"status": "Accepted"}


def clear_charging_profile(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    purpose = smart.PURPOSE.get(p.get("chargingProfilePurpose", ""))

    def keep(profile: smart.Profile) -> bool:
        if "id" in p:  # §5.5: with an id, the other criteria are ignored
            return profile.profile_id != p["id"]
        return not (
            ("connectorId" not in p or profile.connector == p["connectorId"])
            and (purpose is None or profile.purpose == purpose)
            and ("stackLevel" not in p or profile.stack == p["stackLevel"])
        )

    return {"status": "Accepted" if st.clear_profiles(keep, now) else "Unknown"}


def get_composite_schedule(st: VirtualStation, p: Payload, now: datetime) -> Payload:
    cid = p["connectorId"]
    if cid != 0 and cid not in st.connectors:
        return {"status": "Rejected"}
    unit = p.get("chargingRateUnit", "W")
    steps = st.composite(cid, now, p["duration"])
    periods = [{"startPeriod": start, "limit": _in_unit(limit, unit)} for start, limit in steps]
    schedule = {
        "duration": p["duration"],
        "startSchedule": format_utc(now),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }
    return {
        "status": "Accepted",
        "connectorId": cid,
        "scheduleStart": format_utc(now),
        "chargingSchedule": schedule,
    }


def _in_unit(limit_w: Any, unit: str) -> Any:
    value = limit_w if unit == "W" else limit_w / (smart.VOLTS * smart.DEFAULT_PHASES)
    return wire_number(value.quantize(smart.ONE_TENTH))


HANDLERS: Mapping[str, Callable[[Any, Payload, datetime], Payload]] = MappingProxyType(
    {
        "ChangeAvailability": change_availability,
        "ChangeConfiguration": change_configuration,
        "ClearCache": clear_cache,
        "DataTransfer": data_transfer,
        "GetConfiguration": get_configuration,
        "RemoteStartTransaction": remote_start,
        "RemoteStopTransaction": remote_stop,
        "Reset": reset,
        "UnlockConnector": unlock_connector,
        "ReserveNow": reserve_now,
        "CancelReservation": cancel_reservation,
        "TriggerMessage": trigger_message,
        "SetChargingProfile": set_charging_profile,
        "ClearChargingProfile": clear_charging_profile,
        "GetCompositeSchedule": get_composite_schedule,
    }
)
