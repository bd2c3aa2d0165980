"""A token uid is a URL path segment (our `/api/v1/tokens/{uid}`, the CPO's mod_tokens PUT, our
authorize endpoint): the contract API refuses, with a 422 naming `uid`, a uid its own URL could not
reach again, and every uid it accepts is found, blocked and unblocked by its (escaped) URL."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

REFUSED = ["a/b", "a?b", "a#b", "a%b", "a%2Fb", "a\\b", ".", ".."]
ACCEPTED = ["a.b", "...", "A-B_C~1", "x+y", "a:b@c", "!$&'()*,;=", "0123456789abcdef0123456789ABCDEF0123"]


@pytest.mark.parametrize("uid", REFUSED)
def test_a_uid_that_cannot_round_trip_in_a_url_is_refused_naming_the_field(api: TestClient, uid: str) -> None:
    resp = api.post("/api/v1/tokens", json={"uid": uid, "contract_id": "NL-EMS-C00000001-X"})
    assert resp.status_code == 422, resp.text
    [error] = resp.json()["detail"]
    assert error["loc"] == ["body", "uid"]
    assert "URL path segment" in error["msg"]
    assert api.get("/api/v1/tokens").json()["total"] == 0  # nothing was issued


@pytest.mark.parametrize("uid", ACCEPTED)
def test_an_accepted_uid_is_reachable_by_its_own_url(api: TestClient, uid: str) -> None:
    created = api.post("/api/v1/tokens", json={"uid": uid, "contract_id": "NL-EMS-C00000001-X"})
    assert created.status_code == 201, created.text
    url = f"/api/v1/tokens/{quote(uid, safe='')}"
    got = api.get(url)
    assert got.status_code == 200 and got.json()["uid"] == uid
    blocked = api.post(f"{url}/block")
    assert blocked.status_code == 200 and blocked.json()["valid"] is False
    assert api.post(f"{url}/unblock").json()["valid"] is True
