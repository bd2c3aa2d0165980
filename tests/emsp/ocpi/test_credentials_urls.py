"""Credentials a partner gives us are checked before anything is sent (review F1, F8).

- A 2.1.1 token goes into the Authorization header as is: 2.1.1 transport_and_format, "Request
  format", allows only printable, non-whitespace ASCII; anything else is 2001 with nothing stored.
- A credentials `url`, a version's details URL or an endpoint URL that cannot be called is 3001
  (status_codes: unable to use the client's API), answered at once, not after a send that fails.
- None of them may point into our own OCPI API (the partner would register us with ourselves)."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import BASE, T0, Client, cpo_credentials, ocpi_ok
from version_helpers import CPO_VERSIONS, credentials, header

from emsp.core import EmspCore
from emsp.ocpi.urls import is_ours, unusable
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps


def _post(core: EmspCore, version: str, creds: dict[str, Any]) -> HttpResponse | Deferred:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    headers = {"Authorization": header(version, "tokA"), "Content-Type": "application/json"}
    return core.handle(HttpRequest("POST", f"{BASE}/{version}/credentials", headers, dumps(creds)), T0)


def _not_registered(core: EmspCore) -> None:
    assert core.pending_requests() == []  # nothing was sent
    assert core.partner_endpoints("cpo1") == []
    client = Client(core, "tokA")
    assert client.call("GET", f"{BASE}/versions").status == 200  # token A still opens versions


@pytest.mark.parametrize("token", ["tökén", "tok en", "tok\ten", "tok\r\nX-Evil: 1"])
def test_a_211_token_that_is_not_printable_ascii_is_2001(core: EmspCore, token: str) -> None:
    resp = _post(core, "2.1.1", credentials("2.1.1", token))
    assert isinstance(resp, HttpResponse)
    assert resp.json()["status_code"] == 2001, resp.body
    _not_registered(core)


def test_a_211_token_of_printable_ascii_is_accepted(core: EmspCore) -> None:
    resp = _post(core, "2.1.1", credentials("2.1.1", "A~!z/+=09"))
    assert isinstance(resp, Deferred)
    (fetch,) = core.pending_requests()
    assert fetch.request.url == CPO_VERSIONS


BAD_URLS = [
    "http://[::1/versions",
    "ftp://cpo.test/versions",
    "http:///versions",
    "http://cpo.test:99999/v",
    "http://cpö.test/versions",
    "versions",
    "http://emsp.local/ocpi/versions",  # our own
    "http://EMSP.local:80/ocpi",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("version", ["2.1.1", "2.2.1"])
def test_an_unusable_or_own_credentials_url_is_3001_at_once(core: EmspCore, version: str, url: str) -> None:
    resp = _post(core, version, {**credentials(version, "tokB"), "url": url})
    assert isinstance(resp, HttpResponse), "nothing may be fetched from that URL"
    assert resp.json()["status_code"] == 3001, resp.body
    _not_registered(core)


def _answer(details_url: str, endpoint_url: str) -> Any:
    def answer(request: HttpRequest) -> HttpResponse:
        if request.url == CPO_VERSIONS:
            return ocpi_ok([{"version": "2.2.1", "url": details_url}])
        endpoint = {"identifier": "commands", "role": "RECEIVER", "url": endpoint_url}
        return ocpi_ok({"version": "2.2.1", "endpoints": [endpoint]})

    return answer


@pytest.mark.parametrize(
    ("details_url", "endpoint_url"),
    [
        ("http://[::1/2.2.1", "http://cpo.test/commands"),
        ("http://cpo.test/2.2.1", "http://[::1/commands"),
        ("http://cpo.test/2.2.1", "http://cpo.test/com mands"),
        ("http://cpo.test/2.2.1", "http://emsp.local/ocpi/2.2.1/commands"),
    ],
)
def test_an_unusable_url_in_versions_or_details_is_3001(
    core: EmspCore, details_url: str, endpoint_url: str
) -> None:
    deferred = _post(core, "2.2.1", cpo_credentials("tokB"))
    assert isinstance(deferred, Deferred)
    answer = _answer(details_url, endpoint_url)
    while pending := core.pending_requests():
        for call in pending:
            assert call.request.url in (CPO_VERSIONS, "http://cpo.test/2.2.1")
            core.on_response(call.request_id, answer(call.request), T0)
    resp = core.take_response(deferred.deferred_id)
    assert resp is not None and resp.json()["status_code"] == 3001, resp
    _not_registered(core)


def test_usable_urls() -> None:
    for url in ("http://cpo.test/v", "https://cpo.test:8443/ocpi/versions?x=1", "http://[::1]:80/v"):
        assert unusable(url) is None, url
    assert is_ours("http://emsp.local/ocpi/2.2.1/tokens", "http://emsp.local/ocpi")
    assert not is_ours("http://emsp.local/ocpix/versions", "http://emsp.local/ocpi")
    assert not is_ours("http://emsp.local:8080/ocpi/versions", "http://emsp.local/ocpi")
    assert not is_ours("https://emsp.local/ocpi/versions", "http://emsp.local/ocpi")


NO_ANSWER = [
    HttpResponse(599, {}, None),  # nothing listens there
    HttpResponse(404, {}, "Not Found"),  # something else listens there
    HttpResponse(200, {}, "<html>"),
    None,  # nothing answers in time
]


def test_a_client_is_not_told_why_its_versions_could_not_be_fetched(core: EmspCore) -> None:
    """The same 3001 message whatever answered (or not) at the URL a token A holder gave us: it
    cannot map which internal addresses and ports answer (review F8). Only the timing differs."""
    messages = set()
    for index, answer in enumerate(NO_ANSWER):
        partner = f"cpo{index}"
        core.register_partner(partner, f"tokA{index}", parties=[("DE", f"CP{index}", "CPO")])
        creds = cpo_credentials(f"tokB{index}", ("DE", f"CP{index}"))
        headers = {"Authorization": header("2.2.1", f"tokA{index}"), "Content-Type": "application/json"}
        deferred = core.handle(HttpRequest("POST", f"{BASE}/2.2.1/credentials", headers, dumps(creds)), T0)
        assert isinstance(deferred, Deferred)
        (call,) = core.pending_requests()
        if answer is None:
            deadline = core.next_deadline()
            assert deadline is not None
            core.expire_overdue(deadline)
        else:
            core.on_response(call.request_id, answer, T0)
        resp = core.take_response(deferred.deferred_id)
        assert resp is not None and resp.json()["status_code"] == 3001, resp
        messages.add(resp.json()["status_message"])
    assert len(messages) == 1, messages


def test_a_registration_we_started_keeps_the_detail(core: EmspCore) -> None:
    core.register_partner("cpo1", "token-A-we-gave", parties=[("DE", "CPA", "CPO")])
    run = core.start_registration("cpo1", CPO_VERSIONS, "their-token-A", T0)
    (call,) = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(503, {}, "down"), T0)
    outcome = core.take_registration(run)
    assert outcome is not None and outcome.status_code == 3001
    assert "HTTP 503" in outcome.message
