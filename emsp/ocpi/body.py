"""Parsing a request body into JSON the eMSP can store on any database, or an OCPI error.

Where the line between HTTP and OCPI errors runs (status_codes): the transport layer ends once the
text is parsed into a JSON structure, so text that is not JSON, not valid Unicode (a lone surrogate
escape cannot be encoded as UTF-8, RFC 8259 section 8) or too deep to parse is HTTP 400; parsed JSON
carrying a NUL character, which no OCPI string may hold (types: printable only) and PostgreSQL text
cannot store, reached the OCPI layer: 2001 with HTTP 200.

The Content-Type of a request is not checked: transport_and_format (2.2.1, 2.3.0) says a client SHALL
send `application/json` with a body, but names no answer for a receiver when it does not (no 415),
so a body sent as text/plain, or with no Content-Type, is read as JSON all the same (lenient, no
finding); the body itself decides.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson

from emsp.ocpi.errors import OcpiError, invalid

MAX_DEPTH = 32  # OCPI objects nest about 6 levels deep (Location > EVSE > Connector ...)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# What simplejson.loads(text, use_decimal=True, parse_constant=_no_constant) builds per call, once.
_DECODER = simplejson.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant)


def _bad_json(reason: str) -> OcpiError:
    return OcpiError(2001, f"request body is not valid JSON: {reason}", http_status=400)


def parse_json(text: str | None) -> Any:
    if text is None or text.strip() == "":
        raise OcpiError(2001, "request body missing", http_status=400)
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        raise _bad_json(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # also int() of a number with thousands of digits
        raise _bad_json(str(exc).split(":")[0]) from None
    # Without a \\u escape, a text that encodes as UTF-8 holds no surrogate and no NUL (JSON
    # forbids raw control characters in strings): only the depth is left to check, and a text with
    # at most MAX_DEPTH brackets cannot nest deeper (every level opens one; brackets inside strings
    # only raise the count), so then there is nothing to walk.
    strings = "\\u" in text or not _encodes(text)
    if strings or text.count("{") + text.count("[") > MAX_DEPTH:
        check_tree(value, strings=strings)
    return value


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_tree(value: Any, *, strings: bool = True) -> None:
    """Depth, lone surrogates and NUL in every key and string (iteratively: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nul_at: str | None = None
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _bad_json(f"nested deeper than {MAX_DEPTH} levels")
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None and strings:
                    nul_at = _check_string(key) or nul_at
                stack.append((child, depth + 1))
        elif strings and isinstance(item, str):
            nul_at = _check_string(item) or nul_at
    if nul_at is not None:
        raise invalid("a string in the body contains a NUL character (OCPI strings are printable)")


def _check_string(text: str) -> str | None:
    """Raises on a lone surrogate; returns the text when it holds a NUL (reported after the walk)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad_json("a string holds a lone surrogate (not valid Unicode)") from None
    return text if "\x00" in text else None
