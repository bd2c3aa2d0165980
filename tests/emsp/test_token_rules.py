"""The real-time authorization rules (`decide`), one row per rule of mod_tokens 2.2.1.

Each case names the part of the spec it checks: the POST method of the Sender interface
(unknown token, too little information), the AllowedType values, the WhitelistType values.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from emsp_helpers import T0

from emsp.model import NOT_ENOUGH_INFORMATION, UNKNOWN_TOKEN
from emsp.services.tokens import TokenState, decide

TOKEN = TokenState(
    uid="RFID1",
    type="RFID",
    contract_id="NL-EMS-C1",
    issuer="Test",
    valid=True,
    whitelist="ALLOWED",
    has_credit=True,
    expires_at=None,
    allowed_locations=None,
    last_updated=T0,
)
CPA, CPB = ("DE", "CPA"), ("DE", "CPB")
ONLY_LOC1 = frozenset({("DE", "CPA", "LOC1")})  # CPA's LOC1; location ids are unique per party only

CASES = [
    # (case id, token changes or None for an unknown token, location asked about, expected); the
    # location is a location_id of the requesting party CPA, or (party or None if unknown, location_id)
    ("POST: unknown token -> 2004", None, "LOC1", UNKNOWN_TOKEN),
    ("POST: unknown token, no location -> 2004", None, None, UNKNOWN_TOKEN),
    ("AllowedType ALLOWED: valid token, no location given", {}, None, "ALLOWED"),
    ("AllowedType ALLOWED: valid token at a location", {}, "LOC1", "ALLOWED"),
    ("AllowedType ALLOWED: a location we never saw (private charger, NOTE)", {}, "PRIVATE", "ALLOWED"),
    ("AllowedType BLOCKED: valid=false", {"valid": False}, None, "BLOCKED"),
    ("AllowedType BLOCKED, not NOT_ALLOWED: NOT_ALLOWED is for a valid token",
     {"valid": False}, "LOC1", "BLOCKED"),
    ("BLOCKED even where restricted: decidable without LocationReferences",
     {"valid": False, "allowed_locations": ONLY_LOC1}, None, "BLOCKED"),
    ("AllowedType EXPIRED: at its expiry", {"expires_at": T0}, None, "EXPIRED"),
    ("AllowedType EXPIRED: past its expiry", {"expires_at": T0 - timedelta(days=1)}, "LOC1", "EXPIRED"),
    ("not yet expired", {"expires_at": T0 + timedelta(seconds=1)}, None, "ALLOWED"),
    ("BLOCKED before EXPIRED", {"valid": False, "expires_at": T0}, None, "BLOCKED"),
    ("AllowedType NO_CREDIT", {"has_credit": False}, None, "NO_CREDIT"),
    ("EXPIRED before NO_CREDIT", {"has_credit": False, "expires_at": T0}, None, "EXPIRED"),
    ("NO_CREDIT even where restricted: decidable without LocationReferences",
     {"has_credit": False, "allowed_locations": ONLY_LOC1}, None, "NO_CREDIT"),
    ("POST: restricted token, no LocationReferences -> 2002",
     {"allowed_locations": ONLY_LOC1}, None, NOT_ENOUGH_INFORMATION),
    ("AllowedType NOT_ALLOWED: valid, but not at this location",
     {"allowed_locations": ONLY_LOC1}, "LOC2", "NOT_ALLOWED"),
    ("restricted token at one of its locations", {"allowed_locations": ONLY_LOC1}, "LOC1", "ALLOWED"),
    ("restricted to no location at all", {"allowed_locations": frozenset()}, "LOC1", "NOT_ALLOWED"),
    ("NOT_ALLOWED: the same location id under another CPO party",
     {"allowed_locations": ONLY_LOC1}, (CPB, "LOC1"), "NOT_ALLOWED"),
    ("restricted token at its location of the right party", {"allowed_locations": ONLY_LOC1}, (CPA, "LOC1"),
     "ALLOWED"),
    ("party and country compared without case (CiString)",
     {"allowed_locations": ONLY_LOC1}, (("de", "cpa"), "LOC1"), "ALLOWED"),
    ("POST: restricted token, the location's party unknown -> 2002",
     {"allowed_locations": ONLY_LOC1}, (None, "LOC1"), NOT_ENOUGH_INFORMATION),
    ("party unknown does not matter to an unrestricted token", {}, (None, "LOC1"), "ALLOWED"),
    ("WhitelistType NEVER: real-time only, answered from state", {"whitelist": "NEVER"}, None, "ALLOWED"),
    ("WhitelistType NEVER and valid=false", {"whitelist": "NEVER", "valid": False}, None, "BLOCKED"),
    ("WhitelistType ALLOWED_OFFLINE: real-time first", {"whitelist": "ALLOWED_OFFLINE"}, "LOC1", "ALLOWED"),
    ("WhitelistType ALWAYS: a CPO asking anyway gets the current state",
     {"whitelist": "ALWAYS", "valid": False}, None, "BLOCKED"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "location", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(
    changes: dict[str, object] | None,
    location: str | tuple[tuple[str, str] | None, str] | None,
    expected: str,
) -> None:
    token = None if changes is None else replace(TOKEN, **changes)  # type: ignore[arg-type]
    party, location_id = location if isinstance(location, tuple) else (CPA, location)
    assert decide(token, party, location_id, T0) == expected
