"""The eMSP side of a hub: HubClientInfo receiver, and the one channel resolver every outbound call
asks (emsp.ocpi.channels): bilateral when a bilateral partner has the party, else the hub listing
it, with routing headers; nothing to a party the hub reports unreachable."""

from __future__ import annotations

from typing import Any

import emsp_helpers
import pytest
from emsp_helpers import CPO_V221, Client, V, register, register_hub

from emsp.core import EmspCore, EmspSettings
from emsp.ocpi.channels import resolve

HUB_ENDPOINTS = [
    {"identifier": "tokens", "role": "RECEIVER", "url": f"{CPO_V221}/tokens"},
    {"identifier": "sessions", "role": "SENDER", "url": f"{CPO_V221}/sessions/sender"},
    {"identifier": "credentials", "role": "RECEIVER", "url": f"{CPO_V221}/credentials"},
]


def info(cc: str, pid: str, status: str, at: str = "2025-03-01T09:00:00Z") -> dict[str, Any]:
    return {"country_code": cc, "party_id": pid, "role": "CPO", "status": status, "last_updated": at}


@pytest.fixture
def emsp() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _hub(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr(emsp_helpers, "CPO_ENDPOINTS", HUB_ENDPOINTS)
    return register_hub(emsp, (("DE", "HBA"), ("BE", "HBB")))


def _token_puts(emsp: EmspCore) -> list[tuple[str, str | None]]:
    emsp.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=emsp_helpers.T0)
    emsp.pending_requests()
    emsp.push_token("RFID1", "RFID")
    return [
        (o.partner, o.request.header("OCPI-to-party-id"))
        for o in emsp.pending_requests()
        if o.request.method == "PUT"
    ]


def test_client_info_kept_per_party_and_only_from_a_hub(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = _hub(emsp, monkeypatch)
    assert hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", info("DE", "HBA", "OFFLINE")).status == 200
    got = hub.call("GET", f"{V}/hubclientinfo/DE/HBA").json()["data"]
    assert got["status"] == "OFFLINE"
    # older than what we hold: accepted, not applied
    stale = info("DE", "HBA", "CONNECTED", "2025-03-01T08:00:00Z")
    assert hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", stale).status == 200
    assert hub.call("GET", f"{V}/hubclientinfo/DE/HBA").json()["data"]["status"] == "OFFLINE"
    bad = info("DE", "HBA", "SLEEPING")
    assert hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", bad).json()["status_code"] == 2001
    monkeypatch.setattr(emsp_helpers, "CPO_ENDPOINTS", HUB_ENDPOINTS)
    cpo = register(emsp)  # a bilateral CPO may not tell us who is connected
    assert cpo.call("PUT", f"{V}/hubclientinfo/DE/HBA", info("DE", "HBA", "CONNECTED")).status == 403


def test_channel_per_party(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _hub(emsp, monkeypatch)
    register(emsp)  # cpo1: DE/CPA bilaterally
    hub.call("PUT", f"{V}/hubclientinfo/BE/HBB", info("BE", "HBB", "SUSPENDED"))
    with emsp.db.unit() as db:
        direct, via_hub, down = resolve(db, "DE", "CPA"), resolve(db, "de", "hba"), resolve(db, "BE", "HBB")
        assert resolve(db, "FR", "XXX") is None
    assert direct is not None and (direct.partner_id, direct.hub, direct.callable) == ("cpo1", False, True)
    assert via_hub is not None and (via_hub.partner_id, via_hub.hub, via_hub.callable) == ("hub", True, True)
    assert via_hub.headers(emsp.settings)["OCPI-to-party-id"] == "HBA"
    assert down is not None and not down.callable


def test_token_push_per_party_skips_unreachable(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = _hub(emsp, monkeypatch)
    hub.call("PUT", f"{V}/hubclientinfo/BE/HBB", info("BE", "HBB", "OFFLINE"))
    assert _token_puts(emsp) == [("hub", "HBA")]
    hub.call("PUT", f"{V}/hubclientinfo/BE/HBB", info("BE", "HBB", "CONNECTED", "2025-03-01T09:05:00Z"))
    # back: the eMSP catches up with that party through the hub (its responsibility to GET)
    pulls = [o.request for o in emsp.pending_requests()]
    assert [(r.method, r.header("OCPI-to-country-code"), r.header("OCPI-to-party-id")) for r in pulls] == [
        ("GET", "BE", "HBB")
    ]
    assert pulls[0].url.startswith(f"{CPO_V221}/sessions/sender?limit=")
    assert sorted(_token_puts(emsp)) == [("hub", "HBA"), ("hub", "HBB")]
