"""mod_commands objects per version (the eMSP as Sender): what each adapter writes and reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from emsp.model import CommandRequest
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.versions import ADAPTERS

URL = "http://emsp.local/ocpi/x/commands/START_SESSION/1"
TOKEN = {"uid": "RFID-1", "type": "RFID"}
START = CommandRequest("START_SESSION", location_id="LOC-1", evse_uid="EVSE-1", connector_id="1")
RESERVE = CommandRequest(
    "RESERVE_NOW", location_id="LOC-1", reservation_id="42", expiry_date=datetime(2026, 3, 2, 8, tzinfo=UTC)
)
BODIES: list[tuple[str, CommandRequest, dict[str, Any]]] = [
    # 2.1.1 StartSession names no connector
    ("2.1.1", START, {"response_url": URL, "token": TOKEN, "location_id": "LOC-1", "evse_uid": "EVSE-1"}),
    ("2.2.1", START, {"response_url": URL, "token": TOKEN, "location_id": "LOC-1", "evse_uid": "EVSE-1",
                      "connector_id": "1"}),
    # reservation_id: an int in 2.1.1, a CiString(36) since
    ("2.1.1", RESERVE, {"response_url": URL, "token": TOKEN, "location_id": "LOC-1", "reservation_id": 42,
                        "expiry_date": "2026-03-02T08:00:00Z"}),
    ("2.3.0", RESERVE, {"response_url": URL, "token": TOKEN, "location_id": "LOC-1", "reservation_id": "42",
                        "expiry_date": "2026-03-02T08:00:00Z"}),
    ("2.2.1", CommandRequest("STOP_SESSION", session_id="S-1"), {"response_url": URL, "session_id": "S-1"}),
    ("2.2.1", CommandRequest("CANCEL_RESERVATION", reservation_id="R-9"),
     {"response_url": URL, "reservation_id": "R-9"}),
]  # fmt: skip


@pytest.mark.parametrize(("version", "request_", "expected"), BODIES)
def test_command_bodies(version: str, request_: CommandRequest, expected: dict[str, Any]) -> None:
    assert ADAPTERS[version].command_body(request_, TOKEN, URL) == expected


REFUSED = [  # (version, request): the version's tables do not allow it
    ("2.1.1", CommandRequest("CANCEL_RESERVATION", reservation_id="1")),  # no such command in 2.1.1
    ("2.1.1", CommandRequest("RESERVE_NOW", location_id="L", reservation_id="R-1",
                             expiry_date=datetime(2026, 1, 1, tzinfo=UTC))),  # not an int
    # digits int() refuses, and an int beyond 64 bits: refused as invalid, never a ValueError (review F3)
    ("2.1.1", CommandRequest("RESERVE_NOW", location_id="L", reservation_id="²",
                             expiry_date=datetime(2026, 1, 1, tzinfo=UTC))),
    ("2.1.1", CommandRequest("RESERVE_NOW", location_id="L", reservation_id="1" * 30,
                             expiry_date=datetime(2026, 1, 1, tzinfo=UTC))),
    ("2.1.1", CommandRequest("START_SESSION", location_id="L" * 40)),  # string(39)
    ("2.2.1", CommandRequest("START_SESSION", location_id="L" * 37)),  # CiString(36)
    ("2.3.0", CommandRequest("STOP_SESSION", session_id="S" * 37)),
]  # fmt: skip


@pytest.mark.parametrize(("version", "request_"), REFUSED)
def test_command_bodies_the_version_refuses(version: str, request_: CommandRequest) -> None:
    with pytest.raises(OcpiError):
        ADAPTERS[version].command_body(request_, TOKEN, URL)


def test_211_accepts_a_39_character_location_the_others_do_not() -> None:
    request = CommandRequest("START_SESSION", location_id="L" * 39)
    assert ADAPTERS["2.1.1"].command_body(request, TOKEN, URL)["location_id"] == "L" * 39


@pytest.mark.parametrize(
    ("version", "data", "expected"),
    [
        ("2.1.1", {"result": "ACCEPTED"}, ("ACCEPTED", None, None)),  # 2.1.1: no timeout
        ("2.2.1", {"result": "ACCEPTED", "timeout": 30}, ("ACCEPTED", 30, None)),
        ("2.3.0", {"result": "REJECTED", "timeout": 0, "message": [{"language": "en", "text": "busy"}]},
         ("REJECTED", 0, "busy")),
    ],
)  # fmt: skip
def test_command_responses(version: str, data: Any, expected: tuple[Any, ...]) -> None:
    assert ADAPTERS[version].command_response(data) == expected


@pytest.mark.parametrize(
    ("version", "body", "ok"),
    [
        ("2.1.1", {"result": "TIMEOUT"}, True),  # a CommandResponseType
        ("2.1.1", {"result": "EVSE_OCCUPIED"}, False),  # a 2.2.1 CommandResultType only
        ("2.2.1", {"result": "EVSE_OCCUPIED"}, True),
        ("2.2.1", {"result": "UNKNOWN_SESSION"}, False),  # a response, not a result, in 2.2.1
        ("2.2.1", {"timeout": 3}, False),  # 2.2.1 needs timeout on a response, a result needs result
    ],
)
def test_command_results(version: str, body: Any, ok: bool) -> None:
    if ok:
        assert ADAPTERS[version].command_result(body)[0] == body["result"]
    else:
        with pytest.raises(OcpiError):
            ADAPTERS[version].command_result(body)


def test_a_221_response_without_timeout_is_invalid() -> None:
    with pytest.raises(OcpiError):
        ADAPTERS["2.2.1"].command_response({"result": "ACCEPTED"})
