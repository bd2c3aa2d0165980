"""The reads and the one write of settling a CDR (and of quoting a visit), as plain column reads.

Settlement runs once per CDR and a quote once per arrival; each asked the ORM for whole rows
(identity map, change tracking, a flush per invoice line) where a few columns do. These are Core
statements built once; on SQLite they run straight on the unit's DB-API cursor
(`emsp.storage.direct`: same SQL, same column processors, same transaction), elsewhere (PostgreSQL)
through Core. The values handed back are those the ORM would load (emsp.settlement.facts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from emsp.settlement.facts import StoredCdr, WrittenLine
from emsp.storage.direct import DirectStatement
from emsp.storage.tables import PARTY_OBJECT_KEYS, CdrRow, InvoiceLineRow, LocationRow, TariffRow, same_id

_cdrs: Any = CdrRow.__table__
_lines: Any = InvoiceLineRow.__table__
_locations: Any = LocationRow.__table__
_tariffs: Any = TariffRow.__table__


def _by_party(table: Table, id_column: str) -> tuple[Any, ...]:
    """A party's object by id: in any case (CiString) where the table is keyed so. An invoice line
    is found by its CDR's id as the CDR is stored (settlement passes the stored row's own)."""
    key = PARTY_OBJECT_KEYS.get(table.name)
    return (
        table.c.country_code == bindparam("cc"),
        table.c.party_id == bindparam("pid"),
        table.c[id_column] == bindparam("oid") if key is None else key == same_id(bindparam("oid")),
    )


def _autoflush(db: Session) -> None:
    """What an ORM query would flush first (nothing, in settlement: a no-op check when clean)."""
    if db.autoflush:
        db.flush()


class _Select:
    """A SELECT of at most one row (a unique key): direct on SQLite, Core elsewhere."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.direct = DirectStatement(statement)

    def one(self, db: Session, params: Mapping[str, Any]) -> Sequence[Any] | None:
        _autoflush(db)
        rows = self.direct.rows(db, params)
        if rows is None:
            return db.connection().execute(self.statement, params).one_or_none()
        return rows[0] if rows else None


# Every column the settlement of a CDR reads (all but `wire` and the provenance columns).
_CDR_COLUMNS = (
    "partner", "country_code", "party_id", "cdr_id", "session_id", "token_uid", "contract_id",
    "authorization_reference", "location_id", "currency", "total_energy", "total_cost_excl",
    "total_cost_incl", "start", "end", "received_at", "credit", "raw",
)  # fmt: skip
_cdr = _Select(select(*(_cdrs.c[name] for name in _CDR_COLUMNS)).where(*_by_party(_cdrs, "cdr_id")))
_line_exists = _Select(select(_lines.c.line_no).where(*_by_party(_lines, "cdr_id")))
_tariff_raw = _Select(select(_tariffs.c.raw).where(*_by_party(_tariffs, "tariff_id")))
_location_zone = _Select(select(_locations.c.time_zone).where(*_by_party(_locations, "location_id")))
_location_zone_raw = _Select(
    select(_locations.c.time_zone, _locations.c.raw).where(*_by_party(_locations, "location_id"))
)
_line_insert = insert(_lines)
_line_insert_direct = DirectStatement(_line_insert, writes=True)


def _params(country_code: str, party_id: str, object_id: str) -> dict[str, str]:
    return {"cc": country_code, "pid": party_id, "oid": object_id}


def stored_cdr(db: Session, country_code: str, party_id: str, cdr_id: str) -> StoredCdr | None:
    """The stored CDR (the columns settlement reads), or None."""
    row = _cdr.one(db, _params(country_code, party_id, cdr_id))
    return None if row is None else StoredCdr(*row)


def stored_cdr_of(values: Mapping[str, Any]) -> StoredCdr:
    """What `stored_cdr` reads back of a row inserted with `values` (its columns): each value as
    its column type returns it (a Decimal from its text, aware UTC, a bool, the document's text)."""
    v = values
    return StoredCdr(
        v["partner"], v["country_code"], v["party_id"], v["cdr_id"], v["session_id"], v["token_uid"],
        v["contract_id"], v["authorization_reference"], v["location_id"], v["currency"],
        _decimal(v["total_energy"]), _decimal(v["total_cost_excl"]), _decimal(v["total_cost_incl"]),
        v["start"].astimezone(UTC), v["end"].astimezone(UTC), v["received_at"].astimezone(UTC),
        bool(v["credit"]), str(v["raw"]),
    )  # fmt: skip


def _decimal(value: Any) -> Any:
    return None if value is None else Decimal(str(value))  # DecimalText stores the text


def has_invoice_line(db: Session, country_code: str, party_id: str, cdr_id: str) -> bool:
    return _line_exists.one(db, _params(country_code, party_id, cdr_id)) is not None


def insert_invoice_line(db: Session, values: dict[str, Any]) -> WrittenLine:
    """Insert a line (every column but `line_no`); the line as written, with its number."""
    _autoflush(db)  # rows pending in the session go first, as with the ORM's flush
    line_no = _line_insert_direct.write(db, values)
    if line_no is None:
        key = db.connection().execute(_line_insert, values).inserted_primary_key
        assert key is not None  # a single-row INSERT always has one
        line_no = int(key[0])
    return WrittenLine(line_no=line_no, **values)


def tariff_raw(db: Session, country_code: str, party_id: str, tariff_id: str) -> str | None:
    """The stored tariff's canonical JSON, or None."""
    row = _tariff_raw.one(db, _params(country_code, party_id, tariff_id))
    return None if row is None else str(row[0])


def location_time_zone(
    db: Session, country_code: str, party_id: str, location_id: str
) -> tuple[str | None] | None:
    """(time_zone,) of a stored location, or None when there is no such location."""
    row = _location_zone.one(db, _params(country_code, party_id, location_id))
    return None if row is None else (row[0],)


def location_zone_and_raw(
    db: Session, country_code: str, party_id: str, location_id: str
) -> tuple[str | None, str] | None:
    """(time_zone, canonical JSON) of a stored location, or None."""
    row = _location_zone_raw.one(db, _params(country_code, party_id, location_id))
    return None if row is None else (row[0], row[1])
