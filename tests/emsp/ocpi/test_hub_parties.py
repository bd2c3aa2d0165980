"""What a hub may push for (review F4, F5): any party not configured for another partner (PartyScope),
but never the eMSP's own party, whose locations, sessions and CDRs nobody else may create. The party
naming itself as sender is one the hub told us is behind it: here in its HubClientInfo (fixE)."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import Client, V, cpo_credentials, location, register

from emsp.core import EmspCore, EmspSettings

OURS = ("NL", "EMS")  # EmspSettings' default party


def _hub(emsp: EmspCore) -> Client:
    emsp.register_partner("hub", "token-A-hub", parties=[("NL", "HUB", "HUB")], hub=True)
    hub = Client(emsp, "token-A-hub")
    resp = hub.call("POST", f"{V}/credentials", cpo_credentials("token-B-hub", ("NL", "HUB"), "HUB"))
    assert resp.status == 200, resp.body
    hub.token = resp.json()["data"]["token"]
    info = {"country_code": "DE", "party_id": "HBA", "role": "CPO", "status": "CONNECTED"}
    reported = hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", info | {"last_updated": "2025-03-01T08:00:00Z"})
    assert reported.json()["status_code"] == 1000, reported.body
    return hub


def _from(cc: str, pid: str, to: tuple[str, str] = OURS) -> dict[str, str]:
    return {
        "OCPI-from-country-code": cc,
        "OCPI-from-party-id": pid,
        "OCPI-to-country-code": to[0],
        "OCPI-to-party-id": to[1],
    }


def _put(hub: Client, cc: str, pid: str, headers: dict[str, str]) -> Any:
    body = location("LOC-X") | {"country_code": cc, "party_id": pid}
    return hub.call("PUT", f"{V}/locations/{cc}/{pid}/LOC-X", body, headers=headers)


@pytest.fixture
def emsp() -> EmspCore:
    core = EmspCore(EmspSettings(pull_initial=False))
    register(core)  # cpo1 is configured for DE/CPA
    return core


@pytest.mark.parametrize(("cc", "pid"), [OURS, ("nl", "ems"), ("DE", "CPA")])
def test_a_hub_cannot_push_for_our_party_or_another_partners(emsp: EmspCore, cc: str, pid: str) -> None:
    hub = _hub(emsp)
    answer = _put(hub, cc, pid, _from(cc.upper(), pid.upper()))
    assert answer.json()["status_code"] == 2001 or answer.status == 404, answer.body
    stored = hub.call("GET", f"{V}/locations/{cc}/{pid}/LOC-X")
    assert stored.json().get("data") is None


def test_a_hub_still_pushes_for_a_party_nobody_else_has(emsp: EmspCore) -> None:
    hub = _hub(emsp)
    assert _put(hub, "DE", "HBA", _from("DE", "HBA")).json()["status_code"] == 1000
    # Read back as the party: via a hub a request names its sender (review11 P3).
    got = hub.call("GET", f"{V}/locations/DE/HBA/LOC-X", headers=_from("DE", "HBA"))
    assert got.json()["data"]["id"] == "LOC-X"


@pytest.mark.parametrize("to", [("BE", "OTH"), ("NL", "HUB"), ("NL", "EMX")])
def test_a_request_whose_to_headers_name_another_receiver_is_refused(
    emsp: EmspCore, to: tuple[str, str]
) -> None:
    """2.2.1 transport_and_format, message routing: OCPI-to-* name the party the message is for;
    a hub forwards to the receiving party (also in a Broadcast Push). A message for another party
    reached us by mistake: refused (2001), nothing stored."""
    hub = _hub(emsp)
    answer = _put(hub, "DE", "HBA", _from("DE", "HBA", to=to))
    assert answer.json()["status_code"] == 2001, answer.body
    assert "OCPI-to" in answer.json()["status_message"]
    assert hub.call("GET", f"{V}/locations/DE/HBA/LOC-X").json().get("data") is None


def test_to_headers_naming_us_in_any_case_are_accepted(emsp: EmspCore) -> None:
    hub = _hub(emsp)
    assert _put(hub, "DE", "HBA", _from("DE", "HBA", to=("nl", "ems"))).json()["status_code"] == 1000


def test_a_bilateral_partner_naming_another_receiver_is_refused_too() -> None:
    cpo = register(EmspCore(EmspSettings(pull_initial=False)))
    body = location("LOC-Y")
    answer = cpo.call(
        "PUT", f"{V}/locations/DE/CPA/LOC-Y", body, headers=_from("DE", "CPA", to=("BE", "OTH"))
    )
    assert answer.json()["status_code"] == 2001, answer.body
    ok = cpo.call("PUT", f"{V}/locations/DE/CPA/LOC-Y", body, headers=_from("DE", "CPA"))
    assert ok.json()["status_code"] == 1000, ok.body
