"""CDR domain: rules on a received canonical CDR and the bus handlers (metrics, settlement)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session as DbSession

from emsp.billing.ledger import RetailUnbillable, bill_cdr
from emsp.bus import CdrReceived, CdrSettled
from emsp.model import CdrInfo, Money, PartyRef
from emsp.observability import EmspMetrics, make_logger
from emsp.outbox import append
from emsp.services.sessions import token_uid_of_contract
from emsp.settlement.facts import StoredCdr
from emsp.settlement.lookups import stored_cdr, stored_cdr_of
from emsp.settlement.settle import Pricer, settle_cdr
from emsp.storage.queries import session_cdrs
from emsp.storage.tables import CdrRow, SessionRow, same_id
from emsp.wire import ci_key, loads


def resolve_cdr(db: DbSession, info: CdrInfo, evse_uid: str | None = None) -> CdrInfo:
    """Fill in what a CDR's version leaves out (2.1.1: no session id, the contract id only).

    The session is a stored one of the same party, driver contract, location and start time (a CDR
    describes one session, mod_cdrs); the token, ours of that contract. Contract and location ids
    match in any case (CiStrings), as the objects' own ids do. One contract may start at two EVSEs
    of a site in the same second (a fleet card; CPOs that round to the minute), so among several
    the one at the CDR's `evse_uid` wins, then one not billed yet, then the first stored."""
    if info.session_id is None:
        session_id = _session_of(db, info, evse_uid)
        if session_id is not None:
            info = dataclasses.replace(info, session_id=session_id)
    if not info.token_uid:
        uid = token_uid_of_contract(db, info.contract_id)
        info = dataclasses.replace(info, token_uid=uid if uid is not None else info.contract_id)
    return info


def _session_of(db: DbSession, info: CdrInfo, evse_uid: str | None) -> str | None:
    match = (
        SessionRow.country_code == info.party.country_code,
        SessionRow.party_id == info.party.party_id,
        same_id(SessionRow.contract_id) == same_id(info.contract_id),  # any case: CiString
        same_id(SessionRow.location_id) == same_id(info.location_id),  # any case: CiString
        SessionRow.start == info.start,
    )
    same = db.scalars(select(SessionRow.session_id).where(*match).order_by(SessionRow.pk).limit(2)).all()
    if len(same) <= 1:  # unambiguous: as it always was (no document read)
        return same[0] if same else None
    documents = select(SessionRow.session_id, SessionRow.raw).where(*match).order_by(SessionRow.pk)
    candidates = [(sid, raw) for sid, raw in db.execute(documents)]  # rows unpack as tuples

    def rank(candidate: tuple[str, str]) -> tuple[bool, bool]:
        sid, raw = candidate
        at = loads(raw).get("evse_uid")
        elsewhere = evse_uid is not None and not (isinstance(at, str) and ci_key(at) == ci_key(evse_uid))
        return elsewhere, _billed(db, info.party, sid)

    return str(min(candidates, key=rank)[0])  # min is stable: the first stored among equals


def _billed(db: DbSession, party: PartyRef, session_id: str) -> bool:
    """The session has a CDR not credited since (as second_cdr_for_session counts them)."""
    earlier = session_cdrs(db, party.country_code, party.party_id, session_id)
    return sum(-1 if credit else 1 for _cdr_id, credit in earlier) > 0


def new_row(info: CdrInfo, raw: str, wire: str | None = None) -> CdrRow:
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
        wire=wire,
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


class FreshCdrs:
    """CDRs the receiver stored a moment ago, by their columns, until settlement takes them.

    For a database only this process writes (in-memory SQLite), where a CDR is settled right after
    the POST that stored it: settlement takes the receiver's own values (as reading the row back
    gives them, `stored_cdr_of`) instead of reading back and unpacking the row just written. Added
    once the receiver's unit has committed; each taken once. A miss (a retry, a pulled CDR, a memo
    emptied when full) reads the table as before; what is committed is the same either way."""

    LIMIT = 1000  # CDRs stored and not yet settled: the drain after each request takes them

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, written: list[dict[str, Any]]) -> None:
        for values in written:
            if len(self._values) >= self.LIMIT:
                self._values.clear()
            self._values[(values["country_code"], values["party_id"], ci_key(values["cdr_id"]))] = values

    def take(self, country_code: str, party_id: str, cdr_id: str) -> StoredCdr | None:
        values = self._values.pop((country_code, party_id, ci_key(cdr_id)), None)
        return None if values is None else stored_cdr_of(values)

    def __len__(self) -> int:
        return len(self._values)


class CdrHandlers:
    def __init__(
        self, metrics: EmspMetrics, pricer: Pricer, log: Any = None, fresh: FreshCdrs | None = None
    ) -> None:
        self.fresh = fresh  # CDRs just stored by this process (in-memory SQLite), or None
        self.metrics = metrics
        self.pricer = pricer
        self.log = log if log is not None else make_logger()

    def count_received(self, event: CdrReceived, db: DbSession) -> None:
        self.metrics.cdrs_received.labels(partner=event.partner).inc()
        lag = (event.cdr.received_at - event.cdr.end).total_seconds()
        self.metrics.settlement_lag.observe(max(lag, 0.0))

    def settle(self, event: CdrReceived, db: DbSession) -> None:
        c = event.cdr
        where = (c.party.country_code, c.party.party_id, c.cdr_id)
        row = None if self.fresh is None else self.fresh.take(*where)
        if row is None:
            row = stored_cdr(db, *where)
        if row is None:
            raise NoResultFound("No row was found when one was required")  # as Result.one() says it
        line = settle_cdr(db, row, self.pricer, c.received_at)
        try:
            bill_cdr(db, row, line, c.received_at)  # retail lines of billing drivers (none without contracts)
        except RetailUnbillable as exc:
            # The wholesale line stands on its own: a retail failure (no line written) must not take
            # it down with it (retried, then dead-lettered). The session counts as unbilled.
            self.log.warning(
                "retail_line_held",
                partner=c.partner,
                cdr_id=c.cdr_id,
                session_id=c.session_id,
                reason=str(exc),
            )
        settled = CdrSettled(
            event.partner, c.party, c.cdr_id, c.session_id, line.line_no, line.currency, line.energy_kwh,
            line.amount_excl_vat, line.amount_incl_vat,
        )  # fmt: skip
        append(db, [settled], line.at)  # "CDR settled" commits with its invoice line
