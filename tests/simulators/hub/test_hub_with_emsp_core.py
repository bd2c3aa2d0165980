"""The hub between a fake CPO and the real eMSP core: credentials in both directions between hub and
eMSP (a partner configured as a hub), then real-time authorization routed CPO -> hub -> eMSP."""

from __future__ import annotations

import pytest
from hub_parties import FakeParty, Net
from hub_world import CPO_A, EMSP, HUB, T0
from sqlalchemy import select

from emsp.core import EmspCore, EmspSettings
from emsp.storage.tables import LocationRow
from simulators.hub import OcpiHub, PartyRole, Status, load_persona

EMSP_VERSIONS = "http://emsp.local/ocpi/versions"


def _world(direction: str, persona: str = "routing-only") -> tuple[Net, OcpiHub, EmspCore, FakeParty]:
    core = EmspCore(EmspSettings(base_url="http://emsp.local/ocpi"))
    core.register_partner("hub", "emsp-gives-hub-a", parties=[(*HUB, "HUB")], hub=True)
    core.issue_token("AA11", contract_id="NL-EMS-C00000001", now=T0)
    hub = OcpiHub(
        hub_id="hub",
        country_code=HUB[0],
        party_id=HUB[1],
        base_url="http://hub.local/ocpi",
        persona=load_persona(persona),
    )
    if direction == "hub registers":
        hub.add_connection(
            "emsp",
            [PartyRole(*EMSP, "EMSP")],
            T0,
            versions_url=EMSP_VERSIONS,
            their_token_a="emsp-gives-hub-a",
        )
    else:
        hub.add_connection("emsp", [PartyRole(*EMSP, "EMSP")], T0, token_a="hub-gives-emsp-a")
    cpo = FakeParty("cpo-a", *CPO_A, "CPO", token_a_for_hub="cpo-a-token-a")
    hub.add_connection("cpo-a", [PartyRole(*CPO_A, "CPO")], T0, token_a="cpo-a-token-a")
    net = Net(hub, [cpo], core=core)
    if direction == "hub registers":
        hub.register("emsp", T0)
        net.run(T0)
    else:
        run = core.start_registration("hub", "http://hub.local/ocpi/versions", "hub-gives-emsp-a", T0)
        net.run(T0)
        outcome = core.take_registration(run)
        assert outcome is not None and outcome.registered, outcome
    cpo.register_with_hub(T0)
    net.run(T0)
    return net, hub, core, cpo


@pytest.mark.parametrize("direction", ["hub registers", "emsp registers"])
def test_real_emsp_and_hub_register_and_authorization_is_routed(direction: str) -> None:
    net, hub, core, cpo = _world(direction)
    connection = hub.registry["emsp"]
    assert connection.registered and connection.status is Status.CONNECTED
    assert connection.endpoint("tokens", "SENDER") == "http://emsp.local/ocpi/2.2.1/tokens"
    assert [e["identifier"] for e in core.partner_endpoints("hub")][:1] == ["credentials"]

    allowed = cpo.call("POST", "tokens", "SENDER", "/AA11/authorize?type=RFID", T0, to=EMSP)
    unknown = cpo.call("POST", "tokens", "SENDER", "/FFFF/authorize?type=RFID", T0, to=EMSP)
    net.run(T0)
    answer = cpo.answers[allowed]
    assert (answer.status, answer.json()["status_code"]) == (200, 1000)
    assert answer.json()["data"]["allowed"] == "ALLOWED"
    assert (answer.header("OCPI-from-party-id"), answer.header("OCPI-to-party-id")) == ("EMS", "CPA")
    assert answer.header("X-Correlation-ID") == f"corr-{allowed}"
    assert cpo.answers[unknown].json()["status_code"] == 2004


LOCATION = {
    "country_code": "DE",
    "party_id": "CPA",
    "id": "LOC1",
    "publish": True,
    "address": "Street 1",
    "city": "Utrecht",
    "country": "NLD",
    "coordinates": {"latitude": "52.090000", "longitude": "5.120000"},
    "time_zone": "Europe/Amsterdam",
    "last_updated": "2026-03-02T08:00:00Z",
}


def test_a_location_pushed_through_the_hub_is_stored_by_the_emsp_for_the_cpo() -> None:
    net, _hub, _core, cpo = _world("hub registers")
    pushed = cpo.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP)
    net.run(T0)
    assert cpo.answers[pushed].json()["status_code"] == 1000
    # The eMSP serves it back (Receiver GET), through the hub, to the CPO that owns it.
    read = cpo.call("GET", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, to=EMSP)
    net.run(T0)
    answer = cpo.answers[read]
    assert answer.json()["status_code"] == 1000 and answer.json()["data"]["id"] == "LOC1"


def test_a_location_broadcast_by_the_hub_is_stored_by_the_emsp() -> None:
    """Broadcast Push: the CPO addresses the hub, the hub pushes to every eMSP as itself (OCPI-from
    names the hub, transport_and_format). The eMSP takes the hub's own party as a sender for any
    party behind it (review11 P1: fixr9's owner check answered 404/2001 and the Location was lost)."""
    net, _hub, core, cpo = _world("hub registers", persona="aggregating")
    pushed = cpo.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=HUB)
    net.run(T0)
    assert cpo.answers[pushed].json()["status_code"] == 1000
    with core.db.unit() as db:
        stored = [(r.country_code, r.party_id, r.location_id) for r in db.scalars(select(LocationRow))]
    assert stored == [("DE", "CPA", "LOC1")]
