"""Commands choose their channel like token pushes (emsp.ocpi.channels): a command for a CPO party
behind a hub goes to the hub with routing headers naming the party, its CommandResult comes back
through the hub; a party the hub reports unreachable gets no command."""

from __future__ import annotations

from typing import Any

import emsp_helpers
import pytest
from emsp_helpers import CPO_V221, Client, V, location, register, register_hub

from emsp.core import EmspCore, EmspSettings
from emsp.model import CommandRequest
from emsp.ocpi.command_send import CommandRefused

ENDPOINTS = [
    {"identifier": "tokens", "role": "RECEIVER", "url": f"{CPO_V221}/tokens"},
    {"identifier": "commands", "role": "RECEIVER", "url": f"{CPO_V221}/commands"},
    {"identifier": "credentials", "role": "RECEIVER", "url": f"{CPO_V221}/credentials"},
]
FROM_HBA = {
    "OCPI-from-country-code": "DE",
    "OCPI-from-party-id": "HBA",
    "OCPI-to-country-code": "NL",
    "OCPI-to-party-id": "EMS",
}


def _info(status: str, at: str) -> dict[str, Any]:
    return {"country_code": "DE", "party_id": "HBA", "role": "CPO", "status": status, "last_updated": at}


def _world(monkeypatch: pytest.MonkeyPatch) -> tuple[EmspCore, Client]:
    """An eMSP with a bilateral CPO (DE/CPA) and a hub routing to DE/HBA, whose Location came through
    it, and to DE/HBB."""
    monkeypatch.setattr(emsp_helpers, "CPO_ENDPOINTS", ENDPOINTS)
    emsp = EmspCore(EmspSettings(pull_initial=False))
    direct = register(emsp)
    hub = register_hub(emsp)
    behind = location("LOC-H") | {"party_id": "HBA"}
    assert (
        hub.call("PUT", f"{V}/locations/DE/HBA/LOC-H", behind, headers=FROM_HBA).json()["status_code"] == 1000
    )
    assert direct.call("PUT", f"{V}/locations/DE/CPA/LOC-D", location("LOC-D")).json()["status_code"] == 1000
    emsp.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=emsp_helpers.T0)
    emsp.pending_requests()  # the token pushes: not what this test is about
    return emsp, hub


def _start(emsp: EmspCore, location_id: str) -> dict[str, Any]:
    request = CommandRequest(kind="START_SESSION", location_id=location_id, evse_uid="EVSE1")
    return emsp.send_command(request, now=emsp_helpers.T0, token_uid="RFID1")


@pytest.mark.parametrize(
    ("location_id", "partner", "to_party"),
    [("LOC-H", "hub", ("DE", "HBA")), ("LOC-D", "cpo1", ("DE", "CPA"))],
)
def test_a_command_goes_over_the_channel_of_its_party(
    monkeypatch: pytest.MonkeyPatch, location_id: str, partner: str, to_party: tuple[str, str]
) -> None:
    emsp, _hub = _world(monkeypatch)
    view = _start(emsp, location_id)
    assert (view["partner"], view["country_code"], view["party_id"]) == (partner, *to_party)
    [sent] = [o for o in emsp.pending_requests() if o.request.method == "POST"]
    assert sent.partner == partner
    assert sent.request.url == f"{CPO_V221}/commands/START_SESSION"
    routing = (sent.request.header("OCPI-to-country-code"), sent.request.header("OCPI-to-party-id"))
    assert routing == to_party
    assert (sent.request.header("OCPI-from-country-code"), sent.request.header("OCPI-from-party-id")) == (
        "NL",
        "EMS",
    )


def test_the_command_result_comes_back_through_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    emsp, hub = _world(monkeypatch)
    view = _start(emsp, "LOC-H")
    [sent] = [o for o in emsp.pending_requests() if o.request.method == "POST"]
    accepted = emsp_helpers.ocpi_ok({"result": "ACCEPTED", "timeout": 30})
    emsp.on_response(sent.request_id, accepted, emsp_helpers.T0)
    assert emsp.command(view["id"])["state"] == "ACCEPTED"  # type: ignore[index]
    # The hub forwards the CPO's CommandResult to our response_url (it rewrote it to its own).
    url = f"{V}/commands/START_SESSION/{view['id']}"
    answer = hub.call("POST", url, {"result": "ACCEPTED"}, headers=FROM_HBA)
    assert answer.json()["status_code"] == 1000
    assert emsp.command(view["id"])["state"] == "COMPLETED"  # type: ignore[index]


@pytest.mark.parametrize("sender", ["HBB", "HUB"])
def test_a_result_from_another_party_behind_the_hub_is_no_answer(
    monkeypatch: pytest.MonkeyPatch, sender: str
) -> None:
    """Every party behind the hub posts as the hub's partner: the OCPI-from headers tell them apart
    (transport_and_format, message routing headers). Another party's result on DE/HBA's
    response_url (ids are guessable) is refused as an unknown command; DE/HBA's own still counts."""
    emsp, hub = _world(monkeypatch)
    view = _start(emsp, "LOC-H")
    [sent] = [o for o in emsp.pending_requests() if o.request.method == "POST"]
    accepted = emsp_helpers.ocpi_ok({"result": "ACCEPTED", "timeout": 30})
    emsp.on_response(sent.request_id, accepted, emsp_helpers.T0)
    url = f"{V}/commands/START_SESSION/{view['id']}"
    country = "NL" if sender == "HUB" else "DE"
    other = FROM_HBA | {"OCPI-from-country-code": country, "OCPI-from-party-id": sender}
    answer = hub.call("POST", url, {"result": "REJECTED"}, headers=other)
    assert (answer.status, answer.json()["status_code"]) == (404, 2001)
    state = emsp.command(view["id"])
    assert state is not None and (state["state"], state["result"]) == ("ACCEPTED", None)
    lower = FROM_HBA | {"OCPI-from-country-code": "de", "OCPI-from-party-id": "hba"}  # CiString
    assert hub.call("POST", url, {"result": "ACCEPTED"}, headers=lower).json()["status_code"] == 1000
    state = emsp.command(view["id"])
    assert state is not None and (state["state"], state["result"]) == ("COMPLETED", "ACCEPTED")


def test_a_result_via_the_hub_without_ocpi_from_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Via a hub the routing headers are the only word on which party sent a result: without
    OCPI-from it is refused, not taken for DE/HBA's (review11 P3)."""
    emsp, hub = _world(monkeypatch)
    view = _start(emsp, "LOC-H")
    [sent] = [o for o in emsp.pending_requests() if o.request.method == "POST"]
    emsp.on_response(
        sent.request_id, emsp_helpers.ocpi_ok({"result": "ACCEPTED", "timeout": 30}), emsp_helpers.T0
    )
    url = f"{V}/commands/START_SESSION/{view['id']}"
    to_only = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS"}
    assert hub.call("POST", url, {"result": "REJECTED"}, headers=to_only).json()["status_code"] == 2001
    state = emsp.command(view["id"])
    assert state is not None and (state["state"], state["result"]) == ("ACCEPTED", None)


@pytest.mark.parametrize("status", ["OFFLINE", "SUSPENDED", "PLANNED"])
def test_no_command_to_a_party_the_hub_reports_unreachable(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    emsp, hub = _world(monkeypatch)
    assert hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", _info(status, "2025-03-01T09:30:00Z")).status == 200
    emsp.pending_requests()
    with pytest.raises(CommandRefused, match=f"DE/HBA is {status}") as refused:
        _start(emsp, "LOC-H")
    assert refused.value.status == 409
    assert not [o for o in emsp.pending_requests() if "/commands/" in o.request.url]
    hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", _info("CONNECTED", "2025-03-01T09:40:00Z"))
    assert _start(emsp, "LOC-H")["partner"] == "hub"  # reachable again: sent through the hub
