"""A party's configured role limits the modules it may use (review r7 K7). Locations, Tariffs,
Sessions, CDRs and command results come from a CPO, and only a CPO pulls our Tokens or asks for
real-time authorization (2.2.1 mod_*: Sender/Receiver). A peer eMSP, or a hub's own HUB party, is
refused as a non-hub is at hubclientinfo: HTTP 403 + 2001, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import T0, Client, V, cdr, cpo_credentials, location, register, session
from sqlalchemy import func, select

from emsp.core import EmspCore, EmspSettings
from emsp.storage.tables import CdrRow, LocationRow, SessionRow


def _partner(emsp: EmspCore, name: str, party: tuple[str, str], role: str, *, hub: bool = False) -> Client:
    emsp.register_partner(name, f"token-A-{name}", parties=[(*party, role)], hub=hub)
    client = Client(emsp, f"token-A-{name}")
    resp = client.call("POST", f"{V}/credentials", cpo_credentials(f"token-B-{name}", party, role))
    assert resp.json()["status_code"] == 1000, resp.body
    client.token = resp.json()["data"]["token"]
    return client


def _headers(party: tuple[str, str]) -> dict[str, str]:
    return {
        "OCPI-from-country-code": party[0],
        "OCPI-from-party-id": party[1],
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }


def _calls(party: tuple[str, str]) -> list[tuple[str, str, Any]]:
    cc, pid = party
    ours = {"country_code": cc, "party_id": pid}
    return [
        ("PUT", f"{V}/locations/{cc}/{pid}/LOC1", location() | ours),
        ("PUT", f"{V}/sessions/{cc}/{pid}/S1", session() | ours),
        ("POST", f"{V}/cdrs", cdr() | ours),
        ("GET", f"{V}/tokens", None),
        ("POST", f"{V}/tokens/TOK1/authorize", None),
    ]


def _stored(emsp: EmspCore) -> int:
    with emsp.db.unit() as db:
        tables = (LocationRow, SessionRow, CdrRow)
        return sum(db.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


@pytest.fixture
def emsp() -> EmspCore:
    core = EmspCore(EmspSettings(pull_initial=False))
    core.issue_token("TOK1", contract_id="NL-EMS-C1", now=T0)
    return core


@pytest.mark.parametrize("call", range(5))
def test_a_peer_emsp_uses_no_cpo_module(emsp: EmspCore, call: int) -> None:
    peer = _partner(emsp, "emsp-x", ("FR", "EMX"), "EMSP")
    method, url, body = _calls(("FR", "EMX"))[call]
    answer = peer.call(method, url, body, headers=_headers(("FR", "EMX")))
    assert (answer.status, answer.json()["status_code"]) == (403, 2001), answer.body
    assert "CPO" in answer.json()["status_message"]
    assert _stored(emsp) == 0


@pytest.mark.parametrize("call", range(3))
def test_a_hubs_own_hub_party_pushes_nothing_as_a_cpo(emsp: EmspCore, call: int) -> None:
    hub = _partner(emsp, "hub", ("NL", "HUB"), "HUB", hub=True)
    method, url, body = _calls(("NL", "HUB"))[call]
    answer = hub.call(method, url, body, headers=_headers(("NL", "HUB")))
    assert (answer.status, answer.json()["status_code"]) == (403, 2001), answer.body
    assert _stored(emsp) == 0


def test_a_hub_still_forwards_for_a_cpo_party(emsp: EmspCore) -> None:
    hub = _partner(emsp, "hub", ("NL", "HUB"), "HUB", hub=True)
    # The sender is one the hub reported behind it (not configured one by one).
    info = {"country_code": "DE", "party_id": "HBA", "role": "CPO", "status": "CONNECTED"}
    reported = hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", info | {"last_updated": "2025-03-01T08:00:00Z"})
    assert reported.json()["status_code"] == 1000, reported.body
    method, url, body = _calls(("DE", "HBA"))[1]
    assert hub.call(method, url, body, headers=_headers(("DE", "HBA"))).json()["status_code"] == 1000


def test_a_cpo_is_served_as_before(emsp: EmspCore) -> None:
    cpo = register(emsp)
    for method, url, body in _calls(("DE", "CPA")):
        answer = cpo.call(method, url, body, headers=_headers(("DE", "CPA")))
        assert answer.json()["status_code"] == 1000, (url, answer.body)
    assert _stored(emsp) == 3
