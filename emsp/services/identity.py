"""Federated identity: one canonical driver, one token (uid and contract id) per partner.

A driver is identified by a `driver_id` of the operator's choosing (the canonical id; while the
billing layer's `drivers` table is not there, the id is simply the key every token of the driver
carries, `tokens.driver_id`). For each configured partner — a CPO or a roaming hub relationship —
the driver holds a token of its own, `tokens.partner` naming the partner. The same person
therefore shows a different uid and contract id to each CPO, so no partner can link the driver's
charging with another partner's, and a uid copied at one CPO is worthless at the others: presented
through another partner it is not that driver's token there (answered as an unknown token, 2004,
and recorded as a `foreign_partner_token` fraud decision, emsp.services.fraud).

Issuing, blocking and replacing go through the core's token write path (`EmspCore.issue_token`),
so every change is on the event stream and pushed to that token's partner only (emsp.ocpi.token_push).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.storage.queries import find_token
from emsp.storage.tables import PartnerRow, TokenRow

UID_HEX = 14  # a 7-byte RFID uid in hex (ISO 14443 double size)


def partner_ids(db: Session) -> list[str]:
    """Every configured partner, in id order (registered or not: credentials may precede the handshake)."""
    return list(db.scalars(select(PartnerRow.partner_id).order_by(PartnerRow.partner_id)))


def driver_tokens(db: Session, driver_id: str) -> list[TokenRow]:
    """The driver's tokens, by partner then issue order (by `ix_tokens_driver_id`)."""
    stmt = select(TokenRow).where(TokenRow.driver_id == driver_id)
    return sorted(db.scalars(stmt), key=lambda r: (r.partner or "", r.pk))


def current_tokens(db: Session, driver_id: str) -> dict[str, TokenRow]:
    """Per partner, the driver's newest valid token (a replaced one is no longer valid)."""
    found: dict[str, TokenRow] = {}
    for row in driver_tokens(db, driver_id):
        if row.valid and row.partner is not None:
            found[row.partner] = row
    return found


def new_uid(db: Session, driver_id: str, partner: str, serial: int, token_type: str) -> str:
    """A deterministic uid for the driver at that partner (`serial` from a counter makes a
    replacement differ); a uid already issued is skipped."""
    attempt = 0
    while True:
        digest = hashlib.sha256(f"{driver_id}|{partner}|{serial}|{attempt}".encode()).hexdigest()
        uid = digest[:UID_HEX].upper()
        if find_token(db, uid, token_type) is None:
            return uid
        attempt += 1


def new_contract_id(country_code: str, party_id: str, driver_id: str, partner: str) -> str:
    """An eMA-ID shaped contract id of the driver at that partner: <country>-<party>-F<8 hex>."""
    digest = hashlib.sha256(f"contract|{driver_id}|{partner}".encode()).hexdigest()[:8].upper()
    return f"{country_code}-{party_id}-F{digest}"
