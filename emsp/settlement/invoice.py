"""Pay-as-you-go invoice lines: exactly one per distinct CDR (unique on party + CDR id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from emsp.model import InvoiceLine, PartyRef
from emsp.services.findings import NewFinding
from emsp.settlement.facts import CdrFacts, LineFacts
from emsp.settlement.lookups import has_invoice_line, insert_invoice_line
from emsp.storage.queries import find_invoice_line
from emsp.storage.tables import InvoiceLineRow


@dataclass(frozen=True, slots=True)
class Priced:
    excl_vat: Decimal | None
    incl_vat: Decimal | None
    tariff_id: str | None
    note: str
    findings: tuple[NewFinding, ...] = ()  # what this CDR's pricing says about its partner (emsp.findings)


def existing_line(db: Session, cdr: CdrFacts) -> InvoiceLineRow | None:
    return find_invoice_line(db, cdr.country_code, cdr.party_id, cdr.cdr_id)


def write_line(db: Session, cdr: CdrFacts, priced: Priced, now: datetime) -> LineFacts:
    """Idempotent: a second call for the same CDR returns the first line unchanged.

    The line is inserted with one Core statement (emsp.settlement.lookups), not an ORM flush: the
    same stored values, returned as written with its new `line_no`."""
    if has_invoice_line(db, cdr.country_code, cdr.party_id, cdr.cdr_id):
        line = existing_line(db, cdr)
        assert line is not None  # in this very transaction
        return line
    delta = None if priced.excl_vat is None else priced.excl_vat - cdr.total_cost_excl
    return insert_invoice_line(
        db,
        {
            "partner": cdr.partner,
            "country_code": cdr.country_code,
            "party_id": cdr.party_id,
            "cdr_id": cdr.cdr_id,
            "session_id": cdr.session_id,
            "token_uid": cdr.token_uid,
            "contract_id": cdr.contract_id,
            "currency": cdr.currency,
            # a credit takes it back
            "energy_kwh": -cdr.total_energy if cdr.credit else cdr.total_energy,
            "amount_excl_vat": priced.excl_vat,
            "amount_incl_vat": priced.incl_vat,
            "cpo_excl_vat": cdr.total_cost_excl,
            "cpo_incl_vat": cdr.total_cost_incl,
            "delta_excl_vat": delta,
            "tariff_id": priced.tariff_id,
            "note": priced.note,
            "at": now,
        },
    )


def to_record(row: InvoiceLineRow) -> InvoiceLine:
    return InvoiceLine(
        line_no=row.line_no,
        partner=row.partner,
        cdr_id=row.cdr_id,
        party=PartyRef(row.country_code, row.party_id),
        session_id=row.session_id,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        currency=row.currency,
        energy_kwh=row.energy_kwh,
        amount_excl_vat=row.amount_excl_vat,
        amount_incl_vat=row.amount_incl_vat,
        cpo_excl_vat=row.cpo_excl_vat,
        cpo_incl_vat=row.cpo_incl_vat,
        delta_excl_vat=row.delta_excl_vat,
        tariff_id=row.tariff_id,
        note=row.note,
        at=row.at,
    )
