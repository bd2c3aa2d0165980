"""CSMS-initiated CALLs: the mock CSMS sends them, the virtual stations answer and act on them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp_pair import Pair

from simulators.cpo.csms import Csms
from simulators.cpo.events import MeterSampled, TransactionEnded, TransactionStarted
from simulators.ocppj import OcppVersion
from simulators.station.base import VirtualStation
from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
EV = EvProfile(power_kw=Decimal("11"), energy_kwh=Decimal("10"))  # station max 7.4 kW -> 7400 W
VERSIONS: list[OcppVersion] = ["1.6", "2.0.1"]


def make_pair(version: OcppVersion, *, authorize: bool | None = None, timeout: int | None = None) -> Pair:
    cls: type[VirtualStation] = Station16 if version == "1.6" else Station201
    station = cls(
        "CS-1", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=600, call_timeout_s=timeout
    )
    policy = None if authorize is None else (lambda token: authorize)
    pair = Pair(station, Csms("CPO", heartbeat_interval_s=900, authorize=policy))
    pair.connect(T0)
    return pair


def charging(version: OcppVersion) -> Pair:
    pair = make_pair(version)
    pair.plug_in(1, "TOKEN-A", EV, T0 + timedelta(minutes=1))
    return pair


def after(pair: Pair, at: datetime) -> list[list[object]]:
    """Station CALLs sent at or after `at`."""
    calls = [(c.at, json.loads(c.frame)) for c in pair.trace if c.src == pair.sid]
    return [m for t, m in calls if t >= at and m[0] == 2]


def tx_id(pair: Pair) -> str:
    [started] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    return started.transaction_id


RESET = {
    "1.6": ("Reset", {"type": "Soft"}, "SoftReset"),
    "2.0.1": ("Reset", {"type": "Immediate"}, "ImmediateReset"),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_reset_ends_the_transaction_and_boots_again(version: OcppVersion) -> None:
    pair = charging(version)
    at = T0 + timedelta(minutes=31)
    action, payload, reason = RESET[version]
    answer = pair.command(action, payload, at)
    assert answer.payload == {"status": "Accepted"}
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert (ended.reason, ended.meter_stop_wh, ended.at) == (reason, 3700, at)  # 30 min at 7.4 kW
    assert pair.station.boots == 2 and pair.station.booted and pair.station.reconnect_requested
    actions = [m[2] for m in after(pair, at)]
    stop = "StopTransaction" if version == "1.6" else "TransactionEvent"
    assert actions.index(stop) < actions.index("BootNotification")
    # After the boot, every connector's status goes out again.
    assert actions[actions.index("BootNotification") + 1 :].count("StatusNotification") == 2
    assert pair.station.truth[-1].energy_wh == 3700


CONFIG = {
    "1.6": ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, {"status": "Accepted"}),
    "2.0.1": (
        "SetVariables",
        {
            "setVariableData": [
                {
                    "attributeValue": "60",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
        {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "HeartbeatInterval"},
                }
            ]
        },
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_configuration_changes_the_heartbeat(version: OcppVersion) -> None:
    pair = make_pair(version)
    action, payload, expected = CONFIG[version]
    assert pair.command(action, payload, T0 + timedelta(seconds=10)).payload == expected
    pair.run_until(T0 + timedelta(seconds=200))
    beats = [c.at for c in pair.trace if c.src == pair.sid and '"Heartbeat"' in c.frame]
    assert beats == [T0 + timedelta(seconds=s) for s in (70, 130, 190)]


@pytest.mark.parametrize(
    ("version", "action", "payload", "status"),
    [
        ("1.6", "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"}, "Rejected"),
        ("1.6", "ChangeConfiguration", {"key": "NoSuchKey", "value": "3"}, "NotSupported"),
        ("1.6", "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "soon"}, "Rejected"),
        ("1.6", "ClearCache", {}, "Accepted"),
        ("1.6", "DataTransfer", {"vendorId": "com.example"}, "UnknownVendorId"),
        ("1.6", "RemoteStopTransaction", {"transactionId": 99}, "Rejected"),
        ("1.6", "UnlockConnector", {"connectorId": 2}, "Unlocked"),
        ("1.6", "UnlockConnector", {"connectorId": 7}, "NotSupported"),
        ("1.6", "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}, "Accepted"),
        ("1.6", "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, "Scheduled"),
        ("1.6", "ClearChargingProfile", {"id": 4}, "Unknown"),
        ("2.0.1", "ClearCache", {}, "Accepted"),
        ("2.0.1", "DataTransfer", {"vendorId": "com.example"}, "UnknownVendorId"),
        ("2.0.1", "RequestStopTransaction", {"transactionId": "nope"}, "Rejected"),
        ("2.0.1", "UnlockConnector", {"evseId": 1, "connectorId": 1}, "OngoingAuthorizedTransaction"),
        ("2.0.1", "UnlockConnector", {"evseId": 2, "connectorId": 1}, "Unlocked"),
        ("2.0.1", "UnlockConnector", {"evseId": 9, "connectorId": 1}, "UnknownConnector"),
        ("2.0.1", "Reset", {"type": "OnIdle"}, "Scheduled"),
        ("2.0.1", "Reset", {"type": "Immediate", "evseId": 1}, "Rejected"),
        ("2.0.1", "TriggerMessage", {"requestedMessage": "BootNotification"}, "Rejected"),
        ("2.0.1", "TriggerMessage", {"requestedMessage": "SignV2GCertificate"}, "NotImplemented"),
        ("2.0.1", "GetChargingProfiles", {"requestId": 1, "chargingProfile": {}}, "NoProfiles"),
        ("2.0.1", "ClearChargingProfile", {"chargingProfileId": 4}, "Unknown"),
        ("2.0.1", "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}}, "Accepted"),
    ],
)
def test_answers_while_charging_on_connector_1(
    version: OcppVersion, action: str, payload: dict[str, object], status: str
) -> None:
    pair = charging(version)
    answer = pair.command(action, payload, T0 + timedelta(minutes=5))
    assert answer.payload is not None and answer.payload["status"] == status, answer


@pytest.mark.parametrize("version", VERSIONS)
def test_inoperative_connector_refuses_a_driver_and_notifies(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    payload: dict[str, object] = (
        {"connectorId": 1, "type": "Inoperative"}
        if version == "1.6"
        else {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    )
    assert pair.command("ChangeAvailability", payload, at).payload == {"status": "Accepted"}
    assert pair.station.connector_status(1) == "Unavailable"
    pair.plug_in(1, "TOKEN-A", EV, at + timedelta(minutes=1))
    assert not pair.station.truth[-1].authorized
    assert not [m for m in after(pair, at) if m[2] == "Authorize"]


TRIGGERS = {
    "1.6": [
        ({"requestedMessage": "Heartbeat"}, ["Heartbeat"]),
        ({"requestedMessage": "StatusNotification", "connectorId": 1}, ["StatusNotification"]),
        ({"requestedMessage": "MeterValues", "connectorId": 1}, ["MeterValues"]),
        ({"requestedMessage": "BootNotification"}, ["BootNotification"]),
        ({"requestedMessage": "FirmwareStatusNotification"}, ["FirmwareStatusNotification"]),
        ({"requestedMessage": "DiagnosticsStatusNotification"}, ["DiagnosticsStatusNotification"]),
    ],
    "2.0.1": [
        ({"requestedMessage": "Heartbeat"}, ["Heartbeat"]),
        (
            {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
            ["StatusNotification"],
        ),
        ({"requestedMessage": "MeterValues", "evse": {"id": 2}}, ["MeterValues"]),
        ({"requestedMessage": "TransactionEvent", "evse": {"id": 1}}, ["TransactionEvent"]),
        ({"requestedMessage": "FirmwareStatusNotification"}, ["FirmwareStatusNotification"]),
        ({"requestedMessage": "LogStatusNotification"}, ["LogStatusNotification"]),
    ],
}


@pytest.mark.parametrize(
    ("version", "payload", "sent"), [(v, p, s) for v in VERSIONS for p, s in TRIGGERS[v]]
)
def test_trigger_message_sends_it_after_the_answer(
    version: OcppVersion, payload: dict[str, object], sent: list[str]
) -> None:
    pair = charging(version)
    at = T0 + timedelta(minutes=7)
    answer = pair.command("TriggerMessage", payload, at)
    assert answer.payload == {"status": "Accepted"}
    assert [m[2] for m in after(pair, at)] == sent
    if sent == ["MeterValues"] and version == "1.6":
        [frame] = after(pair, at)
        assert frame[3]["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"  # type: ignore[index]


def _profile(version: OcppVersion, limit: int, unit: str = "W", *, purpose: str = "TxDefaultProfile") -> dict:
    schedule = {"chargingRateUnit": unit, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]}
    if version == "1.6":
        return {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": purpose,
                "chargingProfileKind": "Relative",
                "chargingSchedule": schedule,
            },
        }
    return {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 1,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": [{"id": 1, **schedule}],
        },
    }


def _power(pair: Pair) -> list[tuple[datetime, Decimal | None]]:
    return [(e.at, e.power_w) for e in pair.events if isinstance(e, MeterSampled)]


@pytest.mark.parametrize("version", VERSIONS)
def test_charging_profile_limits_the_power_in_the_physics(version: OcppVersion) -> None:
    pair = charging(version)  # 7400 W from 08:01
    at = T0 + timedelta(minutes=31)
    assert pair.command("SetChargingProfile", _profile(version, 16, "A"), at).payload == {
        "status": "Accepted"
    }
    # 16 A x 230 V x 3 phases = 11040 W: above the station's 7.4 kW, nothing changes.
    assert pair.station.connectors[1].session.limit_w == Decimal(11040)  # type: ignore[union-attr]
    assert {power for _at, power in _power(pair)} == {Decimal(7400)}
    assert pair.command("SetChargingProfile", _profile(version, 3700), at).payload == {"status": "Accepted"}
    assert _power(pair)[-1] == (at, Decimal(3700))  # a sample at the change shows the new power
    composite = {"connectorId": 1, "duration": 600} if version == "1.6" else {"evseId": 1, "duration": 600}
    answer = pair.command("GetCompositeSchedule", composite, at)
    assert answer.payload is not None and answer.payload["status"] == "Accepted"
    schedule = answer.payload["chargingSchedule" if version == "1.6" else "schedule"]
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 3700}]
    pair.unplug(1, at + timedelta(hours=1))
    # 30 min at 7400 W, then an hour at 3700 W.
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert ended.meter_stop_wh == 3700 + 3700
    truth = pair.station.truth[-1]
    assert truth.energy_wh == 7400 and truth.power_corners == ((at, Decimal("3.7")),)
    # Clearing the profile lifts the limit for the next session.
    assert pair.command("ClearChargingProfile", {}, at + timedelta(hours=2)).payload == {"status": "Accepted"}


@pytest.mark.parametrize("version", VERSIONS)
def test_remote_start_and_stop(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=2)
    if version == "1.6":
        answer = pair.command("RemoteStartTransaction", {"idTag": "REMOTE-1", "connectorId": 2}, at)
    else:
        payload = {"idToken": {"idToken": "REMOTE-1", "type": "Central"}, "remoteStartId": 5, "evseId": 2}
        answer = pair.command("RequestStartTransaction", payload, at)
    assert answer.payload is not None and answer.payload["status"] == "Accepted"
    [started] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    assert (started.connector_id, started.token_uid, started.at) == (2, "REMOTE-1", at)
    if version == "2.0.1":
        assert answer.payload["transactionId"] == started.transaction_id
        [event] = [m for m in after(pair, at) if m[2] == "TransactionEvent"]
        assert event[3]["triggerReason"] == "RemoteStart"  # type: ignore[index]
        assert event[3]["transactionInfo"]["remoteStartId"] == 5  # type: ignore[index]
    stop_at = at + timedelta(minutes=30)
    if version == "1.6":
        answer = pair.command(
            "RemoteStopTransaction", {"transactionId": int(started.transaction_id)}, stop_at
        )
    else:
        answer = pair.command("RequestStopTransaction", {"transactionId": started.transaction_id}, stop_at)
    assert answer.payload == {"status": "Accepted"}
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert (ended.reason, ended.meter_stop_wh) == ("Remote", 3700)
    assert pair.station.connector_status(2) == "Available"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_start_the_csms_refuses_stops_charging(version: OcppVersion) -> None:
    """Remote start without Authorize: the CSMS's policy refuses the token on the start itself."""
    pair = make_pair(version, authorize=False)
    at = T0 + timedelta(minutes=2)
    if version == "1.6":
        pair.command("RemoteStartTransaction", {"idTag": "BLOCKED-1"}, at)
    else:
        payload = {"idToken": {"idToken": "BLOCKED-1", "type": "Central"}, "remoteStartId": 1}
        pair.command("RequestStartTransaction", payload, at)
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert ended.reason == "DeAuthorized" and ended.at == at
    assert pair.station.truth[-1].energy_wh == 0
    assert pair.station.connector_status(1) == "Available"


@pytest.mark.parametrize("version", VERSIONS)
def test_unanswered_call_times_out_and_the_station_carries_on(version: OcppVersion) -> None:
    station = make_pair(version, timeout=30).station
    # The CSMS went silent: the heartbeat at +900 s gets no answer.
    frames = station.on_wakeup(T0 + timedelta(seconds=900))
    assert [json.loads(f)[2] for f in frames] == ["Heartbeat"]
    assert station.next_wakeup() == T0 + timedelta(seconds=930)
    station.plug_in(1, token_uid="TOKEN-A", ev=EV, now=T0 + timedelta(seconds=910))  # Authorize waits
    frames = station.on_wakeup(T0 + timedelta(seconds=930))
    assert [json.loads(f)[2] for f in frames] == ["StatusNotification"]
    frames = station.on_wakeup(T0 + timedelta(seconds=960))
    assert [json.loads(f)[2] for f in frames] == ["Authorize"]
    frames = station.on_wakeup(T0 + timedelta(seconds=990))  # no answer either: the driver is refused
    assert not station.truth[-1].authorized
    assert [json.loads(f)[2] for f in frames] == ["StatusNotification"]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_transaction_message_is_resent_after_a_timeout(version: OcppVersion) -> None:
    pair = make_pair(version, timeout=30)
    station = pair.station
    frames = station.plug_in(1, token_uid="TOKEN-A", ev=EV, now=T0 + timedelta(seconds=10))
    pair.pump(frames, T0 + timedelta(seconds=10))  # answered: charging, StartTransaction answered
    first = [json.loads(f) for f in station.unplug(1, T0 + timedelta(minutes=30))]
    stop = "StopTransaction" if version == "1.6" else "TransactionEvent"
    # The CSMS never answers: each CALL times out after 30 s and the next goes out; the stop is sent
    # tx_attempts (3) times with the same payload under fresh ids, and then the station moves on.
    out = first
    for k in range(1, 12):
        out += [json.loads(f) for f in station.on_wakeup(T0 + timedelta(minutes=30, seconds=30 * k))]
    ended = [m for m in out if m[2] == stop and m[3].get("eventType", "Ended") == "Ended"]
    assert len(ended) == 3 and ended[0][3] == ended[2][3] and ended[0][1] != ended[2][1]
    assert out[-1][2] == "StatusNotification"  # what was queued behind it went out too


def test_boot_answer_without_zone_or_with_lower_case_z_boots() -> None:
    for text in ("2024-05-01T08:00:00", "2024-05-01t08:00:00z", "2024-05-01T10:00:00+0200"):
        station = Station16("CS-9", connectors=1, max_power_kw=Decimal(11))
        [boot] = station.on_connected(T0)
        uid = json.loads(boot)[1]
        answer = json.dumps([3, uid, {"currentTime": text, "interval": 300, "status": "Accepted"}])
        station.on_frame(answer, T0)
        assert station.booted, text


@pytest.mark.parametrize("version", VERSIONS)
def test_get_configuration_and_base_report(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    if version == "1.6":
        answer = pair.command("GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]}, at)
        assert answer.payload == {
            "configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "600"}],
            "unknownKey": ["Nope"],
        }
        return
    get = {
        "getVariableData": [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}},
            {"component": {"name": "Nope"}, "variable": {"name": "X"}},
            {"component": {"name": "TxCtrlr"}, "variable": {"name": "X"}},
        ]
    }
    answer = pair.command("GetVariables", get, at)
    assert answer.payload is not None
    assert [(r["attributeStatus"], r.get("attributeValue")) for r in answer.payload["getVariableResult"]] == [
        ("Accepted", "600"),
        ("UnknownComponent", None),
        ("UnknownVariable", None),
    ]
    assert pair.command("GetBaseReport", {"requestId": 3, "reportBase": "FullInventory"}, at).payload == {
        "status": "Accepted"
    }
    [report] = [m for m in after(pair, at) if m[2] == "NotifyReport"]
    names = {d["variable"]["name"] for d in report[3]["reportData"]}  # type: ignore[index]
    assert {"HeartbeatInterval", "TxUpdatedInterval", "Model"} <= names
    # ... and the mock CSMS acknowledges it instead of answering NotSupported.
    assert not any('"NotSupported"' in c.frame for c in pair.trace)


def test_get_charging_profiles_reports_them() -> None:
    pair = charging("2.0.1")
    at = T0 + timedelta(minutes=3)
    pair.command("SetChargingProfile", _profile("2.0.1", 5000), at)
    answer = pair.command("GetChargingProfiles", {"requestId": 9, "chargingProfile": {"stackLevel": 1}}, at)
    assert answer.payload == {"status": "Accepted"}
    [report] = [m for m in after(pair, at) if m[2] == "ReportChargingProfiles"]
    assert report[3]["requestId"] == 9 and report[3]["chargingProfile"][0]["id"] == 7  # type: ignore[index]


@pytest.mark.parametrize("version", VERSIONS)
def test_reservations_are_kept_until_cancelled(version: OcppVersion) -> None:
    """ReserveNow / CancelReservation (1.6 Reservation profile, 2.0.1 H01/H02): what an OCPI
    RESERVE_NOW and CANCEL_RESERVATION become at the mock CPO."""
    pair = make_pair(version)
    payload = (
        {"connectorId": 1, "expiryDate": "2024-05-02T00:00:00Z", "idTag": "X", "reservationId": 1}
        if version == "1.6"
        else {
            "id": 1,
            "expiryDateTime": "2024-05-02T00:00:00Z",
            "idToken": {"idToken": "X", "type": "Central"},
        }
    )
    at = T0 + timedelta(minutes=1)
    assert pair.command("ReserveNow", payload, at).payload == {"status": "Accepted"}
    cancel = {"reservationId": 1}
    assert pair.command("CancelReservation", cancel, at).payload == {"status": "Accepted"}
    assert pair.command("CancelReservation", cancel, at).payload == {"status": "Rejected"}  # gone


def _reserve(
    version: OcppVersion, reservation_id: int, connector: int, token: str, ends: str = "2024-05-02T00:00:00Z"
) -> dict[str, object]:
    if version == "1.6":
        return {
            "connectorId": connector,
            "expiryDate": ends,
            "idTag": token,
            "reservationId": reservation_id,
        }
    return {
        "id": reservation_id,
        "evseId": connector,
        "expiryDateTime": ends,
        "idToken": {"idToken": token, "type": "ISO14443"},
    }


def _statuses(pair: Pair, version: OcppVersion, at: datetime, connector: int) -> list[str]:
    key, status = ("connectorId", "status") if version == "1.6" else ("evseId", "connectorStatus")
    return [m[3][status] for m in after(pair, at) if m[2] == "StatusNotification" and m[3][key] == connector]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_reserved_connector_reports_reserved_until_cancelled_or_used(version: OcppVersion) -> None:
    """1.6 §5.13 / 2.0.1 H01: Reserved while held; the reserved driver's start names the reservation;
    a remote start or a plug-in for anyone else is refused there."""
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    assert pair.command("ReserveNow", _reserve(version, 1, 1, "X"), at).payload == {"status": "Accepted"}
    assert pair.command("ReserveNow", _reserve(version, 2, 1, "Y"), at).payload == {"status": "Occupied"}
    assert pair.command("CancelReservation", {"reservationId": 1}, at).payload == {"status": "Accepted"}
    assert _statuses(pair, version, at, 1) == ["Reserved", "Available"]
    later = T0 + timedelta(minutes=2)
    pair.command("ReserveNow", _reserve(version, 3, 1, "X"), later)
    start = (
        ("RemoteStartTransaction", {"connectorId": 1, "idTag": "OTHER"})
        if version == "1.6"
        else (
            "RequestStartTransaction",
            {"evseId": 1, "remoteStartId": 5, "idToken": {"idToken": "OTHER", "type": "Central"}},
        )
    )
    assert pair.command(*start, later).payload["status"] == "Rejected"  # reserved for X
    pair.plug_in(1, "OTHER", EV, later)  # another driver plugs in there: no transaction, still reserved
    starts = ("Authorize", "StartTransaction", "TransactionEvent")
    assert not [m for m in after(pair, later) if m[2] in starts]
    assert pair.station.truth[-1].token_uid == "OTHER" and pair.station.connector_status(1) == "Reserved"
    pair.plug_in(1, "X", EV, later)  # the reserved driver arrives
    started = [m[3] for m in after(pair, later) if m[2] in ("StartTransaction", "TransactionEvent")]
    assert started[0]["reservationId"] == 3
    assert pair.station.reservations == {}  # used up


def test_plugging_into_a_busy_connector_is_a_bench_fault_not_a_refusal() -> None:
    from simulators.station.states import InvalidTransition

    pair = make_pair("1.6")
    pair.command("RemoteStartTransaction", {"idTag": "REMOTE-1", "connectorId": 1}, T0 + timedelta(minutes=1))
    with pytest.raises(InvalidTransition):
        pair.station.plug_in(1, token_uid="TOKEN-A", ev=EV, now=T0 + timedelta(minutes=2))
    assert pair.station.truth == []  # nothing graded


def test_reset_on_idle_waits_for_the_transaction_to_end() -> None:
    pair = charging("2.0.1")
    at = T0 + timedelta(minutes=10)
    assert pair.command("Reset", {"type": "OnIdle"}, at).payload == {"status": "Scheduled"}
    assert pair.station.boots == 1
    pair.unplug(1, at + timedelta(minutes=5))
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert ended.reason == "EVDisconnected"  # the driver's own end, not the reset's
    assert pair.station.boots == 2
    [*_, boot] = [m for m in after(pair, at) if m[2] == "BootNotification"]
    assert boot[3]["reason"] == "RemoteReset"  # type: ignore[index]


@pytest.mark.parametrize("version", VERSIONS)
def test_scheduled_unavailability_applies_when_the_transaction_ends(version: OcppVersion) -> None:
    pair = charging(version)
    at = T0 + timedelta(minutes=10)
    payload: dict[str, object] = (
        {"connectorId": 1, "type": "Inoperative"}
        if version == "1.6"
        else {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    )
    assert pair.command("ChangeAvailability", payload, at).payload == {"status": "Scheduled"}
    pair.unplug(1, at + timedelta(minutes=5))
    assert pair.station.connector_status(1) == "Unavailable"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_reservation_not_used_in_time_expires(version: OcppVersion) -> None:
    pair = make_pair(version)
    at = T0 + timedelta(minutes=1)
    pair.command("ReserveNow", _reserve(version, 4, 2, "X", ends="2024-05-01T08:10:00Z"), at)
    pair.run_until(T0 + timedelta(minutes=9))
    assert _statuses(pair, version, at, 2) == ["Reserved"]
    pair.run_until(T0 + timedelta(minutes=15))
    assert _statuses(pair, version, at, 2) == ["Reserved", "Available"]
    updates = [m[3] for m in after(pair, at) if m[2] == "ReservationStatusUpdate"]
    assert updates == (
        [] if version == "1.6" else [{"reservationId": 4, "reservationUpdateStatus": "Expired"}]
    )
    assert pair.station.reservations == {} and pair.station.reservation_ends == {}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_wide_reservation_keeps_one_connector_for_its_holder(version: OcppVersion) -> None:
    """1.6 §5.13 connector 0 / 2.0.1 H01 without evseId: others may charge while a connector stays
    free for the holder; the last free one is refused to them, and the holder's start uses it up."""
    pair = make_pair(version)
    assert len(pair.station.connectors) == 2
    at = T0 + timedelta(minutes=1)
    payload = _reserve(version, 7, 0, "X")
    if version == "2.0.1":
        del payload["evseId"]  # the whole station
    assert pair.command("ReserveNow", payload, at).payload == {"status": "Accepted"}
    pair.plug_in(1, "A", EV, at)  # one connector still free for X: A charges
    assert pair.station.connector_status(1) != "Available"
    pair.plug_in(2, "B", EV, at)  # the last free one: B is turned away there
    assert pair.station.truth[-1].token_uid == "B" and pair.station.truth[-1].refused_by_station == "reserved"
    assert pair.station.connector_status(2) == "Available"
    later = at + timedelta(minutes=1)
    pair.plug_in(2, "X", EV, later)  # the holder arrives
    started = [m[3] for m in after(pair, later) if m[2] in ("StartTransaction", "TransactionEvent")]
    assert started and started[0]["reservationId"] == 7  # both versions name it so
    assert pair.station.reservations == {} and pair.station.reservation_ends == {}
