"""OCPP-J codec and Endpoint: framing, error codes per version, one CALL in flight."""

from __future__ import annotations

import json

import pytest

from simulators.ocppj import (
    ERROR_CODES,
    Call,
    CallError,
    CallResult,
    Endpoint,
    FrameError,
    LocalProtocolError,
    OcppVersion,
    codec,
    subprotocol,
)

VERSIONS: list[OcppVersion] = ["1.6", "2.0.1"]
BOOT = {
    "1.6": {"chargePointVendor": "v", "chargePointModel": "m"},
    "2.0.1": {"chargingStation": {"model": "m", "vendorName": "v"}, "reason": "PowerUp"},
}
BOOT_OK = {"currentTime": "2024-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}


def test_subprotocol_and_cache() -> None:
    assert (subprotocol("1.6"), subprotocol("2.0.1")) == ("ocpp1.6", "ocpp2.0.1")
    assert codec("1.6") is codec("1.6") and codec("1.6") is not codec("2.0.1")
    with pytest.raises(ValueError):
        codec("2.1")


@pytest.mark.parametrize("version", VERSIONS)
def test_round_trip(version: OcppVersion) -> None:
    c = codec(version)
    text = c.encode_call("a-1", "BootNotification", BOOT[version])
    assert text.startswith('[2,"a-1","BootNotification",{')
    assert c.decode(text, pending={}) == Call("a-1", "BootNotification", BOOT[version])
    result = c.encode_result("a-1", "BootNotification", BOOT_OK)
    assert c.decode(result, pending={"a-1": "BootNotification"}) == CallResult(
        "a-1", BOOT_OK, "BootNotification"
    )
    error = c.encode_error("a-1", "InternalError", "boom")
    assert c.decode(error, pending={}) == CallError("a-1", "InternalError", "boom", {})


@pytest.mark.parametrize("version", VERSIONS)
def test_encode_rejects_invalid_payloads(version: OcppVersion) -> None:
    c = codec(version)
    with pytest.raises(LocalProtocolError):
        c.encode_call("a-1", "BootNotification", {})
    with pytest.raises(LocalProtocolError):
        c.encode_call("a-1", "NoSuchAction", {})
    with pytest.raises(LocalProtocolError):
        c.encode_result("a-1", "BootNotification", {"status": "Maybe"})
    with pytest.raises(LocalProtocolError):
        c.encode_call("x" * 37, "Heartbeat", {})


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("text", "kind", "uid", "reply"),
    [
        # No readable id, but maybe a CALL: answered with messageId "-1" (2.0.1 part 4 §4.2.3).
        ("nope", "rpc", None, True),
        ('{"a":1}', "rpc", None, True),
        ('[2,5,"Heartbeat",{}]', "rpc", None, True),
        ("[2]", "rpc", None, True),
        ('[3,5,{"currentTime":"x"}]', "rpc", None, False),  # plainly an answer: never answered
        ('[4,null,"GenericError","",{}]', "rpc", None, False),
        ('[2,"u","Heartbeat",{},1]', "rpc", "u", True),
        ('[2.0,"u","Heartbeat",{}]', "message_type", "u", True),
        ('[true,"u","Heartbeat",{}]', "message_type", "u", True),
        # NaN/Infinity are not JSON (a sender's 1e400 float goes out as Infinity), but the id is
        # readable: a CALL is answered with the payload's CALLERROR, an answer is not.
        ('[2,"u","Heartbeat",NaN]', "format", "u", True),
        ('[2,"u","MeterValues",{"connectorId":1,"meterValue":[{"v":Infinity}]}]', "format", "u", True),
        ('[3,"u",{"currentTime":-Infinity}]', "format", "u", False),
        ('[2,5,"Heartbeat",{"a":NaN}]', "rpc", None, True),  # no id: answered with "-1"
        ('[NaN,"u"]', "rpc", None, True),
        ('[3,5,{"a":NaN}]', "rpc", None, False),
        ('[2,"u","../x",{}]', "not_implemented", "u", True),
        ('[3,"u",{}]', "rpc", "u", False),  # answer to nothing pending
        ('[4,"u","GenericError"]', "rpc", "u", False),
        # Nested past the interpreter's stack: a protocol error, not a RecursionError that kills the
        # connection handler (serve csms dropped the socket with a traceback).
        ("[" * 100_000 + "]" * 100_000, "rpc", None, True),
        ('[2,"u","Heartbeat",' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "]", "rpc", None, True),
    ],
)
def test_decode_errors(version: OcppVersion, text: str, kind: str, uid: str | None, reply: bool) -> None:
    with pytest.raises(FrameError) as info:
        codec(version).decode(text, pending={})
    assert info.value.error_code == ERROR_CODES[version][kind]
    assert (info.value.unique_id, info.value.reply) == (uid, reply)


@pytest.mark.parametrize("version", VERSIONS)
def test_invalid_callresult_is_not_answered(version: OcppVersion) -> None:
    with pytest.raises(FrameError) as info:
        codec(version).decode('[3,"u",{"status":"Accepted"}]', pending={"u": "BootNotification"})
    assert info.value.error_code == ERROR_CODES[version]["occurrence"] and not info.value.reply


def test_error_code_spellings_follow_each_spec() -> None:
    assert ERROR_CODES["1.6"]["format"] == "FormationViolation"
    assert ERROR_CODES["2.0.1"]["format"] == "FormatViolation"
    assert {ERROR_CODES[v]["occurrence"] for v in VERSIONS} == {"OccurenceConstraintViolation"}
    assert ERROR_CODES["2.0.1"]["rpc"] == "RpcFrameworkError"


@pytest.mark.parametrize("version", VERSIONS)
def test_endpoint_one_call_in_flight(version: OcppVersion) -> None:
    station, csms = Endpoint("CS-9", version), Endpoint("CPO", version)
    station.call("BootNotification", BOOT[version])
    station.call("Heartbeat", {}, tag=7)
    [boot] = station.drain()
    assert station.drain() == [] and station.queued == 1  # Heartbeat waits for the Boot answer
    incoming = csms.receive(boot)
    assert isinstance(incoming.message, Call) and csms.inbound == {"CS-9-1": "BootNotification"}
    answered = station.receive(csms.reply("CS-9-1", BOOT_OK))
    assert answered.answered is not None and answered.answered.action == "BootNotification"
    [heartbeat] = station.drain()
    assert heartbeat == '[2,"CS-9-2","Heartbeat",{}]'
    error = station.receive(csms.reply_error("CS-9-2", "InternalError", "x"))
    assert isinstance(error.message, CallError) and error.tag == 7 and station.in_flight is None


@pytest.mark.parametrize("version", VERSIONS)
def test_endpoint_answers_invalid_call_and_releases_on_invalid_answer(version: OcppVersion) -> None:
    end = Endpoint("E", version)
    bad = end.receive('[2,"r1","Heartbeat",{"x":1}]')
    assert bad.error is not None
    [reply] = bad.replies
    assert json.loads(reply) == [4, "r1", ERROR_CODES[version]["format"], bad.error.description, {}]
    end.call("Heartbeat", {})
    end.call("Heartbeat", lambda: None)  # a factory returning None is dropped
    assert len(end.drain()) == 1
    broken = end.receive('[3,"E-1",{}]')  # HeartbeatResponse needs currentTime
    assert broken.error is not None and broken.answered is not None and broken.replies == ()
    assert end.in_flight is None and end.drain() == [] and end.queued == 0
    stray = end.receive('[4,"zz","GenericError","",{}]')
    assert stray.error is not None and stray.message is None


def test_endpoint_id_prefix_keeps_ids_within_36_chars() -> None:
    end = Endpoint("X" * 60, "1.6")
    end.call("Heartbeat", {})
    [frame] = end.drain()
    assert frame == '[2,"' + "X" * 24 + '-1","Heartbeat",{}]'


@pytest.mark.parametrize(("version", "code"), [("1.6", "FormationViolation"), ("2.0.1", "FormatViolation")])
def test_the_csms_answers_a_call_holding_infinity_with_a_callerror(version: OcppVersion, code: str) -> None:
    # Python's json writes a 1e400 float as Infinity: serve csms logged it and answered nothing.
    from datetime import UTC, datetime

    from simulators.cpo.csms import Csms

    csms = Csms("CPO", authorize=lambda token: True)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    csms.on_connected("S-1", version, now)
    output = csms.on_frame("S-1", '[2,"m-1","DataTransfer",{"vendorId":"v","data":Infinity}]', now)
    answers = [json.loads(frame) for station, frame in output.frames if station == "S-1"]
    assert [a[:3] for a in answers] == [[4, "m-1", code]], answers


# The review's frames (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 part 4 §4.2.3): a CALL that cannot be parsed gets
# a CALLERROR; with no readable id, messageId "-1". (frame, messageId answered, error kind)
UNPARSEABLE: list[tuple[str, str, str]] = [
    ("not json", "-1", "rpc"),
    ("{}", "-1", "rpc"),
    ("[2]", "-1", "rpc"),
    ('[9,"x","A",{}]', "x", "message_type"),
    ('[2,"id","Unknown",{}]', "id", "not_implemented"),
    ('[2, 5, "Heartbeat", {}]', "-1", "rpc"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("frame", "message_id", "kind"), UNPARSEABLE)
def test_an_unparseable_call_gets_a_callerror(
    version: OcppVersion, frame: str, message_id: str, kind: str
) -> None:
    end = Endpoint("CSMS", version)
    incoming = end.receive(frame)
    assert incoming.message is None and incoming.error is not None
    [reply] = incoming.replies
    answer = json.loads(reply)
    assert answer[:3] == [4, message_id, ERROR_CODES[version][kind]] and answer[4] == {}
    assert end.receive(reply).replies == ()  # the CALLERROR itself is never answered (no loop)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("frame", ["[3,5,{}]", '[4,5,"GenericError","",{}]', "[3]"])
def test_an_unparseable_answer_is_not_answered(version: OcppVersion, frame: str) -> None:
    assert Endpoint("CSMS", version).receive(frame).replies == ()


# A StatusNotification's timestamp in either version: the shape is a date-time, the instant is not.
_STATUS = {
    "1.6": lambda at: {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": at},
    "2.0.1": lambda at: {"timestamp": at, "connectorStatus": "Available", "evseId": 1, "connectorId": 1},
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "at",
    [
        "2025-13-45T99:00:00Z",  # month 13, day 45, hour 99
        "2025-02-30T00:00:00Z",  # no Feb 30
        "2025-02-29T00:00:00Z",  # not a leap year
        "2025-99-99T99:99:99Z",
        "2025-06-30T24:00:00Z",  # RFC 3339 hours are 00-23
        "2025-06-30T10:60:00Z",
        "2025-06-30T10:00:61Z",  # 60 is a leap second, 61 nothing
        "2025-06-30T10:00:00+24:00",  # offsets are at most 23:59
        "2025-06-30T10:00:00+01:60",
        "0000-01-01T00:00:00Z",  # no year 0 in Python's calendar: no instant we can record
    ],
)
def test_an_impossible_date_time_is_a_property_constraint_violation(version: OcppVersion, at: str) -> None:
    """The codec's date-time check (review4 G9): the shape alone let these through, and the CSMS
    then recorded its own clock in their place."""
    frame = json.dumps([2, "u", "StatusNotification", _STATUS[version](at)])
    with pytest.raises(FrameError) as info:
        codec(version).decode(frame, pending={})
    assert info.value.error_code == "PropertyConstraintViolation"
    assert (info.value.unique_id, info.value.reply) == ("u", True)
    assert "date-time" in info.value.description


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "at",
    [
        "2024-02-29T23:59:59Z",  # a leap year's Feb 29
        "2025-06-30T23:59:60Z",  # a leap second (read as :59)
        "2025-06-30t10:00:00.123456789z",  # the leniency real chargers need stays
        "2025-06-30 10:00:00+0100",
        "2025-06-30T10:00:00-23:59",
        "2025-06-30T10:00:00",
    ],
)
def test_a_real_date_time_in_a_lenient_form_is_accepted(version: OcppVersion, at: str) -> None:
    frame = json.dumps([2, "u", "StatusNotification", _STATUS[version](at)])
    message = codec(version).decode(frame, pending={})
    assert isinstance(message, Call) and message.payload["timestamp"] == at
