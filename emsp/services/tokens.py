"""Our tokens and real-time authorization, answered from local state only (principle 8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.model import UNKNOWN_TOKEN, AllowedType, AuthorizationRecord
from emsp.storage.db import next_value
from emsp.storage.queries import find_token
from emsp.storage.tables import AuthorizationRow, TokenRow
from emsp.timeutil import format_utc
from emsp.wire import dumps, loads


@dataclass(frozen=True, slots=True)
class TokenSpec:
    uid: str
    contract_id: str
    type: str = "RFID"
    valid: bool = True
    whitelist: str = "ALLOWED"
    issuer: str = ""
    has_credit: bool = True
    expires_at: datetime | None = None
    allowed_location_ids: Sequence[str] | None = None  # None: may charge anywhere


def upsert_token(db: Session, spec: TokenSpec, now: datetime) -> TokenRow:
    row = find_token(db, spec.uid, spec.type)
    if row is None:
        row = TokenRow(uid=spec.uid, type=spec.type)
        db.add(row)
    row.contract_id = spec.contract_id
    row.valid = spec.valid
    row.whitelist = spec.whitelist
    row.issuer = spec.issuer
    row.has_credit = spec.has_credit
    row.expires_at = spec.expires_at
    allowed = spec.allowed_location_ids
    row.allowed_locations_json = None if allowed is None else dumps(list(allowed))
    row.last_updated = now
    db.flush()
    return row


def token_object(row: TokenRow, country_code: str, party_id: str) -> dict[str, Any]:
    """The OCPI 2.2.1 Token object of one of our tokens."""
    return {
        "country_code": country_code,
        "party_id": party_id,
        "uid": row.uid,
        "type": row.type,
        "contract_id": row.contract_id,
        "issuer": row.issuer,
        "valid": row.valid,
        "whitelist": row.whitelist,
        "last_updated": format_utc(row.last_updated),
    }


def all_tokens(db: Session) -> list[TokenRow]:
    return list(db.scalars(select(TokenRow).order_by(TokenRow.pk)))  # creation order: stable pages


def decide(row: TokenRow, location_id: str | None, now: datetime) -> AllowedType:
    if not row.valid:
        return AllowedType.BLOCKED
    if row.expires_at is not None and now >= row.expires_at:
        return AllowedType.EXPIRED
    if not row.has_credit:
        return AllowedType.NO_CREDIT
    allowed = None if row.allowed_locations_json is None else loads(row.allowed_locations_json)
    if location_id is not None and allowed is not None and location_id not in allowed:
        return AllowedType.NOT_ALLOWED
    return AllowedType.ALLOWED


@dataclass(frozen=True, slots=True)
class Decision:
    record: AuthorizationRecord
    token: TokenRow | None


def authorize(
    db: Session,
    *,
    partner: str,
    uid: str,
    token_type: str,
    location_id: str | None,
    now: datetime,
    reference_prefix: str,
) -> Decision:
    row = find_token(db, uid, token_type)
    result = UNKNOWN_TOKEN if row is None else decide(row, location_id, now).value
    reference = None
    if result == AllowedType.ALLOWED.value:
        # Deterministic and <= 36 chars (CiString(36)); the CPO echoes it in Session and CDR.
        reference = f"{reference_prefix}{next_value(db, 'authorization_reference'):010d}"
    record = AuthorizationRecord(partner, uid, token_type, result, reference, location_id, now)
    db.add(
        AuthorizationRow(
            partner=partner,
            token_uid=uid,
            token_type=token_type,
            result=result,
            authorization_reference=reference,
            location_id=location_id,
            at=now,
        )
    )
    db.flush()
    return Decision(record, row)


def records(db: Session) -> list[AuthorizationRecord]:
    rows = db.scalars(select(AuthorizationRow).order_by(AuthorizationRow.pk))
    return [
        AuthorizationRecord(
            r.partner, r.token_uid, r.token_type, r.result, r.authorization_reference, r.location_id, r.at
        )
        for r in rows
    ]
