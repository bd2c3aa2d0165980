"""The few OCPI endpoints the mock CPO serves itself: versions, version details, credentials.

The eMSP calls them with token B after the credentials handshake (OCPI 2.2.1 credentials).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps

VERSION = "2.2.1"


class CpoOcpiServer:
    def __init__(
        self, *, base_url: str, country_code: str, party_id: str, business_name: str, accepted_token: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.country_code, self.party_id, self.business_name = country_code, party_id, business_name
        self._accepted = accepted_token

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def own_credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "CPO",
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": {"name": self.business_name},
                }
            ],
        }

    def _token_ok(self, request: HttpRequest) -> bool:
        value = request.header("Authorization") or ""
        if not value.startswith("Token "):
            return False
        raw = value[len("Token ") :]
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = raw
        return self._accepted in (decoded, raw)

    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse:
        headers = {"Content-Type": "application/json"}
        for name in ("X-Request-ID", "X-Correlation-ID"):
            if (value := request.header(name)) is not None:
                headers[name] = value
        if not self._token_ok(request):
            return self._reply(401, 2000, "invalid or missing token", None, now, headers)
        path = request.path.rstrip("/")
        prefix = urlsplit(self.base_url).path.rstrip("/")
        if request.method != "GET":
            return self._reply(405, 2000, "method not allowed", None, now, headers)
        if path == f"{prefix}/versions":
            return self._reply(
                200, 1000, "", [{"version": VERSION, "url": f"{self.base_url}/{VERSION}"}], now, headers
            )
        if path == f"{prefix}/{VERSION}":
            details = {
                "version": VERSION,
                "endpoints": [
                    {
                        "identifier": "credentials",
                        "role": "SENDER",
                        "url": f"{self.base_url}/{VERSION}/credentials",
                    }
                ],
            }
            return self._reply(200, 1000, "", details, now, headers)
        if path == f"{prefix}/{VERSION}/credentials":
            return self._reply(200, 1000, "", self.own_credentials(self._accepted), now, headers)
        return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)

    @staticmethod
    def _reply(
        http: int, code: int, message: str, data: Any, now: datetime, headers: dict[str, str]
    ) -> HttpResponse:
        envelope: dict[str, Any] = {"status_code": code, "timestamp": format_utc(now)}
        if data is not None:
            envelope["data"] = data
        if message:
            envelope["status_message"] = message
        return HttpResponse(status=http, headers=headers, body=dumps(envelope))
