"""A spec-shaped eMSP for one OCPI version, written from the spec tables: it answers the mock CPO's
handshake, serves a paginated Tokens list and accepts every push, keeping what it received."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emsp.wire import HttpRequest, HttpResponse, dumps, loads

BASE = "http://emsp.test/ocpi"
TOKEN_A, TOKEN_C = "token-a", "token-c"
MODULES = ("credentials", "locations", "tariffs", "sessions", "cdrs", "tokens")


@dataclass
class FakeEmsp:
    version: str
    tokens: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2
    received: list[HttpRequest] = field(default_factory=list)

    def token_of(self, request: HttpRequest) -> str:
        value = request.header("Authorization") or ""
        assert value.startswith("Token "), value
        raw = value.removeprefix("Token ")
        if self.version == "2.1.1":
            return raw  # 2.1.1 transport_and_format: the token as is
        return base64.b64decode(raw, validate=True).decode()  # 2.2.1/2.3.0: base64

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.received.append(request)
        token = self.token_of(request)
        path = urlsplit(request.url).path
        if path == "/ocpi/versions":
            return _ok([{"version": self.version, "url": f"{BASE}/{self.version}"}])
        if path == f"/ocpi/{self.version}":
            endpoints = []
            for module in MODULES:
                entry = {"identifier": module, "url": f"{BASE}/{self.version}/{module}"}
                if self.version != "2.1.1":
                    entry["role"] = "SENDER" if module == "tokens" else "RECEIVER"
                endpoints.append(entry)
            return _ok({"version": self.version, "endpoints": endpoints})
        if path.endswith("/credentials") and request.method == "POST":
            assert token == TOKEN_A
            if self.version == "2.1.1":
                return _ok({"token": TOKEN_C, "url": f"{BASE}/versions", "party_id": "EMS",
                            "country_code": "NL", "business_details": {"name": "fake"}})  # fmt: skip
            role = {
                "role": "EMSP",
                "party_id": "EMS",
                "country_code": "NL",
                "business_details": {"name": "f"},
            }
            return _ok({"token": TOKEN_C, "url": f"{BASE}/versions", "roles": [role]})
        assert token == TOKEN_C, f"{request.method} {path} with {token}"
        if path.endswith("/tokens") and request.method == "GET":
            query = dict(parse_qsl(urlsplit(request.url).query))
            offset = int(query.get("offset", 0))
            page = self.tokens[offset : offset + self.page_size]
            headers = {"X-Total-Count": str(len(self.tokens)), "X-Limit": str(self.page_size)}
            if offset + self.page_size < len(self.tokens):
                nxt = f"{BASE}/{self.version}/tokens?offset={offset + self.page_size}&limit={self.page_size}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            return _ok(page, headers)
        if "/authorize" in path:
            uid = path.split("/")[-2]
            allowed = "ALLOWED" if any(t["uid"] == uid for t in self.tokens) else "NOT_ALLOWED"
            if self.version == "2.1.1":  # AuthorizationInfo: allowed, location, info - no token
                return _ok({"allowed": allowed})
            token_obj = {"uid": uid, "type": "RFID", "contract_id": f"NL-EMS-C{uid}",
                         "country_code": "NL", "party_id": "EMS"}  # fmt: skip
            return _ok({"allowed": allowed, "token": token_obj, "authorization_reference": f"ref-{uid}"})
        if path.endswith("/cdrs") and request.method == "POST":  # mod_cdrs: Location of the new CDR
            cdr_id = loads(request.body or "{}").get("id", "")
            return _ok(None, {"Location": f"{BASE}/{self.version}/cdrs/{cdr_id}"})
        return _ok(None)

    def bodies(self, method: str, module: str) -> list[dict[str, Any]]:
        return [
            loads(r.body or "null")
            for r in self.received
            if r.method == method and f"/{self.version}/{module}" in r.url
        ]


def _ok(data: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    envelope: dict[str, Any] = {"status_code": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    if data is not None:
        envelope["data"] = data
    return HttpResponse(200, {"Content-Type": "application/json"} | (headers or {}), dumps(envelope))
