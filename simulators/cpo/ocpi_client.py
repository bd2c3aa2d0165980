"""Client-side OCPI plumbing for simulated parties: request headers, token encoding, envelopes."""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any

import simplejson

from emsp.json_text import reused, written_compact, wrote_compact
from emsp.wire import HttpRequest, HttpResponse, loads

# emsp.wire.dumps's settings (compact, exact Decimal, UTF-8) with the C encoder built once: every
# request body the CPO sends goes through it. Same text (tests/simulators/test_fast_paths.py).
body_text = reused(simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False))


def written_json(text: str) -> bool:
    """Whether `text` is (this very object) compact, valid JSON our encoders wrote lately: a body
    build_request wrote, or an eMSP envelope (emsp.json_text.wrote_compact)."""
    return written_compact(text)


def _json_body(body: Any) -> str:
    return wrote_compact(body_text(body))


@functools.lru_cache(maxsize=256)  # pure; one token per partner, sent with every request
def authorization_value(token: str, encoding: str) -> str:
    # OCPI 2.2.1 transport_and_format, "Authorization header": the token is base64-encoded;
    # 2.1.1 (and some 2.2.1 partners in practice) send it as is.
    if encoding == "base64":
        return "Token " + base64.b64encode(token.encode()).decode()
    return "Token " + token


@dataclass(frozen=True, slots=True)
class Envelope:
    http_status: int
    status_code: int | None
    status_message: str
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and self.status_code == 1000


def read_envelope(response: HttpResponse) -> Envelope:
    """Parse an OCPI response envelope; anything unparseable is a failed call, not a crash."""
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        return Envelope(response.status, None, "response body is not JSON", None)
    if not isinstance(body, dict):
        return Envelope(response.status, None, "response body is not an OCPI envelope", None)
    code = body.get("status_code")
    return Envelope(
        response.status,
        code if isinstance(code, int) else None,
        str(body.get("status_message") or ""),
        body.get("data"),
    )


@dataclass(frozen=True, slots=True)
class PartyHeaders:
    """OCPI 2.2.1 routing headers (transport_and_format: OCPI-from/to-country-code/party-id)."""

    from_country: str
    from_party: str
    to_country: str
    to_party: str


def build_request(
    method: str,
    url: str,
    *,
    token: str,
    token_encoding: str,
    request_id: str,
    correlation_id: str,
    parties: PartyHeaders | None,
    body: Any = None,
    text: str | None = None,
) -> HttpRequest:
    """`text`: `body`'s JSON text when the caller wrote it already (`emsp.wire.dumps(body)`, the very
    text body_text writes), so the same object is not encoded twice (a CPO stores what it sends)."""
    headers = {
        "Authorization": authorization_value(token, token_encoding),
        "X-Request-ID": request_id,
        "X-Correlation-ID": correlation_id,
    }
    if parties is not None:
        headers |= {
            "OCPI-from-country-code": parties.from_country,
            "OCPI-from-party-id": parties.from_party,
            "OCPI-to-country-code": parties.to_country,
            "OCPI-to-party-id": parties.to_party,
        }
    if body is not None:
        headers["Content-Type"] = "application/json"
        text = _json_body(body) if text is None else wrote_compact(text)
    else:
        text = None
    return HttpRequest(method=method, url=url, headers=headers, body=text)
