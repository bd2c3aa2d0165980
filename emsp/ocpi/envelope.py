"""The OCPI response envelope (transport_and_format, response format) on every JSON response."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from emsp.json_text import wrote_compact
from emsp.timeutil import format_utc
from emsp.wire import HttpResponse, dumps

_MISSING: Any = object()


@dataclass
class OcpiResult:
    """What a module handler returns; the router wraps it in the envelope."""

    data: Any = _MISSING  # _MISSING: no `data` field at all (e.g. 2004 on authorize)
    status_code: int = 1000
    message: str = "Success"
    http_status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def envelope_body(data: Any, status_code: int, message: str | None, now: datetime) -> str:
    if type(status_code) is int and message is not None:
        # The text envelope_dict_body gives, assembled directly: dumps' own text of the data and
        # the message, an int's digits, and a timestamp of digits and -:.TZ (nothing to escape).
        head = "{" if data is _MISSING else '{"data":' + dumps(data) + ","
        status = f'"status_code":{status_code},'
        text = f'"status_message":{_message_json(message)},' if message else ""
        return f'{head}{status}{text}"timestamp":"{format_utc(now)}"}}'
    return envelope_dict_body(data, status_code, message, now)


def envelope_dict_body(data: Any, status_code: int, message: str | None, now: datetime) -> str:
    """The envelope as a dict through dumps(): the general path, and what the fast one must equal."""
    body: dict[str, Any] = {}
    if data is not _MISSING:
        body["data"] = data
    body["status_code"] = status_code
    if message:
        body["status_message"] = message
    body["timestamp"] = format_utc(now)
    return dumps(body)


@lru_cache(maxsize=64)
def _message_json(message: str) -> str:
    return dumps(message)  # the same few messages ("Success") on almost every response


def respond(
    *,
    http_status: int,
    status_code: int,
    message: str | None,
    now: datetime,
    data: Any = _MISSING,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    merged = {"Content-Type": "application/json"}
    merged.update(headers or {})
    # Compact JSON, as dumps writes it: the sim's trace embeds it without parsing it again.
    return HttpResponse(http_status, merged, wrote_compact(envelope_body(data, status_code, message, now)))


MISSING = _MISSING


@dataclass
class Pending:
    """A module's answer that waits on a handshake with the partner (see emsp.ocpi.handshake).

    The router defers the response; the core runs `handshake`, then `complete(db, fetched, now)`
    in one unit of work, and answers with what it returns (or with the handshake's error)."""

    partner_id: str
    handshake: Any  # Handshake
    complete: Any  # Callable[[Session, Fetched, datetime], OcpiResult]
