"""The hub's OCPI plumbing: response envelopes, credentials tokens, routing headers, party keys."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps, loads

VERSION = "2.2.1"

# HTTP status paired with each OCPI code the hub itself answers. Like the eMSP (emsp/ocpi/errors.py):
# a request that reached the OCPI layer gets HTTP 200 and the OCPI code (status_codes); the routing
# errors of the 4xxx range (status_codes, Hub errors) reached it too.
HTTP_FOR = {1000: 200, 2000: 400, 2001: 200, 3001: 200, 4000: 200, 4001: 200, 4002: 200, 4003: 200}

ROUTING = ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id")

Party = tuple[str, str]  # (country_code, party_id), upper case: both are CiString (types, CiString)


class HubRefusal(Exception):
    """The hub answers the sender itself with this OCPI code (and HTTP status, when not the usual)."""

    def __init__(self, code: int, message: str, http: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.http = code, message, http


def party(country_code: str, party_id: str) -> Party:
    return (country_code.upper(), party_id.upper())


def reply(
    code: int,
    message: str,
    now: datetime,
    *,
    data: Any = None,
    http: int | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    envelope: dict[str, Any] = {"status_code": code, "timestamp": format_utc(now)}
    if data is not None:
        envelope["data"] = data
    if message:
        envelope["status_message"] = message
    out = {"Content-Type": "application/json", **(headers or {})}
    return HttpResponse(
        status=http if http is not None else HTTP_FOR[code], headers=out, body=dumps(envelope)
    )


def ocpi_status(response: HttpResponse) -> int | None:
    """The OCPI status code of a response, or None when it is no OCPI envelope (a proxy's 503 page)."""
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        return None
    code = body.get("status_code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def ocpi_data(response: HttpResponse) -> Any:
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        return None
    return body.get("data") if isinstance(body, dict) else None


def token_of(request: HttpRequest) -> str | None:
    """The credentials token of a request: base64 as transport_and_format says, or as is (2.1.1 style)."""
    value = request.header("Authorization") or ""
    if not value.startswith("Token "):
        return None
    raw = value[len("Token ") :].strip()
    try:
        return base64.b64decode(raw, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return raw


def authorization(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def routing_party(request: HttpRequest, direction: str) -> Party | None:
    """The OCPI-from-* or OCPI-to-* party of a request; None when either header is missing."""
    country = request.header(f"OCPI-{direction}-country-code")
    party_id = request.header(f"OCPI-{direction}-party-id")
    if not country or not party_id:
        return None
    return party(country, party_id)


def routing_headers(sender: Party, receiver: Party) -> dict[str, str]:
    return dict(zip(ROUTING, (*sender, *receiver), strict=True))


def without_hop_headers(headers: dict[str, str]) -> dict[str, str]:
    """What of a request's or response's headers crosses the hub: not the hop's own (its token, its
    request id, its routing headers, its length); the hub sets those for the next hop."""
    hop = {"authorization", "x-request-id", "x-correlation-id", "content-length", "host"}
    hop |= {name.lower() for name in ROUTING}
    return {name: value for name, value in headers.items() if name.lower() not in hop}
