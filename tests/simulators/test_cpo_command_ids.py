"""The mock CPO turns a START_SESSION into RequestStartTransaction with a remoteStartId taken from the
eMSP's response_url; an eMSP under test chooses that URL, so any tail must give a valid call. A
STOP_SESSION's RemoteStopTransaction (1.6) names an integer transaction id, or is not sent at all."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cpo_fake_emsp import BASE, FakeEmsp
from test_cpo_versions import T0, TOKENS_211, make_cpo, pump

from emsp.wire import HttpRequest, dumps, loads
from simulators.cpo.commands import CommandAction, ocpp_call
from simulators.cpo.csms import Csms
from simulators.cpo.events import AuthorizationRequested, TransactionStarted
from simulators.cpo.mock_cpo import MockCpo


@pytest.mark.parametrize(
    ("tail", "remote_start_id"),
    [
        ("42", 42),
        ("2147483647", 2147483647),
        ("2147483648", 1),
        ("²", 1),
        ("١٢", 1),
        ("abc", 1),
        ("9" * 40, 1),
    ],
)
def test_remote_start_id_from_any_response_url(tail: str, remote_start_id: int) -> None:
    action = CommandAction(
        "START_SESSION", f"http://emsp.test/ocpi/2.2.1/commands/START_SESSION/{tail}", "ST1"
    )
    name, payload = ocpp_call(action, "2.0.1")
    assert name == "RequestStartTransaction"
    assert payload["remoteStartId"] == remote_start_id


@pytest.mark.parametrize(
    ("transaction_id", "said"),
    [("7", 7), ("-3", -3), ("T-abc", None), ("²", None), ("--5", None), (None, None)],
)
def test_a_remote_stop_in_16_names_only_an_integer_transaction(
    transaction_id: str | None, said: int | None
) -> None:
    action = CommandAction("STOP_SESSION", "http://emsp.test/r/1", "ST1", transaction_id=transaction_id)
    call = ocpp_call(action, "1.6")
    assert call == (None if said is None else ("RemoteStopTransaction", {"transactionId": said}))


def test_stop_session_of_a_transaction_16_cannot_name_is_rejected_not_a_crash() -> None:
    # A station started a transaction speaking 2.0.1 (string id), then reconnected speaking 1.6: the
    # transaction carries over, but no RemoteStopTransaction can name it.
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1", tokens=TOKENS_211)
    mock = MockCpo(Csms("cpo-a", authorize=lambda token: True), cpo)
    pump(cpo, emsp, cpo.start(T0), T0)
    pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "T-abc", "AA11", 0, T0), T0), T0)
    [session] = emsp.bodies("PUT", "sessions")
    mock.on_station_connected("CS1", "2.0.1", T0)
    mock.on_station_connected("CS1", "1.6", T0)
    body = {"response_url": f"{BASE}/2.2.1/commands/STOP_SESSION/9", "session_id": session["id"]}
    token = base64.b64encode(cpo._token_b.encode()).decode()
    request = HttpRequest(
        "POST",
        "http://cpo.test/ocpi/2.2.1/commands/STOP_SESSION",
        {"Authorization": f"Token {token}"},
        dumps(body),
    )
    response = mock.handle_ocpi(request, T0)
    assert response.status == 200
    assert loads(response.body or "{}")["data"]["result"] == "REJECTED"
    assert mock.take_output().frames == []  # nothing was sent to the station


_EXPIRY = "2026-03-02T08:00:00Z"


@pytest.mark.parametrize(
    ("expiry", "reservation_id", "result"),
    [
        (_EXPIRY, "R-1", "ACCEPTED"),
        (_EXPIRY, 7, "ACCEPTED"),  # 2.1.1's reservation_id is an int
        (_EXPIRY, True, "REJECTED"),
        (None, "R-1", "REJECTED"),  # the charger was sent expiryDate "None"
        ("tomorrow", "R-1", "REJECTED"),
        (20260302, "R-1", "REJECTED"),
        (_EXPIRY, None, "REJECTED"),
        (_EXPIRY, "", "REJECTED"),
    ],
)
def test_reserve_now_without_a_readable_expiry_or_reservation_id_is_rejected(
    expiry: object, reservation_id: object, result: str
) -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1", tokens=TOKENS_211)
    mock = MockCpo(Csms("cpo-a", authorize=lambda token: True), cpo)
    pump(cpo, emsp, cpo.start(T0), T0)
    mock.on_station_connected("CS1", "1.6", T0)
    body = {
        "response_url": f"{BASE}/2.2.1/commands/RESERVE_NOW/9",
        "token": TOKENS_211[0],
        "location_id": "LOC1",
        "evse_uid": "CS1-1",
    }
    body |= {k: v for k, v in (("expiry_date", expiry), ("reservation_id", reservation_id)) if v is not None}
    token = base64.b64encode(cpo._token_b.encode()).decode()
    url = "http://cpo.test/ocpi/2.2.1/commands/RESERVE_NOW"
    request = HttpRequest("POST", url, {"Authorization": f"Token {token}"}, dumps(body))
    response = mock.handle_ocpi(request, T0)
    assert loads(response.body or "{}")["data"]["result"] == result
    frames = mock.take_output().frames
    assert [json_frame[2] for json_frame in map(_frame, frames)] == (
        ["ReserveNow"] if result == "ACCEPTED" else []
    )
    if frames:
        assert _frame(frames[0])[3]["expiryDate"] == _EXPIRY


def _frame(sent: tuple[str, str]) -> list[Any]:
    frame: list[Any] = loads(sent[1])
    return frame
