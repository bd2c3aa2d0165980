"""Session domain: canonical view of a received Session and the bus handlers reacting to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from emsp.bus import SessionUpserted
from emsp.model import PartyRef, SessionInfo
from emsp.observability import EmspMetrics
from emsp.ocpi.v221 import schemas
from emsp.storage.tables import SessionRow


def session_info(partner: str, s: schemas.Session) -> SessionInfo:
    return SessionInfo(
        partner=partner,
        party=PartyRef(s.country_code.upper(), s.party_id.upper()),
        session_id=s.id,
        status=s.status,
        token_uid=s.cdr_token.uid,
        contract_id=s.cdr_token.contract_id,
        authorization_reference=s.authorization_reference,
        location_id=s.location_id,
        kwh=s.kwh,
        start=s.start_date_time,
        end=s.end_date_time,
        last_updated=s.last_updated,
    )


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
