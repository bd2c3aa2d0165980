"""Wire form of an HTTP exchange, shared by every OCPI party (eMSP, mock CPO, hub).

Sans-IO cores take an `HttpRequest` and return an `HttpResponse`; the runtimes move these over a
simpy link (`sim`) or real sockets (`live`). Bodies stay JSON *text* so that what is traced and
parsed is exactly what would cross the network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import simplejson

from emsp.json_text import reused


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (HTTP header names are case-insensitive)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        return loads(self.body) if self.body else None


# Built once: simplejson.dumps/loads with these options construct a new encoder/decoder per call,
# which costs more than encoding a small OCPI envelope. Same options, same text.
_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False)
_DECODER = simplejson.JSONDecoder(parse_float=Decimal)
# The encoder's C core built once too (emsp.json_text): `_ENCODER.encode`'s text, cheaper.
_encode = reused(_ENCODER)


def dumps(data: Any) -> str:
    """Compact, deterministic JSON text; Decimal becomes a JSON number with its exact digits."""
    return _encode(data)


def loads(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal (money and energy stay exact).

    Invalid JSON is a ValueError, including arrays or objects nested past the interpreter's stack
    (a RecursionError otherwise, which callers that refuse "not JSON" would not catch)."""
    try:
        return _DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """A request a sans-IO party wants sent; its response comes back under the same request_id."""

    request_id: str
    partner: str
    request: HttpRequest


@dataclass(frozen=True, slots=True)
class Deferred:
    """What `handle()` answers when the response must wait for the party's own outbound calls
    (credentials POST/PUT fetch the client's versions first). The runtime sends what
    `pending_requests()` returns as usual; the final response comes later under `deferred_id`."""

    deferred_id: str


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ci_key(text: str) -> str:
    """The comparison key of an OCPI CiString (printable ASCII, case ignored), e.g. Token.uid: every
    party compares them alike. ASCII letters only fold, as SQL upper() does on SQLite and PostgreSQL."""
    return text.translate(_ASCII_UPPER)


# An OCPI int in a query (transport_and_format, Paginated Request: offset, limit): ASCII digits, with
# a sign so that -1 is answered as negative. int() alone also reads "\u0663" (an Arabic-Indic 3),
# "1_0" and " 7 ", which a partner's server may refuse: a client must not learn they work here.
_QUERY_INT = re.compile(r"-?[0-9]+")


def query_int(query: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    """The int in query parameter `name` (`default` when absent or empty); ValueError, with the
    message to answer, for anything else or a value below `minimum`. Each OCPI server maps the
    error to its 2001 answer."""
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text) if _QUERY_INT.fullmatch(text) else None
    except ValueError:  # more digits than int() reads (sys.get_int_max_str_digits)
        value = None
    if value is None:
        raise ValueError(f"query parameter '{name}' must be an integer")
    if value < minimum:
        raise ValueError(
            f"query parameter '{name}' must not be negative"
            if minimum == 0
            else f"query parameter '{name}' must be at least {minimum}"
        )
    return value
