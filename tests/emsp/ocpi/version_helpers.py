"""A CPO speaking one OCPI version to the eMSP core (no sockets); test data is our own."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

from emsp_helpers import BASE, T0, answer_outbound, ocpi_ok

from emsp.core import EmspCore
from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps

CPO_VERSIONS = "http://cpo.test/ocpi/versions"
PARTY = ("DE", "CPA")


def header(version: str, token: str) -> str:
    """2.1.1 sends the credentials token as is; 2.2.1 and 2.3.0 Base64-encode it."""
    if version == "2.1.1":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode()


def cpo_side(version: str) -> Any:
    """The CPO's answers to the eMSP's handshake calls: its versions, then its details."""
    details_url = f"http://cpo.test/ocpi/{version}"

    def answer(request: HttpRequest) -> HttpResponse:
        if request.url == CPO_VERSIONS:
            return ocpi_ok([{"version": version, "url": details_url}])
        if request.url == details_url:
            endpoint: dict[str, Any] = {"identifier": "tokens", "url": f"{details_url}/tokens"}
            if version != "2.1.1":
                endpoint["role"] = "RECEIVER"
            return ocpi_ok({"version": version, "endpoints": [endpoint]})
        return HttpResponse(404, {}, None)

    return answer


def credentials(version: str, token: str) -> dict[str, Any]:
    cc, pid = PARTY
    if version == "2.1.1":
        return {
            "token": token,
            "url": CPO_VERSIONS,
            "business_details": {"name": "Test CPO"},
            "party_id": pid,
            "country_code": cc,
        }
    role = {"role": "CPO", "business_details": {"name": "Test CPO"}, "party_id": pid, "country_code": cc}
    return {"token": token, "url": CPO_VERSIONS, "roles": [role]}


class VersionClient:
    def __init__(self, core: EmspCore, version: str, token: str) -> None:
        self.core = core
        self.version = version
        self.token = token
        self.now = T0
        self.root = f"{BASE}/{version}"
        self.offers = version  # the version the CPO's own versions endpoint lists

    def call(self, method: str, path: str, body: Any = None) -> HttpResponse:
        url = path if path.startswith("http") else f"{self.root}/{path}"
        headers = {"Authorization": header(self.version, self.token)}
        text = None if body is None else dumps(body)
        if text is not None:
            headers["Content-Type"] = "application/json"
        self.now += timedelta(seconds=1)
        resp = self.core.handle(HttpRequest(method, url, headers, text), self.now)
        if isinstance(resp, Deferred):
            answer_outbound(self.core, self.now, cpo_side(self.offers))
            final = self.core.take_response(resp.deferred_id)
            assert final is not None, "the handshake did not finish"
            return final
        return resp


def register_as(core: EmspCore, version: str, partner: str = "cpo1") -> VersionClient:
    core.register_partner(partner, f"token-A-{partner}", parties=[(*PARTY, "CPO")])
    client = VersionClient(core, version, f"token-A-{partner}")
    resp = client.call("POST", "credentials", credentials(version, f"token-B-{partner}"))
    assert resp.status == 200, resp.body
    client.token = resp.json()["data"]["token"]
    return client
