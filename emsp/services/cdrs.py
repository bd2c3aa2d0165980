"""CDR domain: canonical view of a received CDR and the bus handlers (metrics, settlement)."""

from __future__ import annotations

from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session as DbSession

from emsp.bus import CdrReceived, CdrSettled
from emsp.model import CdrInfo, Money, PartyRef
from emsp.observability import EmspMetrics
from emsp.ocpi.v221 import schemas
from emsp.outbox import append
from emsp.settlement.settle import Pricer, settle_cdr
from emsp.storage.queries import find_cdr
from emsp.storage.tables import CdrRow


def cdr_info(partner: str, c: schemas.Cdr, received_at: object) -> CdrInfo:
    assert hasattr(received_at, "tzinfo")
    return CdrInfo(
        partner=partner,
        party=PartyRef(c.country_code.upper(), c.party_id.upper()),
        cdr_id=c.id,
        session_id=c.session_id,
        token_uid=c.cdr_token.uid,
        contract_id=c.cdr_token.contract_id,
        authorization_reference=c.authorization_reference,
        location_id=c.cdr_location.id,
        total_energy_kwh=c.total_energy,
        total_cost=Money(c.total_cost.excl_vat, c.total_cost.incl_vat, c.currency),
        start=c.start_date_time,
        end=c.end_date_time,
        received_at=received_at,  # type: ignore[arg-type]
        credit=bool(c.credit),
    )


def new_row(info: CdrInfo, raw: str) -> CdrRow:
    return CdrRow(
        partner=info.partner,
        country_code=info.party.country_code,
        party_id=info.party.party_id,
        cdr_id=info.cdr_id,
        session_id=info.session_id,
        token_uid=info.token_uid,
        contract_id=info.contract_id,
        authorization_reference=info.authorization_reference,
        location_id=info.location_id,
        currency=info.total_cost.currency,
        total_energy=info.total_energy_kwh,
        total_cost_excl=info.total_cost.excl_vat,
        total_cost_incl=info.total_cost.incl_vat,
        start=info.start,
        end=info.end,
        received_at=info.received_at,
        credit=info.credit,
        raw=raw,
    )


def row_to_info(row: CdrRow) -> CdrInfo:
    return CdrInfo(
        partner=row.partner,
        party=PartyRef(row.country_code, row.party_id),
        cdr_id=row.cdr_id,
        session_id=row.session_id,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        authorization_reference=row.authorization_reference,
        location_id=row.location_id,
        total_energy_kwh=row.total_energy,
        total_cost=Money(row.total_cost_excl, row.total_cost_incl, row.currency),
        start=row.start,
        end=row.end,
        received_at=row.received_at,
        credit=row.credit,
    )


class CdrHandlers:
    def __init__(self, metrics: EmspMetrics, pricer: Pricer) -> None:
        self.metrics = metrics
        self.pricer = pricer

    def count_received(self, event: CdrReceived, db: DbSession) -> None:
        self.metrics.cdrs_received.labels(partner=event.partner).inc()
        lag = (event.cdr.received_at - event.cdr.end).total_seconds()
        self.metrics.settlement_lag.observe(max(lag, 0.0))

    def settle(self, event: CdrReceived, db: DbSession) -> None:
        c = event.cdr
        row = find_cdr(db, c.party.country_code, c.party.party_id, c.cdr_id)
        if row is None:
            raise NoResultFound("No row was found when one was required")  # as Result.one() says it
        line = settle_cdr(db, row, self.pricer, c.received_at)
        settled = CdrSettled(
            event.partner, c.party, c.cdr_id, c.session_id, line.line_no, line.currency, line.energy_kwh,
            line.amount_excl_vat, line.amount_incl_vat,
        )  # fmt: skip
        append(db, [settled], line.at)  # "CDR settled" commits with its invoice line
