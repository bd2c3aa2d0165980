"""A frame our codec validated when writing it is read back, inside `vouched_frames()`, without a
second validation: what the reader gets (message or error) is what the general path gives."""

from __future__ import annotations

import sys
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest

from simulators.ocppj import Codec, FrameError, Message
from simulators.ocppj import codec as codec_of
from simulators.ocppj.codec import _DECODE, _ENCODE, OcppVersion
from simulators.ocppj.vouched import VOUCHED, reads_back_same, vouched_frames

T = "2026-03-02T07:00:00Z"


class Status(StrEnum):
    ACCEPTED = "Accepted"


def _meter201(value: Any) -> dict[str, Any]:
    return {
        "eventType": "Updated",
        "timestamp": T,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 3,
        "transactionInfo": {"transactionId": "tx-1"},
        "meterValue": [
            {"timestamp": T, "sampledValue": [{"value": value, "measurand": "Power.Active.Import"}]}
        ],
    }


# (version, action, response?, payload); some pass the writer's check but not the reader's
# (a float 5.0 in an integer field is read back as Decimal("5.0")): those must still fail.
CASES: list[tuple[OcppVersion, str, bool, dict[str, Any]]] = [
    ("1.6", "Heartbeat", False, {}),
    ("1.6", "Heartbeat", True, {"currentTime": T}),
    ("1.6", "StatusNotification", True, {}),
    ("1.6", "StartTransaction", False, {"connectorId": 1, "idTag": "T1", "meterStart": 0, "timestamp": T}),
    ("1.6", "StartTransaction", True, {"idTagInfo": {"status": "Accepted"}, "transactionId": 7}),
    ("1.6", "StartTransaction", True, {"idTagInfo": {"status": Status.ACCEPTED}, "transactionId": 7}),
    (
        "1.6",
        "MeterValues",
        False,
        {
            "connectorId": 1,
            "transactionId": 7,
            "meterValue": [{"timestamp": T, "sampledValue": [{"value": "12.5"}]}],
        },
    ),
    ("2.0.1", "TransactionEvent", False, _meter201(Decimal("12.50"))),
    ("2.0.1", "TransactionEvent", False, _meter201(12.5)),
    ("2.0.1", "TransactionEvent", False, _meter201(10**30)),
    ("2.0.1", "TransactionEvent", False, _meter201(Decimal("1E+3"))),
    ("2.0.1", "BootNotification", True, {"currentTime": T, "interval": 300, "status": "Accepted"}),
    ("2.0.1", "BootNotification", True, {"currentTime": T, "interval": 300.0, "status": "Accepted"}),
    ("2.0.1", "Authorize", True, {"idTokenInfo": {"status": "Accepted"}}),
]


def _read(codec: Codec, text: str, pending: dict[str, str]) -> Message | tuple[str, str, str | None, bool]:
    try:
        return codec.decode(text, pending=pending)
    except FrameError as exc:
        return (exc.error_code, exc.description, exc.unique_id, exc.reply)


def _write(codec: Codec, action: str, response: bool, payload: dict[str, Any]) -> str:
    if response:
        return codec.encode_result("id-1", action, payload)
    return codec.encode_call("id-1", action, payload)


@pytest.mark.parametrize(("version", "action", "response", "payload"), CASES)
def test_a_vouched_frame_reads_as_the_general_path_reads_it(
    version: OcppVersion, action: str, response: bool, payload: dict[str, Any]
) -> None:
    pending = {"id-1": action} if response else {}
    general_text = _write(Codec(version), action, response, payload)
    general = _read(Codec(version), general_text, pending)
    with vouched_frames() as vouched:
        text = _write(codec_of(version), action, response, payload)
        assert text == general_text
        assert (text in vouched) == reads_back_same(payload)
        assert _read(codec_of(version), text, pending) == general
        assert not vouched  # taken when read: a second reading is validated again


def test_a_float_integer_is_not_vouched_and_still_refused() -> None:
    with vouched_frames() as vouched:
        text = codec_of("2.0.1").encode_result(
            "id-1", "BootNotification", {"currentTime": T, "interval": 300.0, "status": "Accepted"}
        )
        assert not vouched
        with pytest.raises(FrameError, match="interval must be integer"):
            codec_of("2.0.1").decode(text, pending={"id-1": "BootNotification"})


def test_a_vouched_text_read_for_another_action_is_validated_for_that_action() -> None:
    general = _read(Codec("1.6"), '[3,"id-1",{"currentTime":"' + T + '"}]', {"id-1": "BootNotification"})
    assert isinstance(general, tuple)  # a Heartbeat answer is no BootNotification answer
    with vouched_frames() as vouched:
        text = codec_of("1.6").encode_result("id-1", "Heartbeat", {"currentTime": T})
        assert text in vouched
        assert _read(codec_of("1.6"), text, {"id-1": "BootNotification"}) == general


def test_nothing_is_vouched_outside_the_context() -> None:
    assert VOUCHED.get() is None
    codec_of("1.6").encode_call("id-1", "Heartbeat", {})
    with vouched_frames() as vouched:
        assert not vouched
    assert VOUCHED.get() is None


@pytest.mark.parametrize(
    ("value", "same"),
    [
        ({"a": [1, "x", True, None, Decimal("1.50"), Decimal("1E+3"), (1, 2)]}, True),
        ({}, True),
        ({"a": 1.5}, False),
        ({"a": [{"b": 5.0}]}, False),
        ({1: "int key"}, False),
        ({"a": Status.ACCEPTED}, False),  # a str subclass: left to the reader
        ({"a": type("L", (list,), {})()}, False),
    ],
)
def test_reads_back_same_is_json_round_trip_type_stable(value: Any, same: bool) -> None:
    assert reads_back_same(value) is same
    if same:
        back = _DECODE(_ENCODE(value))
        assert _DECODE(_ENCODE(back)) == back and _ENCODE(back) == _ENCODE(value)


@pytest.mark.parametrize("keys", [{Status.ACCEPTED: "str subclass key"}, {"a": 1, 2: "b"}, {("a",): 1}])
def test_a_dict_with_any_key_not_a_plain_str_is_left_to_the_reader(keys: dict[Any, Any]) -> None:
    assert reads_back_same({"outer": [keys]}) is False


def test_checking_a_frame_makes_one_call_per_container() -> None:
    """Every frame written in a run is checked: a dict's keys are checked without a generator (one
    frame per key), so a MeterValues-like payload costs a call per dict or list and no more."""
    payload = _meter201(Decimal("1234.5"))
    containers = 0

    def count(value: Any) -> None:
        nonlocal containers
        if type(value) is dict:
            containers += 1
            for item in value.values():
                count(item)
        elif type(value) is list:
            containers += 1
            for item in value:
                count(item)

    count(payload)
    calls = 0

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(profile)
    try:
        assert reads_back_same(payload) is True
    finally:
        sys.setprofile(None)
    assert calls <= 2 * containers  # reads_back_same and _all_same per container
