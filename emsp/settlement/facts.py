"""What settlement and billing read of a stored CDR and of its invoice line.

Either the ORM rows (`CdrRow`, `InvoiceLineRow`) or the plain values settlement reads and writes
itself (`StoredCdr`, `WrittenLine`, emsp.settlement.lookups): building an ORM instance (identity
and change tracking set up per attribute) cost more than reading the row it describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeAlias

from emsp.storage.tables import CdrRow, InvoiceLineRow


@dataclass(slots=True)
class StoredCdr:
    """A stored CDR's columns as settlement reads them."""

    partner: str
    country_code: str
    party_id: str
    cdr_id: str
    session_id: str | None
    token_uid: str
    contract_id: str
    authorization_reference: str | None
    location_id: str
    currency: str
    total_energy: Decimal
    total_cost_excl: Decimal
    total_cost_incl: Decimal | None
    start: datetime
    end: datetime
    received_at: datetime
    credit: bool
    raw: str


@dataclass(slots=True)
class WrittenLine:
    """An invoice line as settlement inserted it."""

    line_no: int
    partner: str
    country_code: str
    party_id: str
    cdr_id: str
    session_id: str | None
    token_uid: str
    contract_id: str
    currency: str
    energy_kwh: Decimal
    amount_excl_vat: Decimal | None
    amount_incl_vat: Decimal | None
    cpo_excl_vat: Decimal
    cpo_incl_vat: Decimal | None
    delta_excl_vat: Decimal | None
    tariff_id: str | None
    note: str
    at: datetime


# What settlement and billing accept: the ORM row or the plain values (same attribute names).
CdrFacts: TypeAlias = StoredCdr | CdrRow
LineFacts: TypeAlias = WrittenLine | InvoiceLineRow
