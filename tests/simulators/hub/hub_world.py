"""A hub with one eMSP and two CPOs: the eMSP and CPO A register with the hub, the hub with CPO B."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hub_parties import FakeParty, Net

from simulators.hub import HubPersona, OcpiHub, PartyRole, load_persona

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
HUB = ("NL", "HUB")
EMSP = ("NL", "EMS")
CPO_A = ("DE", "CPA")
CPO_B = ("BE", "CPB")


@dataclass
class World:
    net: Net
    hub: OcpiHub
    emsp: FakeParty
    cpo_a: FakeParty
    cpo_b: FakeParty


def build(persona: HubPersona | str = "routing-only", *, register: bool = True) -> World:
    if isinstance(persona, str):
        persona = load_persona(persona)
    hub = OcpiHub(
        hub_id="hub", country_code=HUB[0], party_id=HUB[1], base_url="http://hub.local/ocpi", persona=persona
    )
    emsp = FakeParty("emsp", *EMSP, "EMSP", token_a_for_hub="emsp-token-a", known_tokens=("AA11",))
    cpo_a = FakeParty("cpo-a", *CPO_A, "CPO", token_a_for_hub="cpo-a-token-a")
    cpo_b = FakeParty("cpo-b", *CPO_B, "CPO", token_a_issued="cpo-b-gives-hub-a")
    hub.add_connection("emsp", [PartyRole(*EMSP, "EMSP")], T0, token_a="emsp-token-a")
    hub.add_connection("cpo-a", [PartyRole(*CPO_A, "CPO")], T0, token_a="cpo-a-token-a")
    hub.add_connection(
        "cpo-b",
        [PartyRole(*CPO_B, "CPO")],
        T0,
        versions_url=cpo_b.versions_url,
        their_token_a="cpo-b-gives-hub-a",
    )
    world = World(Net(hub, [emsp, cpo_a, cpo_b]), hub, emsp, cpo_a, cpo_b)
    if register:
        connect_all(world)
    return world


def connect_all(world: World) -> None:
    world.emsp.register_with_hub(T0)
    world.cpo_a.register_with_hub(T0)
    world.hub.register("cpo-b", T0)
    world.net.run(T0)
