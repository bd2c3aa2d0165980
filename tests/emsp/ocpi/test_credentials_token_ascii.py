"""A credentials token that is not printable ASCII (credentials object: 2.2.1 `token` is "ASCII
only", 2.3.0 printable non-whitespace ASCII, 2.1.1 goes into the header as is) is refused with 2001
naming the field, before any call to the client: it could not be sent raw in an Authorization
header, so the 2.1.1 fallback (retry with the raw token) could only fail, which answered a vague
3001. The handshake itself never retries with a raw token it cannot send."""

from __future__ import annotations

import pytest
from emsp_helpers import BASE, T0, Client, auth, cpo_credentials

from emsp.core import EmspCore
from emsp.ocpi.handshake import Handshake, NoUsableAnswer
from emsp.ocpi.versions import ADAPTERS
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps

BAD_TOKENS = ["tökén-B", "token\u200bB", "token\tB", "токен"]


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_non_ascii_token_is_refused_with_2001_before_any_call(
    core: EmspCore, version: str, token: str
) -> None:
    core.register_partner("cpo1", "tokA", parties=[("DE", "CPA", "CPO")])
    body = cpo_credentials(token)
    if version == "2.1.1":  # its credentials object carries one party, not roles
        role = body.pop("roles")[0]
        body.update(business_details=role["business_details"], party_id="CPA", country_code="DE")
    header = {"Authorization": "Token tokA"} if version == "2.1.1" else auth("tokA")  # 2.1.1: raw
    headers = {**header, "Content-Type": "application/json"}
    resp = core.handle(HttpRequest("POST", f"{BASE}/{version}/credentials", headers, dumps(body)), T0)
    assert not isinstance(resp, Deferred), "the eMSP called the client with a token it cannot send"
    assert core.pending_requests() == []
    envelope = resp.json()
    assert envelope["status_code"] == 2001, envelope
    assert "token" in envelope["status_message"] and "ASCII" in envelope["status_message"]
    assert token not in (resp.body or "")  # a secret, even a broken one, is not echoed
    assert Client(core, "tokA").call("GET", f"{BASE}/versions").status == 200  # token A still valid


def test_the_handshake_does_not_retry_with_a_raw_token_it_cannot_send() -> None:
    handshake = Handshake("http://cpo.test/versions", "tökén", lambda _: ADAPTERS["2.2.1"])
    first = handshake.start()
    first.headers["Authorization"].encode("ascii")  # Base64: sendable
    with pytest.raises(NoUsableAnswer) as refused:
        handshake.on_response(HttpResponse(401, {}, None))
    assert "401" in refused.value.message and "not printable ASCII" in refused.value.message


def test_an_ascii_token_still_gets_the_raw_retry() -> None:
    handshake = Handshake("http://cpo.test/versions", "tok-B", lambda _: ADAPTERS["2.2.1"])
    handshake.start()
    retry = handshake.on_response(HttpResponse(401, {}, None))
    assert isinstance(retry, HttpRequest) and retry.headers["Authorization"] == "Token tok-B"
