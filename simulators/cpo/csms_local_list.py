"""The mock CSMS's local list policy: after a station's boot, push the whitelisted tokens to its
local authorization list (1.6 §5.15 SendLocalList, 2.0.1 D01), so that the station can still
authorize them while it is offline (1.6 LocalAuthorizeOffline, 2.0.1 C13).

One Full update carries the first `per_message` tokens (version 1); Differential updates add the
rest, each moving the version on by one (a differential update must raise it). Tokens longer than the
version's identifier allows (1.6 idTag: 20, 2.0.1 idToken: 36) cannot be sent and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulators.ocppj import OcppVersion, Payload

PER_MESSAGE = 100  # the virtual station's SendLocalListMaxLength / ItemsPerMessage
TOKEN_MAX: dict[OcppVersion, int] = {"1.6": 20, "2.0.1": 36}


def sendable(version: OcppVersion, tokens: Sequence[str]) -> list[str]:
    """The tokens a station of `version` can hold, once each, in the given order. Once regardless of
    case: an idTag (1.6 CiString20) and an idToken (2.0.1, "case insensitive") compare without it,
    so "A" and "a" are one entry; the first spelling is kept."""
    seen: dict[str, str] = {}
    for token in tokens:
        if 0 < len(token) <= TOKEN_MAX[version]:
            seen.setdefault(token.casefold(), token)
    return list(seen.values())


def local_list_requests(
    version: OcppVersion, tokens: Sequence[str], per_message: int = PER_MESSAGE
) -> list[Payload]:
    """SendLocalList payloads that leave the station's list holding exactly `tokens` (Accepted); none
    when tokens were given but the station can hold none of them: an empty Full update would wipe
    its list, which nobody asked for."""
    kept = sendable(version, tokens)
    if tokens and not kept:
        return []
    chunks = [kept[i : i + per_message] for i in range(0, len(kept), per_message)] or [[]]
    requests = []
    for n, chunk in enumerate(chunks):
        payload: Payload = {
            "listVersion" if version == "1.6" else "versionNumber": n + 1,
            "updateType": "Full" if n == 0 else "Differential",
        }
        if chunk:
            payload["localAuthorizationList"] = [_entry(version, token) for token in chunk]
        requests.append(payload)
    return requests


def _entry(version: OcppVersion, token: str) -> Payload:
    if version == "1.6":
        return {"idTag": token, "idTagInfo": {"status": "Accepted"}}
    # ISO14443: the RFID cards a local list is for (an offline station sees a card, not an app).
    return {"idToken": {"idToken": token, "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}
