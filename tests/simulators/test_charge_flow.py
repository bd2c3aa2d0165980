"""Both OCPP versions through a full charge, a refused token, and protocol errors, via Pair."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp_pair import Pair

from simulators.cpo.csms import Csms
from simulators.cpo.events import (
    AuthorizationRequested,
    ChargingStateChanged,
    ConnectorStatusChanged,
    MeterSampled,
    StationBooted,
    TransactionEnded,
    TransactionStarted,
)
from simulators.ocppj import ERROR_CODES, OcppVersion
from simulators.station.base import VirtualStation
from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
EV = EvProfile(power_kw=Decimal("11"), energy_kwh=Decimal("10"))  # station max 7.4 kW -> 7400 W
VERSIONS: list[OcppVersion] = ["1.6", "2.0.1"]


def make_pair(version: OcppVersion, policy: bool = True, **kw: object) -> Pair:
    cls: type[VirtualStation] = Station16 if version == "1.6" else Station201
    station = cls("CS-1", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=600)
    pair = Pair(station, Csms("CPO", heartbeat_interval_s=900), policy=lambda token: policy)
    for key, value in kw.items():
        setattr(pair, key, value)
    pair.connect(T0)
    return pair


def full_charge(version: OcppVersion) -> Pair:
    pair = make_pair(version)
    pair.plug_in(1, "TOKEN-A", EV, T0 + timedelta(minutes=5))
    pair.unplug(1, T0 + timedelta(hours=3))
    return pair


@pytest.mark.parametrize("version", VERSIONS)
def test_full_charge_events_and_truth(version: OcppVersion) -> None:
    pair = full_charge(version)
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(hours=3)
    # 10 kWh at 7400 W: ceil(10000 * 3600 / 7400) = 4865 s after the start.
    full_at = start + timedelta(seconds=4865)

    assert isinstance(pair.events[0], StationBooted)
    [auth] = [e for e in pair.events if isinstance(e, AuthorizationRequested)]
    assert (auth.token_uid, auth.at) == ("TOKEN-A", start)
    [started] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    assert (started.connector_id, started.token_uid, started.meter_start_wh, started.at) == (
        1,
        "TOKEN-A",
        0,
        start,
    )
    [ended] = [e for e in pair.events if isinstance(e, TransactionEnded)]
    assert (ended.transaction_id, ended.at, ended.meter_stop_wh, ended.reason) == (
        started.transaction_id,
        end,
        10000,
        "EVDisconnected",
    )
    assert [(e.charging, e.at) for e in pair.events if isinstance(e, ChargingStateChanged)] == [
        (False, full_at)
    ]

    samples = [e for e in pair.events if isinstance(e, MeterSampled)]
    periodic = [start + timedelta(seconds=600 * k) for k in range(1, 18)]
    assert [s.at for s in samples] == sorted([*periodic, full_at])
    assert [s.energy_wh for s in samples] == sorted(s.energy_wh for s in samples)  # monotone register
    assert samples[0].energy_wh == 7400 * 600 // 3600 and samples[0].power_w == Decimal(7400)
    assert samples[-1].energy_wh == 10000 and samples[-1].power_w == 0

    [truth] = pair.station.truth
    assert truth.authorized and truth.transaction_id == started.transaction_id
    assert (truth.started_at, truth.charging_ended_at, truth.unplugged_at) == (start, full_at, end)
    assert truth.energy_wh == ended.meter_stop_wh - started.meter_start_wh == 10000
    assert pair.station.connector_status(1) == "Available"

    statuses = [
        e.status for e in pair.events if isinstance(e, ConnectorStatusChanged) and e.connector_id == 1
    ]
    if version == "1.6":
        assert statuses == ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Available"]
    else:
        assert statuses == ["Available", "Occupied", "Available"]


def test_v201_transaction_event_wire_form() -> None:
    pair = full_charge("2.0.1")
    events = [m[3] for m in pair.frames("TransactionEvent")]
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    first, last = events[0], events[-1]
    assert (first["eventType"], first["triggerReason"]) == ("Started", "Authorized")
    assert first["evse"] == {"id": 1, "connectorId": 1} and first["idToken"]["idToken"] == "TOKEN-A"
    assert first["transactionInfo"]["chargingState"] == "Charging"
    assert first["meterValue"][0]["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register"
    assert (last["eventType"], last["triggerReason"]) == ("Ended", "EVCommunicationLost")
    assert last["transactionInfo"]["stoppedReason"] == "EVDisconnected"
    suspended = [e for e in events if e["transactionInfo"].get("chargingState") == "SuspendedEV"]
    assert suspended[0]["triggerReason"] == "ChargingStateChanged"


def test_v16_stop_transaction_wire_form() -> None:
    pair = full_charge("1.6")
    [start] = pair.frames("StartTransaction")
    [stop] = pair.frames("StopTransaction")
    assert stop[3]["meterStop"] - start[3]["meterStart"] == pair.station.truth[0].energy_wh
    assert (stop[3]["reason"], stop[3]["idTag"]) == ("EVDisconnected", "TOKEN-A")
    assert all(m[3]["transactionId"] == stop[3]["transactionId"] for m in pair.frames("MeterValues"))


@pytest.mark.parametrize("version", VERSIONS)
def test_refused_token(version: OcppVersion) -> None:
    pair = make_pair(version, policy=False)
    pair.plug_in(2, "STOLEN", EV, T0 + timedelta(minutes=1))
    assert pair.station.connector_status(2) == "Available"
    pair.unplug(2, T0 + timedelta(minutes=2))  # no-op: nothing to report
    assert not any(isinstance(e, TransactionStarted | TransactionEnded) for e in pair.events)
    [truth] = pair.station.truth
    assert (truth.authorized, truth.transaction_id, truth.energy_wh, truth.started_at) == (
        False,
        None,
        0,
        None,
    )
    [auth] = pair.frames("Authorize")
    answer = json.loads(
        next(c.frame for c in pair.trace if json.loads(c.frame)[1] == auth[1] and c.src == "CPO")
    )
    assert answer[2] == (
        {"idTagInfo": {"status": "Invalid"}} if version == "1.6" else {"idTokenInfo": {"status": "Invalid"}}
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_authorize_is_held_and_blocks_the_station_line(version: OcppVersion) -> None:
    pair = make_pair(version, auto_authorize=False)
    plug = T0 + timedelta(minutes=1)
    pair.plug_in(1, "TOKEN-B", EV, plug)
    [held] = pair.held
    pair.run_until(T0 + timedelta(hours=1))  # heartbeats fall due, but wait behind the Authorize
    assert (
        pair.station.endpoint.in_flight is not None and pair.station.endpoint.in_flight.action == "Authorize"
    )
    assert pair.station.endpoint.queued == 4  # heartbeats at 08:15, 08:30, 08:45, 09:00
    decided = T0 + timedelta(hours=1, seconds=1)
    pair.decide(held, True, decided)
    actions = [m[2] for m in pair.frames()]
    after = actions[actions.index("Authorize") + 1 :]
    start = "StartTransaction" if version == "1.6" else "TransactionEvent"
    assert after[:5] == ["Heartbeat"] * 4 + [start]
    [started] = [e for e in pair.events if isinstance(e, TransactionStarted)]
    assert started.at == decided


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ("[2, 'x'", "unreadable"),  # not JSON, id unreadable: answered with "-1" (2.0.1 part 4 §4.2.3)
        ('[2,"m1","FlyToMoon",{}]', "not_implemented"),
        ('[2,"m1","Heartbeat",{"extra":1}]', "format"),
        ('[2,"m1","Authorize",{}]', "occurrence"),
        (
            '[2,"m1","BootNotification",{"chargePointVendor":1,"chargePointModel":"x",'
            '"chargingStation":{"model":1,"vendorName":"v"},"reason":"PowerUp"}]',
            "type",
        ),
        ('[2,"m1","Heartbeat"]', "rpc"),
        ('[7,"m1","Heartbeat",{}]', "message_type"),
    ],
)
def test_csms_answers_invalid_frames_with_callerror(
    version: OcppVersion, frame: str, kind: str | None
) -> None:
    pair = make_pair(version)
    output = pair.csms.on_frame("CS-1", frame, T0)
    [(sid, text)] = output.frames
    assert sid == "CS-1"
    message = json.loads(text)
    if kind == "unreadable":
        assert message[:3] == [4, "-1", ERROR_CODES[version]["rpc"]]
        return
    assert message[:3] == [4, "m1", ERROR_CODES[version][kind]]


@pytest.mark.parametrize("version", VERSIONS)
def test_property_constraint_by_version(version: OcppVersion) -> None:
    pair = make_pair(version)
    token = {"idTag": "X" * 21} if version == "1.6" else {"idToken": {"idToken": "X", "type": "Retina"}}
    [(_, text)] = pair.csms.on_frame("CS-1", json.dumps([2, "m2", "Authorize", token]), T0).frames
    assert json.loads(text)[:3] == [4, "m2", "PropertyConstraintViolation"]


@pytest.mark.parametrize("version", VERSIONS)
def test_deterministic(version: OcppVersion) -> None:
    runs = [[(c.at, c.src, c.frame) for c in full_charge(version).trace] for _ in range(2)]
    assert runs[0] == runs[1]
    ids = [json.loads(f)[1] for _, src, f in runs[0] if src == "CS-1" and json.loads(f)[0] == 2]
    assert ids == [f"CS-1-{n}" for n in range(1, len(ids) + 1)]


_OCCURENCE = "OccurenceConstraintViolation"  # sic, both versions (OCPP-J errata)
MALFORMED = [
    # (frame, 1.6 code, 2.0.1 code); None: not answered (an answer, never a CALL). No readable id:
    # answered with messageId "-1" (2.0.1 part 4 §4.2.3; 1.6 names none, the same is used)
    ('[2,"m1","Heartbeat",{"extra":1}]', "FormationViolation", "FormatViolation"),
    ('[2,"m2","StatusNotification",{"connectorId":1}]', _OCCURENCE, _OCCURENCE),
    ('[2,"m3","Authorize",{"idTag":7,"idToken":7}]', "TypeConstraintViolation", "TypeConstraintViolation"),
    ('[2,"m4","NoSuchAction",{}]', "NotImplemented", "NotImplemented"),
    ('[2,"m5","Heartbeat"]', "FormationViolation", "RpcFrameworkError"),
    ('[7,"m6","Heartbeat",{}]', "FormationViolation", "MessageTypeNotSupported"),
    ('{"not": "a frame"}', "FormationViolation", "RpcFrameworkError"),
    ("not json", "FormationViolation", "RpcFrameworkError"),
    ("[2]", "FormationViolation", "RpcFrameworkError"),
    ('[2,5,"Heartbeat",{}]', "FormationViolation", "RpcFrameworkError"),
    ('[3,"m7",{}]', None, None),
]  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("frame", "code16", "code201"), MALFORMED)
def test_malformed_frames_get_the_right_callerror_in_both_models(
    version: OcppVersion, frame: str, code16: str | None, code201: str | None
) -> None:
    pair = make_pair(version)
    expected = code16 if version == "1.6" else code201
    if "idTag" in frame and version == "2.0.1":
        frame = frame.replace('"idTag":7,"idToken":7', '"idToken":7')
    station_out = pair.station.on_frame(frame, T0)
    csms_out = pair.csms.on_frame(pair.sid, frame, T0)
    for frames in (station_out, [f for _sid, f in csms_out.frames]):
        errors = [json.loads(f) for f in frames if json.loads(f)[0] == 4]
        if expected is None:
            assert errors == []
        else:
            readable = frame.startswith('[2,"') or frame.startswith('[7,"')
            message_id = json.loads(frame)[1] if readable else "-1"
            assert [e[2] for e in errors] == [expected] and errors[0][1] == message_id
    assert csms_out.invalid  # the service logs why
