"""The operator's configuration decides which parties a partner acts for (issue 6, partner takeover).

Over HTTP: a second partner that declares the first partner's party, declares HUB, or widens its
roles with a credentials PUT can neither register so nor read, overwrite or delete the first
partner's sessions, tariffs and locations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from emsp_helpers import T0, Client, FakePricer, auth, cpo_credentials, location, register, session, tariff
from fastapi.testclient import TestClient

from emsp.api import create_app
from emsp.core import EmspCore, EmspSettings
from emsp.services.partners import PartnerConfigError

BASE = "http://testserver/ocpi"
V = f"{BASE}/2.2.1"
VICTIM = ("DE", "CPA")
OBJECTS = {
    "session": f"{V}/sessions/DE/CPA/S1",
    "tariff": f"{V}/tariffs/DE/CPA/TAR1",
    "location": f"{V}/locations/DE/CPA/LOC1",
}


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings(base_url=BASE), pricer=FakePricer())
    return core


@pytest.fixture
def http(core: EmspCore) -> Iterator[TestClient]:
    with TestClient(create_app(core, lambda: T0)) as client:
        yield client


@pytest.fixture
def victim_token(core: EmspCore, http: TestClient) -> str:
    token = register(core, "cpo-a", "token-A-a", VICTIM).token
    for url, body in (
        (OBJECTS["tariff"], tariff()),
        (OBJECTS["location"], location()),
        (OBJECTS["session"], session()),
    ):
        assert http.put(url, json=_json(body), headers=auth(token)).status_code in (200, 201)
    return token


def _json(body: dict[str, Any]) -> Any:
    import json

    from emsp.wire import dumps

    return json.loads(dumps(body))  # Decimals as plain JSON numbers, as a CPO would send them


def _attacks(http: TestClient, token: str) -> list[tuple[str, str, int, int]]:
    """Every way to touch the victim's objects: (method, object, HTTP status, OCPI status)."""
    results = []
    calls = [
        ("GET", "session", None),
        ("PUT", "session", session(kwh=99)),
        ("PATCH", "session", {"kwh": 99, "last_updated": "2025-03-01T10:00:00Z"}),
        ("GET", "tariff", None),
        ("PUT", "tariff", tariff()),
        ("DELETE", "tariff", None),
        ("GET", "location", None),
        ("PUT", "location", location(tz="UTC")),
        ("PATCH", "location", {"name": "taken over", "last_updated": "2025-03-01T10:00:00Z"}),
    ]
    for method, what, body in calls:
        resp = http.request(
            method, OBJECTS[what], json=None if body is None else _json(body), headers=auth(token)
        )
        results.append((method, what, resp.status_code, resp.json()["status_code"]))
    return results


def _victim_data_untouched(http: TestClient, victim_token: str) -> None:
    got = http.get(OBJECTS["session"], headers=auth(victim_token)).json()["data"]
    assert got["kwh"] == 0
    assert http.get(OBJECTS["tariff"], headers=auth(victim_token)).status_code == 200
    assert http.get(OBJECTS["location"], headers=auth(victim_token)).json()["data"]["time_zone"] != "UTC"


def _post_credentials(http: TestClient, token: str, creds: dict[str, Any]) -> tuple[int, int]:
    resp = http.post(f"{V}/credentials", json=creds, headers=auth(token))
    return resp.status_code, resp.json()["status_code"]


@pytest.mark.parametrize(
    "declared",
    [
        pytest.param(cpo_credentials("token-B-m", VICTIM), id="the-victims-party"),
        pytest.param(cpo_credentials("token-B-m", ("FR", "MAL"), role="HUB"), id="hub-role"),
        pytest.param(cpo_credentials("token-B-m", VICTIM, role="HUB"), id="hub-role-with-the-victims-party"),
        pytest.param(cpo_credentials("token-B-m", ("FR", "MAL"), role="EMSP"), id="an-unconfigured-role"),
    ],
)
def test_a_partner_cannot_register_for_parties_not_configured_for_it(
    core: EmspCore, http: TestClient, victim_token: str, declared: dict[str, Any]
) -> None:
    core.register_partner("mallory", "token-A-m", parties=[("FR", "MAL", "CPO")])
    assert _post_credentials(http, "token-A-m", declared) == (400, 2001)
    # Nothing stored: not registered, token A still the only key, and no fetch of its versions queued.
    assert http.get(f"{V}/credentials", headers=auth("token-A-m")).status_code == 405
    assert core.pending_requests() == []
    assert all(status == (401, 2000) for status in [(s[2], s[3]) for s in _attacks(http, "token-A-m")])
    _victim_data_untouched(http, victim_token)


def test_a_registered_partner_cannot_widen_its_roles_with_put(
    core: EmspCore, http: TestClient, victim_token: str
) -> None:
    mallory = register(core, "mallory", "token-A-m", ("FR", "MAL"))
    for role in ("CPO", "HUB"):
        resp = http.put(
            f"{V}/credentials", json=cpo_credentials("token-B-m2", VICTIM, role), headers=auth(mallory.token)
        )
        assert (resp.status_code, resp.json()["status_code"]) == (400, 2001)
    # Its token C still works (the refused PUT changed nothing), and still opens nothing of the victim's.
    assert http.get(f"{V}/credentials", headers=auth(mallory.token)).json()["status_code"] == 1000
    assert {(s[2], s[3]) for s in _attacks(http, mallory.token)} == {(404, 2001)}
    _victim_data_untouched(http, victim_token)


def test_a_partner_cannot_be_configured_for_a_party_another_partner_owns(
    core: EmspCore, victim_token: str
) -> None:
    with pytest.raises(PartnerConfigError, match="already configured for partner 'cpo-a'"):
        core.register_partner("mallory", "token-A-m", parties=[("DE", "CPA", "EMSP")])
    with pytest.raises(PartnerConfigError, match="HUB is only for a partner configured with hub"):
        core.register_partner("mallory", "token-A-m", parties=[("FR", "HUB", "HUB")])
    with pytest.raises(PartnerConfigError, match="token_a"):
        core.register_partner("mallory", victim_token, parties=[("FR", "MAL", "CPO")])


def test_a_hub_forwards_other_parties_but_never_a_directly_connected_one(
    core: EmspCore, http: TestClient, victim_token: str
) -> None:
    core.register_partner("hub", "token-A-hub", parties=[("NL", "HUB", "HUB")], hub=True)
    hub = register_hub(core, http)
    assert {(s[2], s[3]) for s in _attacks(http, hub)} == {(404, 2001)}
    # BE/BCP is behind the hub as its HubClientInfo says (not configured one by one).
    info = {"country_code": "BE", "party_id": "BCP", "role": "CPO", "status": "CONNECTED"}
    info["last_updated"] = "2025-03-01T08:00:00Z"
    assert http.put(f"{V}/hubclientinfo/BE/BCP", json=info, headers=auth(hub)).status_code == 200
    forwarded = session("S9") | {"country_code": "BE", "party_id": "BCP"}
    # Via a hub a message names its sender in the routing headers (review11 P3).
    sender = {"OCPI-from-country-code": "BE", "OCPI-from-party-id": "BCP"}
    resp = http.put(f"{V}/sessions/BE/BCP/S9", json=_json(forwarded), headers=auth(hub) | sender)
    assert resp.status_code == 201
    _victim_data_untouched(http, victim_token)


def register_hub(core: EmspCore, http: TestClient) -> str:
    """The handshake itself in-process (the eMSP's calls to the hub answered by a fake)."""
    creds = cpo_credentials("token-B-hub", ("NL", "HUB"), role="HUB")
    resp = Client(core, "token-A-hub").call("POST", f"{V}/credentials", creds)
    assert resp.json()["status_code"] == 1000, resp.body
    return str(resp.json()["data"]["token"])


def test_a_party_the_operator_removes_is_closed_at_once(
    core: EmspCore, http: TestClient, victim_token: str
) -> None:
    core.register_partner("cpo-a", "token-A-a", parties=[("DE", "CPB", "CPO")])
    assert {(s[2], s[3]) for s in _attacks(http, victim_token)} == {(404, 2001)}
