"""The endpoints a registered partner gave us at its handshake, as stored, and which of them we call.

The handshake refuses a URL we cannot or must not call (emsp.ocpi.urls: 3001), so a registration made
since stores only usable ones. A partner registered before those checks may hold one that is not
(malformed, not http(s), or pointing at this eMSP itself). The least surprising treatment, kept here in
one place: the registration stays (the partner's other endpoints go on working, and a credentials PUT,
which checks every URL again, repairs it), but such a URL is never called. It counts as absent: no
token push to it, no pull from it, a command refused saying why. `serve emsp` logs each one at startup
(EmspCore.refused_endpoints), so the operator learns it without waiting for a failed call.
"""

from __future__ import annotations

from typing import Any

from emsp.ocpi.urls import refusal
from emsp.storage.tables import PartnerRow
from emsp.wire import loads

RECEIVER: tuple[str | None, ...] = ("RECEIVER", None)  # None: a version without roles (2.1.1)
SENDER: tuple[str | None, ...] = ("SENDER", None)


def _endpoints(partner: PartnerRow) -> list[dict[str, Any]]:
    endpoints: Any = loads(partner.endpoints_json or "[]")
    return [e for e in endpoints if isinstance(e, dict)] if isinstance(endpoints, list) else []


def stored_url(partner: PartnerRow, module: str, roles: tuple[str | None, ...]) -> str | None:
    """The URL the partner gave for `module` in one of `roles`, as stored (maybe one we refuse)."""
    for endpoint in _endpoints(partner):
        if endpoint.get("identifier") == module and endpoint.get("role") in roles:
            url = endpoint.get("url")
            if isinstance(url, str):
                return url
    return None


def usable_url(
    partner: PartnerRow, module: str, roles: tuple[str | None, ...], own_base_url: str
) -> str | None:
    """`stored_url` if we call it; None when there is none or we refuse it."""
    url = stored_url(partner, module, roles)
    return url if url is not None and refusal(url, own_base_url) is None else None


def refused_endpoints(partner: PartnerRow, own_base_url: str) -> list[tuple[str, str, str]]:
    """(module, url, why) of each stored endpoint we refuse to call."""
    found = []
    for endpoint in _endpoints(partner):
        url = endpoint.get("url")
        why = refusal(url, own_base_url)
        if why is not None:
            found.append((str(endpoint.get("identifier")), str(url), why))
    return found
