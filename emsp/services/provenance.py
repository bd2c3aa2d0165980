"""A CDR's provenance, for audit: where it came from and what it produced.

- the OCPI version it came under and how its schema validation went (`valid`: the version's tables
  held; `tolerated`: accepted with notes — the findings recorded about it; `unknown`: stored before
  provenance was recorded);
- the tariff versions in effect at session start, at session end and when the CDR was received:
  for every tariff that bears on it (the one its invoice line was priced with, those it embeds,
  those of its connector), the version the eMSP held at that instant (tariff id, its last_updated
  and our version id: `tariff_versions.pk`), or None when the eMSP held none yet;
- the idempotency key its billing ran under;
- the invoice lines it produced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from emsp.storage.tables import (
    PARTY_OBJECT_KEYS,
    CdrRow,
    FindingRow,
    InvoiceLineRow,
    LocationRow,
    TariffVersionRow,
    same_id,
)
from emsp.timeutil import format_utc
from emsp.wire import ci_key, loads


def _tariff_ids(db: Session, row: CdrRow, lines: list[InvoiceLineRow]) -> list[str]:
    ids = [line.tariff_id for line in lines if line.tariff_id]
    doc: Any = loads(row.raw)
    if isinstance(doc, dict):
        ids += [str(t["id"]) for t in doc.get("tariffs") or [] if isinstance(t, dict) and "id" in t]
        where: dict[str, Any] = doc["cdr_location"] if isinstance(doc.get("cdr_location"), dict) else {}
        location = db.scalars(
            select(LocationRow.raw).where(
                LocationRow.country_code == row.country_code,
                LocationRow.party_id == row.party_id,
                PARTY_OBJECT_KEYS["locations"] == same_id(row.location_id),  # any case: CiString
            )
        ).first()
        place: Any = loads(location) if location else {}
        for evse in place.get("evses") or [] if isinstance(place, dict) else []:
            if not isinstance(evse, dict) or not _same(evse.get("uid"), where.get("evse_uid")):
                continue
            for connector in evse.get("connectors") or []:
                if isinstance(connector, dict) and _same(connector.get("id"), where.get("connector_id")):
                    ids += [str(t) for t in connector.get("tariff_ids") or []]
    # One entry per tariff: the line, the CDR and the connector may spell its id in other cases.
    first: dict[str, str] = {}
    for tariff_id in ids:
        first.setdefault(ci_key(tariff_id), tariff_id)
    return list(first.values())


def _same(a: object, b: object) -> bool:
    """EVSE uids and Connector ids are CiStrings: equal in any case."""
    return isinstance(a, str) and isinstance(b, str) and ci_key(a) == ci_key(b)


def _version_at(db: Session, row: CdrRow, tariff_id: str, at: datetime) -> dict[str, Any]:
    held = db.scalars(
        select(TariffVersionRow)
        .where(
            TariffVersionRow.country_code == row.country_code,
            TariffVersionRow.party_id == row.party_id,
            same_id(TariffVersionRow.tariff_id) == same_id(tariff_id),  # each PUT's spelling, any case
            TariffVersionRow.received_at <= at,
        )
        .order_by(TariffVersionRow.received_at.desc(), TariffVersionRow.pk.desc())
    ).first()
    if held is None or held.deleted:
        return {"tariff_id": tariff_id, "last_updated": None, "version_id": None}
    return {"tariff_id": tariff_id, "last_updated": format_utc(held.last_updated), "version_id": held.pk}


def cdr_provenance(db: Session, row: CdrRow) -> dict[str, Any]:
    lines = list(
        db.scalars(
            select(InvoiceLineRow)
            .where(
                InvoiceLineRow.country_code == row.country_code,
                InvoiceLineRow.party_id == row.party_id,
                InvoiceLineRow.cdr_id == row.cdr_id,
            )
            .order_by(InvoiceLineRow.line_no)
        )
    )
    findings = db.scalars(
        select(FindingRow)
        .where(
            FindingRow.country_code == row.country_code,
            FindingRow.party_id == row.party_id,
            FindingRow.module == "cdrs",
            func.upper(FindingRow.object_id) == same_id(row.cdr_id),  # as each POST spelled it
        )
        .order_by(FindingRow.pk)
    ).all()
    notes: list[str] = list(loads(row.validation_notes)) if row.validation_notes else []
    notes += [f"{f.kind}: {f.detail}" for f in findings]
    outcome = row.validation or "unknown"
    if notes and outcome == "valid":
        outcome = "tolerated"
    tariff_ids = _tariff_ids(db, row, lines)
    instants = {"session_start": row.start, "session_end": row.end, "cdr_received": row.received_at}
    return {
        "ocpi_version": row.ocpi_version,
        "validation": {"outcome": outcome, "notes": notes},
        "tariffs": {
            name: [_version_at(db, row, tariff_id, at) for tariff_id in tariff_ids]
            for name, at in instants.items()
        },
        "idempotency_key": row.idempotency_key,
        "invoice_lines": [
            {
                "line_no": line.line_no,
                "tariff_id": line.tariff_id,
                "amount_excl_vat": None if line.amount_excl_vat is None else str(line.amount_excl_vat),
                "amount_incl_vat": None if line.amount_incl_vat is None else str(line.amount_incl_vat),
                "currency": line.currency,
                "note": line.note,
            }
            for line in lines
        ],
    }
