"""Session domain: rules on a received canonical Session and the bus handlers reacting to it."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from emsp.bus import SessionUpserted
from emsp.model import PartyRef, SessionInfo
from emsp.observability import EmspMetrics
from emsp.storage.tables import SessionRow, TokenRow, same_id


def token_uid_of_contract(db: DbSession, contract_id: str) -> str | None:
    """Our token's uid for a driver contract id in any case (a CiString: the CPO may spell the id we
    issued otherwise), the oldest token of that contract; None if none."""
    return db.scalar(
        select(TokenRow.uid)
        .where(same_id(TokenRow.contract_id) == same_id(contract_id))
        .order_by(TokenRow.pk)
        .limit(1)
    )


def resolve_session(db: DbSession, info: SessionInfo) -> SessionInfo:
    """A session that names the driver's contract only (no token uid, as a 2.1.1 `auth_id`) is
    attributed to our token of that contract; else kept with the contract id as its token uid."""
    if info.token_uid:
        return info
    uid = token_uid_of_contract(db, info.contract_id)
    return dataclasses.replace(info, token_uid=uid if uid is not None else info.contract_id)


def row_to_info(row: SessionRow) -> SessionInfo:
    return SessionInfo(
        partner=row.partner,
        party=PartyRef(row.country_code, row.party_id),
        session_id=row.session_id,
        status=row.status,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        authorization_reference=row.authorization_reference,
        location_id=row.location_id,
        kwh=row.kwh,
        start=row.start,
        end=row.end,
        last_updated=row.last_updated,
    )


def row_values(info: SessionInfo) -> dict[str, Any]:
    """The canonical columns of a stored session (the row's identity columns excepted)."""
    return {
        "partner": info.partner,
        "status": info.status,
        "token_uid": info.token_uid,
        "contract_id": info.contract_id,
        "authorization_reference": info.authorization_reference,
        "location_id": info.location_id,
        "kwh": info.kwh,
        "start": info.start,
        "end": info.end,
        "last_updated": info.last_updated,
    }


class SessionHandlers:
    """Idempotent effects of SessionUpserted (the bus guarantees at-most-once per key)."""

    def __init__(self, metrics: EmspMetrics) -> None:
        self.metrics = metrics

    def count_started(self, event: SessionUpserted, db: DbSession) -> None:
        if event.created:
            self.metrics.sessions_started.labels(partner=event.partner).inc()
