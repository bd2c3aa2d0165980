"""Behind a hub every party posts as the hub's partner; the OCPI-from headers name the party that
sent the message (transport_and_format, message routing headers). One party may not write or read
another's client-owned objects through the hub (review9 M6: DE/HBB replaced DE/HBA's Session)."""

from __future__ import annotations

from emsp_helpers import Client, V, cdr, cpo_credentials, location, session

from emsp.core import EmspCore, EmspSettings


def _from(party_id: str) -> dict[str, str]:
    return {
        "OCPI-from-country-code": "DE", "OCPI-from-party-id": party_id,
        "OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS",
    }  # fmt: skip


def _hub() -> tuple[EmspCore, Client]:
    emsp = EmspCore(EmspSettings(pull_initial=False))
    emsp.register_partner(
        "hub",
        "token-A-hub",
        parties=[("NL", "HUB", "HUB"), ("DE", "HBA", "CPO"), ("DE", "HBB", "CPO")],
        hub=True,
    )
    hub = Client(emsp, "token-A-hub")
    answer = hub.call("POST", f"{V}/credentials", cpo_credentials("token-B-hub", ("NL", "HUB"), "HUB"))
    hub.token = answer.json()["data"]["token"]
    put = hub.call(
        "PUT", f"{V}/locations/DE/HBA/LOC-A", location("LOC-A") | {"party_id": "HBA"}, headers=_from("HBA")
    )
    assert put.json()["status_code"] == 1000
    return emsp, hub


def test_another_party_behind_the_hub_cannot_write_or_read_a_partys_session() -> None:
    _emsp, hub = _hub()
    url = f"{V}/sessions/DE/HBA/S1"
    mine = session("S1", party_id="HBA", location_id="LOC-A")
    assert hub.call("PUT", url, mine, headers=_from("HBA")).json()["status_code"] == 1000
    theirs = session("S1", party_id="HBA", location_id="LOC-A", kwh=42, last_updated="2025-03-01T09:30:00Z")
    refused = hub.call("PUT", url, theirs, headers=_from("HBB"))
    assert (refused.status, refused.json()["status_code"]) == (404, 2001)
    assert "DE/HBB" in refused.json()["status_message"]
    assert hub.call("GET", url, headers=_from("HBB")).status == 404
    stored = hub.call("GET", url, headers=_from("hba"))  # CiString: any case
    assert stored.json()["data"]["kwh"] == 0


def test_another_party_behind_the_hub_cannot_post_a_partys_cdr() -> None:
    emsp, hub = _hub()
    body = cdr("CDR-A", party_id="HBA") | {"session_id": None}
    body["cdr_location"] = body["cdr_location"] | {"id": "LOC-A"}
    refused = hub.call("POST", f"{V}/cdrs", body, headers=_from("HBB"))
    assert (refused.status, refused.json()["status_code"]) == (404, 2001)
    assert not emsp.records().cdrs
    assert hub.call("POST", f"{V}/cdrs", body, headers=_from("HBA")).json()["status_code"] == 1000
