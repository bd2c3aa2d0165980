"""The Authorization header of OCPI 2.2.1: `Token <base64(credentials token)>`.

2.2.1 (transport_and_format, authorization header) requires the credentials token Base64 encoded;
it defines no raw-token fallback. (The 2.3.0 text notes that many 2.1.1/2.2 implementations send
the raw token and leaves compatibility to per-partner configuration.) The core is therefore strict;
a partner that sends raw tokens is handled by its adapter, which re-encodes the header (principle 4).
"""

from __future__ import annotations

import base64
import binascii
import functools


def encode_token(token: str) -> str:
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def decode_authorization(header: str | None) -> str | None:
    """The credentials token of a well-formed header, else None (which answers HTTP 401)."""
    if header is not None and len(header) <= _REMEMBERED_HEADER_MAX:
        return _decode_remembered(header)
    return _decode(header)


def _decode(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
        token = raw.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not token or not token.isprintable():
        return None
    return token


# A partner sends the same header on every request: its decoding, a pure function of the text, is
# remembered for the few headers in use (longer texts, which no token of ours makes, are not kept).
_REMEMBERED_HEADER_MAX = 512
_decode_remembered = functools.lru_cache(maxsize=256)(_decode)
