from __future__ import annotations

from emsp_helpers import BASE, CPO_VERSIONS, T0, Client, V, auth, cpo_credentials, register

from emsp.core import EmspCore
from emsp.wire import HttpRequest, HttpResponse, dumps


def test_versions_and_details_with_token_a(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = Client(core, "tokA")
    versions = client.call("GET", f"{BASE}/versions").json()
    assert versions["status_code"] == 1000
    assert versions["data"] == [{"version": "2.2.1", "url": V}]
    details = client.call("GET", V).json()["data"]
    roles = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("locations", "RECEIVER"), ("tariffs", "RECEIVER"), ("sessions", "RECEIVER")} <= roles
    assert {("cdrs", "RECEIVER"), ("tokens", "SENDER")} <= roles
    assert "credentials" in {e["identifier"] for e in details["endpoints"]}


def test_full_handshake_fetches_cpo_versions_and_details(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = Client(core, "tokA")
    resp = client.call("POST", f"{V}/credentials", cpo_credentials("tokB"))
    assert resp.status == 200
    ours = resp.json()["data"]
    assert ours["url"] == f"{BASE}/versions"
    assert ours["roles"][0]["role"] == "EMSP" and ours["roles"][0]["business_details"]["name"]
    token_c = ours["token"]
    assert token_c not in ("tokA", "tokB")

    (fetch,) = core.pending_requests()
    assert fetch.request.method == "GET" and fetch.request.url == CPO_VERSIONS
    assert fetch.request.header("Authorization") == auth("tokB")["Authorization"]
    assert core.pending_requests() == []  # drained
    versions = {
        "data": [{"version": "2.2.1", "url": "http://cpo.test/ocpi/2.2.1"}],
        "status_code": 1000,
        "timestamp": "2025-03-01T09:00:00Z",
    }
    core.on_response(fetch.request_id, HttpResponse(200, {}, dumps(versions)), T0)
    (details_req,) = core.pending_requests()
    assert details_req.request.url == "http://cpo.test/ocpi/2.2.1"
    endpoints = [{"identifier": "locations", "role": "SENDER", "url": "http://cpo.test/ocpi/2.2.1/locations"}]
    details = {
        "data": {"version": "2.2.1", "endpoints": endpoints},
        "status_code": 1000,
        "timestamp": "2025-03-01T09:00:00Z",
    }
    core.on_response(details_req.request_id, HttpResponse(200, {}, dumps(details)), T0)
    assert core.partner_endpoints("cpo1") == endpoints

    # token A is spent; token C works; a second POST is 405
    assert client.call("GET", f"{BASE}/versions").status == 401
    client.token = token_c
    assert client.call("GET", f"{BASE}/versions").status == 200
    assert client.call("POST", f"{V}/credentials", cpo_credentials("tokB")).status == 405


def test_credentials_put_rotates_token_c_and_delete_unregisters(core: EmspCore) -> None:
    client = register(core)
    old = client.token
    resp = client.call("PUT", f"{V}/credentials", cpo_credentials("tokB2"))
    assert resp.status == 200
    new = resp.json()["data"]["token"]
    assert new != old
    assert len(core.pending_requests()) == 1  # endpoints fetched again
    assert client.call("GET", f"{V}/credentials").status == 401  # old token C no longer valid
    client.token = new
    assert client.call("GET", f"{V}/credentials").json()["data"]["token"] == new
    assert client.call("DELETE", f"{V}/credentials").json()["status_code"] == 1000
    assert client.call("GET", f"{V}/credentials").status == 401


def test_put_credentials_before_registration_is_405(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    resp = Client(core, "tokA").call("PUT", f"{V}/credentials", cpo_credentials())
    assert resp.status == 405 and resp.json()["status_code"] == 2000


def test_failed_versions_fetch_marks_partner(core: EmspCore) -> None:
    register(core)
    client = Client(core, "x")
    client.core.register_partner("cpo2", "tokA2", parties=[("FR", "XYZ", "CPO")])
    client.token = "tokA2"
    client.call("POST", f"{V}/credentials", cpo_credentials("tokB2", ("FR", "XYZ")))
    (fetch,) = core.pending_requests()
    core.on_response(fetch.request_id, HttpResponse(503, {}, "down"), T0)
    assert core.partner_endpoints("cpo2") == []


def test_auth_failures(core: EmspCore) -> None:
    client = register(core)
    cases = [
        ({}, 401),
        ({"Authorization": "Token not-base64!!"}, 401),
        ({"Authorization": "Bearer " + auth(client.token)["Authorization"][6:]}, 401),
        (auth("unknown-token"), 401),
        ({"Authorization": "Token " + client.token}, 401),  # raw token: 2.2.1 requires Base64
    ]
    for headers, status in cases:
        resp = core.handle(HttpRequest("GET", f"{V}/tokens", headers), T0)
        assert resp.status == status, headers
        body = resp.json()
        assert body["status_code"] == 2000 and "timestamp" in body


def test_token_a_only_opens_versions_and_credentials(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = Client(core, "tokA")
    assert client.call("GET", f"{V}/tokens").status == 401
    assert client.call("PUT", f"{V}/locations/DE/CPA/L1", {}).status == 401
