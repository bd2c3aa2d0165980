"""mod_tokens WhitelistType at the CPO: when it may allow a token from its own copy, without (or
instead of) the eMSP's real-time answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal


def may_whitelist(
    token: Mapping[str, Any], allowed: Literal["realtime", "offline_fallback"], *, unanswered: bool
) -> bool:
    """ALWAYS: without asking; ALLOWED_OFFLINE: when the eMSP did not answer; ALLOWED: then too if
    the dialect's `whitelist_allowed` chooses so; NEVER: never. Only a valid token: a blocked one
    arrives with `valid: false`."""
    if token.get("valid") is not True:
        return False
    whitelist = token.get("whitelist")
    fallback = whitelist == "ALLOWED_OFFLINE" or (whitelist == "ALLOWED" and allowed == "offline_fallback")
    return whitelist == "ALWAYS" or (unanswered and fallback)
