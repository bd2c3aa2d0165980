"""Findings on a partner (emsp.findings): one counted row per (partner, party, kind).

Writing one is one atomic upsert of that row (INSERT ... ON CONFLICT DO UPDATE, SQLite and
PostgreSQL): the first time an insert carrying the example, then its count and when it was last
seen; never a row per request. It used to be an UPDATE then, when it matched nothing, an INSERT:
two requests counting the same first finding at once both inserted (a unique violation, a 500, or
a lost count). Reading sums per kind (rows older databases hold twice) and keeps the earliest example.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
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
    if not grouped:
        return
    dialect = db.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise NotImplementedError(f"findings upsert on {dialect}: SQLite and PostgreSQL only")
    insert = _INSERTS[dialect]
    for (cc, pid, kind), (first, count) in grouped.items():
        statement = insert(_findings).values(
            partner=partner, country_code=cc, party_id=pid, kind=kind, module=first.module[:16],
            object_id=first.object_id[:128], detail=first.example, at=now, count=count, last_at=now,
        )  # fmt: skip
        db.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    _findings.c.partner,
                    _findings.c.country_code,
                    _findings.c.party_id,
                    _findings.c.kind,
                ],
                set_={
                    "count": _findings.c.count + statement.excluded.count,
                    "last_at": statement.excluded.last_at,
                },
            )
        )


_findings: Any = FindingRow.__table__
_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def rows(db: Session, partner: str | None = None) -> list[FindingRow]:
    query = select(FindingRow).order_by(FindingRow.pk)
    if partner is not None:
        query = query.where(FindingRow.partner == partner)
    return list(db.scalars(query))
