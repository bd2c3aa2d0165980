"""Behind a hub every party posts as the hub's partner; the OCPI-from headers name the party that
sent the message (transport_and_format, message routing headers). One party may not write or read
another's client-owned objects through the hub (review9 M6: DE/HBB replaced DE/HBA's Session)."""

from __future__ import annotations

import json
from pathlib import Path

from emsp_helpers import Client, V, cdr, location, register_hub, session
from version_helpers import VersionClient, credentials

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import parse_utc


def _from(party_id: str) -> dict[str, str]:
    return {
        "OCPI-from-country-code": "DE", "OCPI-from-party-id": party_id,
        "OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS",
    }  # fmt: skip


def _hub() -> tuple[EmspCore, Client]:
    emsp = EmspCore(EmspSettings(pull_initial=False))
    hub = register_hub(emsp)
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


def test_the_hub_broadcasting_as_itself_is_taken_for_any_party_behind_it() -> None:
    """Broadcast Push: the hub sends the receiver leg as itself, OCPI-from naming the hub's own party
    (transport_and_format). That is the hub speaking, not another party (review11 P1)."""
    _emsp, hub = _hub()
    hub_itself = _from("HUB") | {"OCPI-from-country-code": "NL"}
    body = location("LOC-B") | {"party_id": "HBB"}
    put = hub.call("PUT", f"{V}/locations/DE/HBB/LOC-B", body, headers=hub_itself)
    assert (put.status, put.json()["status_code"]) == (201, 1000)
    assert (
        hub.call("GET", f"{V}/locations/DE/HBB/LOC-B", headers=_from("HBB")).json()["data"]["id"] == "LOC-B"
    )


def test_a_push_via_a_hub_without_ocpi_from_is_refused() -> None:
    """A message via a hub carries the routing headers (2.2.1 transport_and_format): without
    OCPI-from nobody can tell which party behind the hub sent it, so it is not taken for the party
    the URL names (review11 P3: DE/HBB replaced DE/HBA's Session by leaving the headers out)."""
    _emsp, hub = _hub()
    url = f"{V}/sessions/DE/HBA/S1"
    assert (
        hub.call("PUT", url, session("S1", party_id="HBA", location_id="LOC-A"), headers=_from("HBA")).json()[
            "status_code"
        ]
        == 1000
    )
    theirs = session("S1", party_id="HBA", location_id="LOC-A", kwh=42, last_updated="2025-03-01T09:30:00Z")
    to_only = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "EMS"}
    refused = hub.call("PUT", url, theirs, headers=to_only)
    assert refused.json()["status_code"] == 2001
    assert "OCPI-from" in refused.json()["status_message"]
    assert hub.call("GET", url, headers=_from("HBA")).json()["data"]["kwh"] == 0


def test_a_211_hub_has_no_routing_headers_and_keeps_pushing() -> None:
    """2.1.1 has no routing headers: behind a 2.1.1 hub the URL's party is all there is to check."""
    emsp = EmspCore(EmspSettings(pull_initial=False))
    emsp.register_partner(
        "hub", "token-A-hub", parties=[("DE", "CPA", "CPO"), ("DE", "HBB", "CPO")], hub=True
    )
    hub = VersionClient(emsp, "2.1.1", "token-A-hub")
    hub.token = hub.call("POST", "credentials", credentials("2.1.1", "token-B-hub")).json()["data"]["token"]
    hub.now = parse_utc("2030-01-01T00:00:00Z")  # after the example's last_updated
    body = json.loads((Path(__file__).parent / "spec_examples_211" / "tariff_simple.json").read_text())
    put = hub.call("PUT", f"tariffs/DE/HBB/{body['id']}", body)
    assert (put.json()["status_code"], put.json().get("status_message")) == (1000, "Success")


def test_a_230_hub_broadcasting_as_its_hub_party_id_is_taken() -> None:
    """2.3.0 has no HUB role: a hub names its own party in hub_party_id (credentials), not in its
    roles. Its Broadcast Push names that party in OCPI-from all the same."""
    emsp = EmspCore(EmspSettings(pull_initial=False))
    emsp.register_partner(
        "hub", "token-A-hub", parties=[("NL", "HUB", "HUB"), ("DE", "CPA", "CPO")], hub=True
    )
    registering = VersionClient(emsp, "2.3.0", "token-A-hub")
    creds = credentials("2.3.0", "token-B-hub") | {"hub_party_id": "NLHUB"}
    answer = registering.call("POST", "credentials", creds)
    assert answer.json()["status_code"] == 1000, answer.body
    hub = Client(emsp, answer.json()["data"]["token"])
    hub.now = parse_utc("2030-01-01T00:00:00Z")  # after the example's last_updated
    path = Path(__file__).parent / "spec_examples_230" / "location" / "location.json"
    body = json.loads(path.read_text()) | {"country_code": "DE", "party_id": "HBB", "id": "LOC-B"}
    hub_itself = _from("HUB") | {"OCPI-from-country-code": "NL"}
    put = hub.call("PUT", f"{V.replace('2.2.1', '2.3.0')}/locations/DE/HBB/LOC-B", body, headers=hub_itself)
    assert put.json()["status_code"] == 1000, put.body


def test_the_hub_as_itself_reads_no_partys_objects() -> None:
    """The hub's own party is taken as sender for a Broadcast Push, a push; "GET SHALL NOT be used
    in combination with Broadcast Push" (2.2.1 transport_and_format). A GET of a party's Session or
    Location naming the hub as sender read it all the same: it is no party's own read, now 404/2001."""
    _emsp, hub = _hub()
    url = f"{V}/sessions/DE/HBA/S1"
    mine = session("S1", party_id="HBA", location_id="LOC-A")
    assert hub.call("PUT", url, mine, headers=_from("HBA")).json()["status_code"] == 1000
    hub_itself = _from("HUB") | {"OCPI-from-country-code": "NL"}
    for read in (url, f"{V}/locations/DE/HBA/LOC-A"):
        refused = hub.call("GET", read, headers=hub_itself)
        assert (refused.status, refused.json()["status_code"]) == (404, 2001), refused.body
        assert hub.call("GET", read, headers=_from("HBA")).json()["status_code"] == 1000
