from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from emsp_helpers import (
    BASE,
    CPO_ENDPOINTS,
    CPO_V221,
    CPO_VERSIONS,
    T0,
    Client,
    V,
    answer_outbound,
    auth,
    cpo_credentials,
    fake_cpo,
    ocpi_ok,
    register,
)

from emsp.core import EmspCore
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps


def test_versions_and_details_with_token_a(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = Client(core, "tokA")
    versions = client.call("GET", f"{BASE}/versions").json()
    assert versions["status_code"] == 1000
    assert versions["data"] == [
        {"version": v, "url": f"{BASE}/{v}"} for v in ("2.1.1", "2.2.1", "2.3.0")
    ]  # the eMSP speaks three versions now (issue 8)
    details = client.call("GET", V).json()["data"]
    roles = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("locations", "RECEIVER"), ("tariffs", "RECEIVER"), ("sessions", "RECEIVER")} <= roles
    assert {("cdrs", "RECEIVER"), ("tokens", "SENDER")} <= roles
    assert "credentials" in {e["identifier"] for e in details["endpoints"]}


def test_post_is_answered_only_after_the_clients_versions_and_details(core: EmspCore) -> None:
    """credentials POST: the server fetches the client's endpoints before it answers."""
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    client = Client(core, "tokA")
    deferred = core.handle(_post(cpo_credentials("tokB"), "tokA"), T0)
    assert isinstance(deferred, Deferred)
    (fetch,) = core.pending_requests()
    assert fetch.request.method == "GET" and fetch.request.url == CPO_VERSIONS
    assert fetch.request.header("Authorization") == auth("tokB")["Authorization"]
    # Nothing stored yet: token A still opens versions, the partner is not registered.
    assert client.call("GET", f"{BASE}/versions").status == 200
    assert client.call("GET", f"{V}/credentials").status == 405
    assert core.completed_responses() == []
    core.on_response(fetch.request_id, fake_cpo(fetch.request), T0)
    (details_req,) = core.pending_requests()
    assert details_req.request.url == CPO_V221
    assert core.completed_responses() == []
    core.on_response(details_req.request_id, fake_cpo(details_req.request), T0)
    ((deferred_id, resp),) = core.completed_responses()
    assert deferred_id == deferred.deferred_id
    assert resp.status == 200
    ours = resp.json()["data"]
    assert ours["url"] == f"{BASE}/versions"
    assert ours["roles"][0]["role"] == "EMSP" and ours["roles"][0]["business_details"]["name"]
    token_c = ours["token"]
    assert token_c not in ("tokA", "tokB")
    assert core.partner_endpoints("cpo1") == CPO_ENDPOINTS

    # token A is spent; token C works; a second POST is 405
    assert client.call("GET", f"{BASE}/versions").status == 401
    client.token = token_c
    assert client.call("GET", f"{BASE}/versions").status == 200
    assert client.call("POST", f"{V}/credentials", cpo_credentials("tokB")).status == 405


def _post(creds: dict[str, Any], token: str, method: str = "POST") -> HttpRequest:
    return HttpRequest(
        method, f"{V}/credentials", {**auth(token), "Content-Type": "application/json"}, dumps(creds)
    )


def _versions(*offered: str) -> HttpResponse:
    return ocpi_ok([{"version": v, "url": f"http://cpo.test/ocpi/{v}"} for v in offered])


FAILURES = [
    pytest.param([HttpResponse(599, {}, None)], 3001, id="versions-unreachable"),
    pytest.param([HttpResponse(503, {}, "down")], 3001, id="versions-http-error"),
    pytest.param([HttpResponse(200, {}, "<html>")], 3001, id="versions-not-json"),
    pytest.param(
        [HttpResponse(200, {}, dumps({"status_code": 2000, "timestamp": "x"}))],
        3001,
        id="versions-ocpi-error",
    ),
    pytest.param([_versions("2.1.1")], 3002, id="no-common-version"),
    pytest.param([_versions()], 3002, id="no-version-at-all"),
    pytest.param([_versions("2.2.1"), HttpResponse(599, {}, None)], 3001, id="details-unreachable"),
    pytest.param([_versions("2.2.1"), ocpi_ok({"version": "2.2.1"})], 3001, id="details-malformed"),
]


@pytest.mark.parametrize(("answers", "status_code"), FAILURES)
def test_a_failed_fetch_answers_the_post_with_3001_or_3002_and_stores_nothing(
    core: EmspCore, answers: list[HttpResponse], status_code: int
) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    deferred = core.handle(_post(cpo_credentials("tokB"), "tokA"), T0)
    assert isinstance(deferred, Deferred)
    for answer in answers:
        (call,) = core.pending_requests()
        core.on_response(call.request_id, answer, T0)
    assert core.pending_requests() == []
    resp = core.take_response(deferred.deferred_id)
    assert resp is not None and resp.json()["status_code"] == status_code, resp.body
    assert resp.status == 200  # reached the OCPI layer: no HTTP error (status_codes), never a 502
    assert "data" not in resp.json()
    _nothing_stored(core)


def _nothing_stored(core: EmspCore) -> None:
    client = Client(core, "tokA")
    assert client.call("GET", f"{BASE}/versions").status == 200  # token A still valid
    assert client.call("GET", f"{V}/credentials").status == 405  # not registered, no token C
    assert core.partner_endpoints("cpo1") == []
    # ... and the client may try again, this time with a CPO that answers.
    assert client.call("POST", f"{V}/credentials", cpo_credentials("tokB")).json()["status_code"] == 1000


def test_a_client_that_never_answers_gets_3001_at_the_deadline(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    deferred = core.handle(_post(cpo_credentials("tokB"), "tokA"), T0)
    assert isinstance(deferred, Deferred)
    (call,) = core.pending_requests()
    deadline = core.next_deadline()
    assert deadline == T0 + core.settings.fetch_timeout
    core.expire_overdue(deadline - timedelta(milliseconds=1))
    assert core.take_response(deferred.deferred_id) is None
    core.expire_overdue(deadline)
    resp = core.take_response(deferred.deferred_id)
    assert resp is not None and resp.json()["status_code"] == 3001
    assert resp.status == 200  # the deadline path too (it answered HTTP 502)
    core.on_response(call.request_id, fake_cpo(call.request), deadline)  # too late: changes nothing
    assert core.pending_requests() == [] and core.next_deadline() is None
    _nothing_stored(core)


def test_a_second_handshake_while_one_runs_is_refused(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    assert isinstance(core.handle(_post(cpo_credentials("tokB"), "tokA"), T0), Deferred)
    second = core.handle(_post(cpo_credentials("tokB"), "tokA"), T0)
    assert isinstance(second, HttpResponse) and second.status == 409


def test_credentials_put_fetches_again_then_rotates_token_c_and_delete_unregisters(core: EmspCore) -> None:
    client = register(core)
    old = client.token
    deferred = core.handle(_post(cpo_credentials("tokB2"), old, "PUT"), T0)
    assert isinstance(deferred, Deferred)
    assert client.call("GET", f"{V}/credentials").status == 200  # old token C valid until the PUT ends
    calls = answer_outbound(core, T0)
    assert [c.url for c in calls] == [CPO_VERSIONS, CPO_V221]  # endpoints fetched again
    assert calls[0].header("Authorization") == auth("tokB2")["Authorization"]
    resp = core.take_response(deferred.deferred_id)
    assert resp is not None
    new = resp.json()["data"]["token"]
    assert new != old
    assert client.call("GET", f"{V}/credentials").status == 401  # old token C no longer valid
    client.token = new
    assert client.call("GET", f"{V}/credentials").json()["data"]["token"] == new
    assert client.call("DELETE", f"{V}/credentials").json()["status_code"] == 1000
    assert client.call("GET", f"{V}/credentials").status == 401


def test_a_failed_put_keeps_the_registration_as_it_was(core: EmspCore, cpo: Client) -> None:
    deferred = core.handle(_post(cpo_credentials("tokB2"), cpo.token, "PUT"), T0)
    assert isinstance(deferred, Deferred)
    answer_outbound(core, T0, lambda _request: _versions("2.1.1"))
    resp = core.take_response(deferred.deferred_id)
    assert resp is not None and resp.json()["status_code"] == 3002
    assert cpo.call("GET", f"{V}/credentials").status == 200  # token C unchanged
    assert core.partner_endpoints("cpo1") == CPO_ENDPOINTS


def test_put_credentials_before_registration_is_405(core: EmspCore) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    resp = Client(core, "tokA").call("PUT", f"{V}/credentials", cpo_credentials())
    assert resp.status == 405 and resp.json()["status_code"] == 2000


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
