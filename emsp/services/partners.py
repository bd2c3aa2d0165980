"""Partners as the operator configures them: who may connect, acting for which parties.

A party (country_code, party_id) belongs to exactly one partner; its credentials roles may only
name configured (country_code, party_id, role) triples, and `HUB` only for a partner configured
as a hub (credentials: "every role needs a unique combination of role, party_id and country_code";
a hub reports itself as role HUB). Nothing a partner sends can widen this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.ocpi.tolerance import Tolerance
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps, loads

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")  # 2.2.1 types: Role
_COUNTRY = re.compile(r"[A-Z]{2}")
_PARTY = re.compile(r"[A-Z0-9]{3}")


class PartnerConfigError(ValueError):
    """A partner's configuration is invalid; `field` names where, relative to the partner."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, order=True, slots=True)
class PartyRole:
    country_code: str
    party_id: str
    role: str

    @property
    def party(self) -> tuple[str, str]:
        return (self.country_code, self.party_id)


def normalize_parties(
    parties: Iterable[PartyRole | tuple[str, str, str]], hub: bool
) -> tuple[PartyRole, ...]:
    """Upper-cased, checked parties (CiString: case-insensitive), in their given order."""
    result: list[PartyRole] = []
    for index, item in enumerate(parties):
        cc, pid, role = (item.country_code, item.party_id, item.role) if isinstance(item, PartyRole) else item
        party = PartyRole(cc.upper(), pid.upper(), role.upper())
        where = f"parties[{index}]"
        if not _COUNTRY.fullmatch(party.country_code):
            raise PartnerConfigError(f"{where}.country_code", f"{cc!r} is not an ISO 3166 alpha-2 code")
        if not _PARTY.fullmatch(party.party_id):
            raise PartnerConfigError(f"{where}.party_id", f"{pid!r} is not 3 letters or digits")
        if party.role not in ROLES:
            raise PartnerConfigError(f"{where}.role", f"{role!r} is not one of {', '.join(ROLES)}")
        if party.role == "HUB" and not hub:
            raise PartnerConfigError(f"{where}.role", "HUB is only for a partner configured with hub: true")
        if party in result:
            raise PartnerConfigError(where, f"{party.country_code}/{party.party_id} {party.role} given twice")
        result.append(party)
    return tuple(result)


def parties_of(row: PartnerRow) -> tuple[PartyRole, ...]:
    return tuple(PartyRole(*item) for item in loads(row.parties_json or "[]"))


def owner_conflict(db: Session, partner_id: str, parties: Iterable[PartyRole]) -> PartnerConfigError | None:
    """The first party already configured for another partner, as an error; None if there is none."""
    wanted = {p.party for p in parties}
    others = db.execute(
        select(PartnerRow.partner_id, PartnerRow.parties_json)
        .where(PartnerRow.partner_id != partner_id)
        .order_by(PartnerRow.partner_id)
    ).all()
    for other_id, parties_json in others:
        for cc, pid, _role in loads(parties_json or "[]"):
            if (cc, pid) in wanted:
                return PartnerConfigError(
                    "parties", f"{cc}/{pid} is already configured for partner {other_id!r}"
                )
    return None


def checked_tolerance(tolerate: Mapping[str, Any] | None) -> str:
    """The tolerance options as stored (PartnerRow.tolerate_json), or PartnerConfigError."""
    try:
        return dumps(Tolerance.from_mapping(tolerate).as_doc())
    except ValueError as exc:
        raise PartnerConfigError("tolerate", str(exc)) from None


def upsert_partner(
    db: Session,
    partner_id: str,
    token_a: str,
    parties: tuple[PartyRole, ...],
    hub: bool,
    tolerate: Mapping[str, Any] | None = None,
) -> PartnerRow:
    """Create or update a partner's configuration. A registered partner keeps its registration and
    does not get token A back: the spec says token A MAY no longer be used once token C exists."""
    if not partner_id or len(partner_id) > 64:
        raise PartnerConfigError("id", "must be 1 to 64 characters")
    if not token_a or len(token_a) > 64 or not token_a.isprintable():
        raise PartnerConfigError("token_a", "must be 1 to 64 printable characters (credentials token)")
    tolerate_json = checked_tolerance(tolerate)
    conflict = owner_conflict(db, partner_id, parties)
    if conflict is not None:
        raise conflict
    shared = db.scalar(
        select(PartnerRow.partner_id).where(
            PartnerRow.partner_id != partner_id,
            (PartnerRow.token_a == token_a) | (PartnerRow.token_c == token_a),
        )
    )
    if shared is not None:  # one token must name one partner, or authentication would guess
        raise PartnerConfigError("token_a", f"already a credentials token of partner {shared!r}")
    row = db.get(PartnerRow, partner_id)
    if row is None:
        row = PartnerRow(partner_id=partner_id, registered=False, roles_json="[]", endpoints_json="[]")
        row.endpoints_status = "none"
        db.add(row)
    if not row.registered:
        row.token_a = token_a
    row.parties_json = dumps([[p.country_code, p.party_id, p.role] for p in parties])
    row.hub = hub
    row.tolerate_json = tolerate_json
    return row
