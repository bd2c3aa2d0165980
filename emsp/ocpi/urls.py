"""Whether a URL a partner gave us (credentials `url`, versions, endpoints) can be called at all.

Checked before anything is sent: a URL the HTTP client cannot build a request for would otherwise
only fail at send time, and the partner's mistake belongs in the handshake's answer (3001)."""

from __future__ import annotations

from urllib.parse import urlsplit

_PRINTABLE = frozenset(chr(c) for c in range(0x21, 0x7F))  # ASCII without space and controls


def unusable(url: object) -> str | None:
    """Why `url` cannot be called (None: it can): an absolute http(s) URL in printable ASCII."""
    if not isinstance(url, str) or not url:
        return "not a URL"
    if not set(url) <= _PRINTABLE:
        return "not printable ASCII without spaces"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number from 0 to 65535)
    except ValueError:
        return "malformed"
    if parts.scheme not in ("http", "https"):
        return "not http(s)"
    if not parts.hostname:
        return "no host"
    return None


def refusal(url: object, own_base_url: str) -> str | None:
    """Why we do not call `url` (None: we do): it is unusable, or it points at our own API."""
    reason = unusable(url)
    if reason is not None:
        return f"the URL is {reason}"
    assert isinstance(url, str)
    if own_base_url and is_ours(url, own_base_url):
        return "the URL points at this eMSP itself"
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").rstrip("."), parts.port or default


def is_ours(url: str, base_url: str) -> bool:
    """`url` (usable) points into our own OCPI API at `base_url`: a partner must not make us call
    ourselves (we would register with ourselves, and push to ourselves with a token that opens
    nothing). Only the spelling of our public URL is recognised, not every alias of our host."""
    if _origin(url) != _origin(base_url):
        return False
    base_path = urlsplit(base_url).path.rstrip("/")
    path = urlsplit(url).path
    return path == base_path or path.startswith(base_path + "/")
