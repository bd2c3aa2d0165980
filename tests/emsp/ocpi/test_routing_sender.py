"""Who a request says it is from (OCPI-from-*, 2.2.1/2.3.0 transport_and_format, message routing).

Bilateral (no hub), the headers name the party the message is sent from, one of the connected
platform's own parties: a partner naming a party that is not its own spoke for somebody else and
was taken all the same. Now refused (404, 2001) and nothing stored. A hub names whichever party it
forwards for (test_hub_routing_from); 2.1.1 has no routing headers and ignores them.

Real-time authorization via a 2.2.1/2.3.0 hub without OCPI-from was taken for the hub's one CPO
party, while every other owner-checked request via a hub without them is refused (Ctx.hub_sender):
now refused too. A 2.1.1 hub has no headers to send and keeps authorizing.
"""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import BASE, T0, Client, register_hub
from test_cdr_session_bounds import cdr_221, cdr_230
from version_helpers import VersionClient, credentials, header, register_as

from emsp.core import EmspCore, EmspSettings
from emsp.model import PartyRef
from emsp.wire import HttpRequest, HttpResponse

ROUTED = ("2.2.1", "2.3.0")


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _from(country_code: str, party_id: str) -> dict[str, str]:
    return {
        "OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id,
        "OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS",
    }  # fmt: skip


def _bilateral(core: EmspCore, version: str) -> Client:
    """cpo1 (DE/CPA) registered on `version`; a client that can send headers. cpo2 (DE/CPB) beside it."""
    core.register_partner("cpo2", "token-A-cpo2", parties=[("DE", "CPB", "CPO")])
    registered = register_as(core, version)
    client = Client(core, registered.token)
    client.now = registered.now
    return client


CDRS = {"2.2.1": cdr_221, "2.3.0": cdr_230}


@pytest.mark.parametrize("named", [("DE", "CPB"), ("NL", "EMS"), ("FR", "XYZ")])
@pytest.mark.parametrize("version", ROUTED)
def test_a_bilateral_partner_naming_a_party_not_its_own_is_refused(
    core: EmspCore, version: str, named: tuple[str, str]
) -> None:
    """Another partner's party, the eMSP's own, a party nobody configured: none is cpo1's."""
    cpo = _bilateral(core, version)
    refused = cpo.call("POST", f"{BASE}/{version}/cdrs", CDRS[version](), headers=_from(*named))
    assert (refused.status, refused.json()["status_code"]) == (404, 2001), refused.body
    assert "OCPI-from-country-code/OCPI-from-party-id" in refused.json()["status_message"]
    assert core.records().cdrs == ()
    listing = cpo.call("GET", f"{BASE}/{version}/tokens", headers=_from(*named))
    assert (listing.status, listing.json()["status_code"]) == (404, 2001)


@pytest.mark.parametrize("version", ROUTED)
def test_a_bilateral_partner_naming_its_own_party_or_none_is_taken(core: EmspCore, version: str) -> None:
    cpo = _bilateral(core, version)
    taken = cpo.call("POST", f"{BASE}/{version}/cdrs", CDRS[version](), headers=_from("de", "cpa"))
    assert taken.json()["status_code"] == 1000, taken.body
    assert cpo.call("GET", f"{BASE}/{version}/tokens").json()["status_code"] == 1000
    assert [c.cdr_id for c in core.records().cdrs] == ["CDR1"]


def test_211_has_no_routing_headers_to_check(core: EmspCore) -> None:
    cpo = register_as(core, "2.1.1")
    headers = {"Authorization": header("2.1.1", cpo.token), **_from("FR", "XYZ")}
    resp = core.handle(HttpRequest("GET", f"{BASE}/2.1.1/tokens", headers, None), T0)
    assert isinstance(resp, HttpResponse) and resp.json()["status_code"] == 1000, resp


def _hub(core: EmspCore, version: str) -> Client:
    """A hub on `version` forwarding for one CPO party, DE/CPA."""
    if version == "2.2.1":
        return register_hub(core, behind=(("DE", "CPA"),))
    core.register_partner(
        "hub", "token-A-hub", parties=[("NL", "HUB", "HUB"), ("DE", "CPA", "CPO")], hub=True
    )
    registering = VersionClient(core, version, "token-A-hub")
    answer = registering.call(
        "POST", "credentials", credentials(version, "token-B-hub") | {"hub_party_id": "NLHUB"}
    )
    assert answer.json()["status_code"] == 1000, answer.body
    return Client(core, answer.json()["data"]["token"])


@pytest.mark.parametrize("version", ROUTED)
def test_authorize_via_a_hub_without_ocpi_from_is_refused(core: EmspCore, version: str) -> None:
    hub = _hub(core, version)
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    url = f"{BASE}/{version}/tokens/RFID1/authorize"
    refused = hub.call("POST", url, headers={"OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS"})
    assert refused.json()["status_code"] == 2001, refused.body
    assert "OCPI-from" in refused.json()["status_message"]
    assert core.records().authorizations == ()
    named = hub.call("POST", url, headers=_from("DE", "CPA"))
    assert named.json()["data"]["allowed"] == "ALLOWED", named.body
    assert [a.result for a in core.records().authorizations] == ["ALLOWED"]


def test_authorize_via_a_211_hub_needs_no_ocpi_from(core: EmspCore) -> None:
    core.register_partner("hub", "token-A-hub", parties=[("DE", "CPA", "CPO")], hub=True)
    hub = VersionClient(core, "2.1.1", "token-A-hub")
    hub.token = hub.call("POST", "credentials", credentials("2.1.1", "token-B-hub")).json()["data"]["token"]
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    answer = hub.call("POST", "tokens/RFID1/authorize")
    assert answer.json()["data"]["allowed"] == "ALLOWED", answer.body


# A hub names in OCPI-from the party it forwards for: one we know behind it (configured for the
# hub, or reported in its HubClientInfo), or its own HUB party (Broadcast Push). Where no owner is
# checked (a GET of our tokens), any other party was taken all the same; where one is, a party
# nobody configured passed as its own object's sender. Now 404/2001 as the bilateral check answers.


def _client_info(country_code: str, party_id: str, status: str = "CONNECTED") -> dict[str, str]:
    return {
        "country_code": country_code, "party_id": party_id, "role": "CPO", "status": status,
        "last_updated": "2025-03-01T08:00:00Z",
    }  # fmt: skip


def _refused_as_sender(answer: Any) -> None:
    assert (answer.status, answer.json()["status_code"]) == (404, 2001), answer.body
    assert "OCPI-from-country-code/OCPI-from-party-id" in answer.json()["status_message"]


@pytest.mark.parametrize("named", [("FR", "XYZ"), ("NL", "EMS"), ("DE", "CPB")])
@pytest.mark.parametrize("version", ROUTED)
def test_a_hub_naming_a_party_it_does_not_forward_for_is_refused(
    core: EmspCore, version: str, named: tuple[str, str]
) -> None:
    """A party nobody configured or reported, the eMSP's own, another partner's (cpo2's DE/CPB)."""
    core.register_partner("cpo2", "token-A-cpo2", parties=[("DE", "CPB", "CPO")])
    hub = _hub(core, version)
    core.issue_token("RFID1", contract_id="NL-EMS-C1", now=T0)
    _refused_as_sender(hub.call("GET", f"{BASE}/{version}/tokens", headers=_from(*named)))
    authorize = f"{BASE}/{version}/tokens/RFID1/authorize"
    _refused_as_sender(hub.call("POST", authorize, headers=_from(*named)))
    assert core.records().authorizations == ()
    cdr = CDRS[version]() | {"country_code": named[0], "party_id": named[1]}
    _refused_as_sender(hub.call("POST", f"{BASE}/{version}/cdrs", cdr, headers=_from(*named)))
    assert core.records().cdrs == ()


@pytest.mark.parametrize("version", ROUTED)
def test_a_hub_naming_a_party_behind_it_or_itself_is_taken(core: EmspCore, version: str) -> None:
    """Configured for the hub (DE/CPA), the hub's own party, and one the hub reported in its
    HubClientInfo (any status: a party no longer CONNECTED may still owe us CDRs)."""
    hub = _hub(core, version)
    assert (
        hub.call("GET", f"{BASE}/{version}/tokens", headers=_from("de", "cpa")).json()["status_code"] == 1000
    )
    assert (
        hub.call("GET", f"{BASE}/{version}/tokens", headers=_from("NL", "HUB")).json()["status_code"] == 1000
    )
    _refused_as_sender(hub.call("GET", f"{BASE}/{version}/tokens", headers=_from("FR", "XYZ")))
    info = _client_info("FR", "XYZ", "SUSPENDED")
    assert hub.call("PUT", f"{BASE}/{version}/hubclientinfo/FR/XYZ", info).json()["status_code"] == 1000
    assert (
        hub.call("GET", f"{BASE}/{version}/tokens", headers=_from("FR", "XYZ")).json()["status_code"] == 1000
    )
    cdr = CDRS[version]() | {"country_code": "FR", "party_id": "XYZ"}
    assert (
        hub.call("POST", f"{BASE}/{version}/cdrs", cdr, headers=_from("FR", "XYZ")).json()["status_code"]
        == 1000
    )
    assert [c.party for c in core.records().cdrs] == [PartyRef("FR", "XYZ")]


@pytest.mark.parametrize("version", ROUTED)
def test_hubclientinfo_is_a_configuration_module_never_routed(core: EmspCore, version: str) -> None:
    """Hub Client Info is a Configuration Module: "not to be routed ... routing headers SHALL NOT be
    used with these modules" (transport_and_format, message routing headers). A hub's ClientInfo PUT
    without them was noted as `routing_headers_missing` (the hub's conduct, wrongly) and answered
    with OCPI-from/to-* headers; now neither. A token A still does not open it."""
    hub = _hub(core, version)
    url = f"{BASE}/{version}/hubclientinfo/FR/XYZ"
    answer = hub.call("PUT", url, _client_info("FR", "XYZ"))
    assert answer.json()["status_code"] == 1000, answer.body
    assert not {name.lower() for name in answer.headers} & {"ocpi-from-country-code", "ocpi-to-party-id"}
    assert [f.kind for f in core.records().findings] == []
    core.register_partner("hub2", "token-A-hub2", parties=[("BE", "HB2", "HUB")], hub=True)
    with_a = Client(core, "token-A-hub2")  # configured, not registered: its token A
    refused = with_a.call("PUT", url, _client_info("FR", "XYZ", "OFFLINE"))
    assert refused.status == 401 and "token A" in refused.json()["status_message"], refused.body


def test_a_finding_where_no_sender_is_checked_is_the_partners_not_the_party_it_names(core: EmspCore) -> None:
    """Versions, version details and the configuration modules are not routed: OCPI-from there
    names nobody we checked, and a finding was put on whatever party it named (another partner's
    DE/CPB). Now the partner's own (its one CPO party), as without the headers."""
    core.register_partner("cpo2", "token-A-cpo2", parties=[("DE", "CPB", "CPO")])
    core.register_partner(
        "cpo1", "token-A-cpo1", parties=[("DE", "CPA", "CPO")], tolerate={"trailing_slash": True}
    )
    answer = Client(core, "token-A-cpo1").call("GET", f"{BASE}/versions/", headers=_from("DE", "CPB"))
    assert answer.json()["status_code"] == 1000, answer.body
    assert [(f.kind, f.party) for f in core.records().findings] == [("trailing_slash", PartyRef("DE", "CPA"))]
