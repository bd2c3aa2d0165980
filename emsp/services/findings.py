"""Findings on a partner (emsp.findings): one counted row per (partner, party, kind).

Writing one is an update of that row — its count and when it was last seen — or, the first time,
an insert carrying the example; never a row per request. Reading sums per kind (two processes may
both have inserted a first row) and keeps the earliest example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from emsp.model import PartyRef
from emsp.storage.tables import FindingRow


@dataclass(frozen=True, slots=True)
class NewFinding:
    kind: str
    party: PartyRef
    example: str
    module: str = ""
    object_id: str = ""


def record(db: Session, partner: str, findings: Iterable[NewFinding], now: datetime) -> None:
    """Count `findings` on `partner` in the caller's unit of work (several of a kind: one write)."""
    grouped: dict[tuple[str, str, str], tuple[NewFinding, int]] = {}
    for finding in findings:
        key = (finding.party.country_code, finding.party.party_id, finding.kind)
        first, count = grouped.get(key, (finding, 0))
        grouped[key] = (first, count + 1)
    for (cc, pid, kind), (first, count) in grouped.items():
        updated = db.execute(
            update(FindingRow)
            .where(
                FindingRow.partner == partner,
                FindingRow.country_code == cc,
                FindingRow.party_id == pid,
                FindingRow.kind == kind,
            )
            .values(count=FindingRow.count + count, last_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(updated, "rowcount", 0):
            continue
        db.add(
            FindingRow(
                partner=partner, country_code=cc, party_id=pid, kind=kind, module=first.module[:16],
                object_id=first.object_id[:128], detail=first.example, at=now, count=count, last_at=now,
            )
        )  # fmt: skip


def rows(db: Session, partner: str | None = None) -> list[FindingRow]:
    query = select(FindingRow).order_by(FindingRow.pk)
    if partner is not None:
        query = query.where(FindingRow.partner == partner)
    return list(db.scalars(query))
