"""Lookups built once, executed with bound parameters.

Building a `select(...).where(col == value)` costs more than running it on SQLite: the expression
is constructed and its cache key computed on every call. A statement built once with `bindparam`s
memoizes its cache key, so only the parameters change per call (same SQL, same rows).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.orm import Session

from emsp.storage.direct import DirectStatement
from emsp.storage.tables import (
    PARTY_OBJECT_KEYS,
    CdrRow,
    InvoiceLineRow,
    LocationRow,
    PulledVersionRow,
    SessionRow,
    TariffRow,
    TokenRow,
    same_id,
    token_key,
    upper_token_uid,
)

R = TypeVar("R")


class PartyLookup(Generic[R]):
    """The row of `model` with (country_code, party_id, <id column>), or None. The id of a party's
    object (a table of `PARTY_OBJECT_KEYS`) matches in any case: it is a CiString."""

    def __init__(self, model: type[R], id_column: str) -> None:
        table: Any = model
        key = PARTY_OBJECT_KEYS.get(table.__tablename__)
        self._stmt: Select[Any] = select(model).where(
            table.country_code == bindparam("cc"),
            table.party_id == bindparam("pid"),
            getattr(table, id_column) == bindparam("oid")
            if key is None
            else key == same_id(bindparam("oid")),
        )

    def __call__(self, db: Session, country_code: str, party_id: str, object_id: str) -> R | None:
        return db.scalars(self._stmt, {"cc": country_code, "pid": party_id, "oid": object_id}).one_or_none()


find_location = PartyLookup(LocationRow, "location_id")
find_tariff = PartyLookup(TariffRow, "tariff_id")
find_session = PartyLookup(SessionRow, "session_id")
find_cdr = PartyLookup(CdrRow, "cdr_id")

_pulled_version = select(PulledVersionRow).where(
    PulledVersionRow.country_code == bindparam("cc"),
    PulledVersionRow.party_id == bindparam("pid"),
    PulledVersionRow.module == bindparam("module"),
    same_id(PulledVersionRow.object_id) == same_id(bindparam("oid")),  # any case: CiString
)


def find_pulled_version(
    db: Session, country_code: str, party_id: str, module: str, object_id: str
) -> PulledVersionRow | None:
    """What our pull recorded of a party's Location, Tariff or Session (PulledVersionRow)."""
    params = {"cc": country_code, "pid": party_id, "module": module, "oid": object_id}
    return db.scalars(_pulled_version, params).one_or_none()


# An invoice line names its CDR as the CDR is stored (settlement writes the CDR row's own id): an
# id in another case is looked up again as its CDR spells it (a CiString: the same CDR).
_invoice_line_exact = PartyLookup(InvoiceLineRow, "cdr_id")
_stored_cdr_id = select(CdrRow.cdr_id).where(
    CdrRow.country_code == bindparam("cc"),
    CdrRow.party_id == bindparam("pid"),
    PARTY_OBJECT_KEYS["cdrs"] == same_id(bindparam("oid")),
)


def find_invoice_line(db: Session, country_code: str, party_id: str, cdr_id: str) -> InvoiceLineRow | None:
    """The invoice line of a party's CDR, the CDR's id in any case."""
    line = _invoice_line_exact(db, country_code, party_id, cdr_id)
    if line is not None:
        return line
    params = {"cc": country_code, "pid": party_id, "oid": cdr_id}
    stored = db.scalars(_stored_cdr_id, params).one_or_none()
    if stored is None or stored == cdr_id:
        return None
    return _invoice_line_exact(db, country_code, party_id, stored)


_token_stmt = select(TokenRow).where(upper_token_uid == bindparam("key"), TokenRow.type == bindparam("type"))


def find_token(db: Session, uid: str, token_type: str) -> TokenRow | None:
    """Our token of that uid, in any case (CiString), and type."""
    return db.scalars(_token_stmt, {"key": token_key(uid), "type": token_type}).one_or_none()


# ---- sessions: most of an eMSP's OCPI traffic (a PUT, then a PATCH per meter update) ----
# Plain Core statements: the receiver needs only the stored JSON and the row's key, and writes all
# canonical columns at once, so the ORM's identity map and change tracking would be pure overhead.

_sessions: Any = SessionRow.__table__
_session_raw = select(_sessions.c.pk, _sessions.c.wire, _sessions.c.raw, _sessions.c.last_updated).where(
    _sessions.c.country_code == bindparam("cc"),
    _sessions.c.party_id == bindparam("pid"),
    PARTY_OBJECT_KEYS["sessions"] == same_id(bindparam("oid")),  # any case: CiString
)
# The status column is the stored document's own status (both are written from one validated Session).
_session_status = select(_sessions.c.status).where(
    _sessions.c.country_code == bindparam("cc"),
    _sessions.c.party_id == bindparam("pid"),
    PARTY_OBJECT_KEYS["sessions"] == same_id(bindparam("oid")),  # any case: CiString
)
_session_insert = insert(_sessions)
_session_update = update(_sessions).where(_sessions.c.pk == bindparam("row_pk"))
# The receiver's every PUT/PATCH runs these: on SQLite straight on the cursor (emsp.storage.direct).
_direct_session_raw = DirectStatement(_session_raw)
_direct_session_status = DirectStatement(_session_status)
_direct_session_insert = DirectStatement(_session_insert, writes=True)
_direct_session_update = DirectStatement(_session_update, writes=True)


def session_raw(
    db: Session, country_code: str, party_id: str, session_id: str
) -> tuple[int, str, datetime] | None:
    """(primary key, JSON as the partner sent it, last_updated) of a stored session, or None."""
    row = _one_session_row(db, _direct_session_raw, _session_raw, country_code, party_id, session_id)
    return None if row is None else (row[0], row[1] if row[1] is not None else row[2], row[3])


def session_status(db: Session, country_code: str, party_id: str, session_id: str) -> str | None:
    """The status of a stored session, or None: one column, where `session_raw` would read (and
    its caller parse) the whole document to learn it."""
    row = _one_session_row(db, _direct_session_status, _session_status, country_code, party_id, session_id)
    return None if row is None else str(row[0])


def _one_session_row(
    db: Session,
    direct: DirectStatement,
    statement: Select[Any],
    country_code: str,
    party_id: str,
    session_id: str,
) -> Any:
    """The row of one stored session by its key (unique: at most one), through the direct cursor
    when the database has one, else through SQLAlchemy; None when there is none."""
    params = {"cc": country_code, "pid": party_id, "oid": session_id}
    rows = direct.rows(db, params)
    return (
        db.connection().execute(statement, params).one_or_none() if rows is None else next(iter(rows), None)
    )


SessionKey = tuple[str, str, str]  # (country_code, party_id, session_id)
StoredSession = tuple[int, str, datetime]  # what session_raw returns


class StoredSessions:
    """What `session_raw` answers, remembered for a database only this process writes (in-memory
    SQLite): a session's every PATCH reads its stored JSON first, and only the sessions receiver
    writes the table. Entries are the committed state: read ones as read (before the unit wrote
    anything), written ones added by the router once their unit committed. A session that ended is
    forgotten (None below): later reads of it are rare (a CDR's check, a stale PATCH) and go to the
    table, so memory holds the sessions in progress, not every session of a run. Bounded: cleared
    when full.

    A written entry may come with a *fact*: what its writer knew of the row beyond its text (the
    sessions receiver: the canonical session its version read from that text), so the next PATCH
    need not read the text again to know it. A fact lives and dies with its entry; a read entry has none.
    """

    LIMIT = 20_000

    def __init__(self) -> None:
        self._rows: dict[SessionKey, StoredSession] = {}
        self._facts: dict[SessionKey, object] = {}

    def get(self, key: SessionKey) -> StoredSession | None:
        return self._rows.get(key)

    def fact(self, key: SessionKey) -> object | None:
        """The fact written with the entry of `key` (None: none, or no entry)."""
        return self._facts.get(key)

    def update(
        self, rows: dict[SessionKey, StoredSession | None], facts: dict[SessionKey, object] | None = None
    ) -> None:
        """Remember each row, with its fact in `facts` if any; a None forgets its key."""
        if len(self._rows) + len(rows) > self.LIMIT:
            self._rows.clear()
            self._facts.clear()
        for key, row in rows.items():
            fact = None if facts is None or row is None else facts.get(key)
            if row is None:
                self._rows.pop(key, None)
            else:
                self._rows[key] = row
            if fact is None:
                self._facts.pop(key, None)
            else:
                self._facts[key] = fact

    def __len__(self) -> int:
        return len(self._rows)


def insert_session(db: Session, values: dict[str, Any]) -> int:
    """`values`: every column but the key (the identity columns and `row_values`' + raw, wire).
    Returns the new row's key."""
    pk = _direct_session_insert.write(db, values)
    if pk is None:
        key = db.connection().execute(_session_insert, values).inserted_primary_key
        assert key is not None  # a single-row INSERT always has one
        pk = int(key[0])
    return pk


def update_session(db: Session, pk: int, values: dict[str, Any]) -> None:
    """`values`: the columns to set, any but the key and the identity (`row_values`' + raw, wire);
    one statement is compiled per distinct set of them."""
    params = {"row_pk": pk, **values}
    if _direct_session_update.write(db, params) is None:
        db.connection().execute(_session_update, params)


# ---- CDRs: one POST per session; the receiver needs only whether the id is stored, and as what ----

_cdrs: Any = CdrRow.__table__
_cdr_stored = select(_cdrs.c.wire, _cdrs.c.raw).where(
    _cdrs.c.country_code == bindparam("cc"),
    _cdrs.c.party_id == bindparam("pid"),
    PARTY_OBJECT_KEYS["cdrs"] == same_id(bindparam("oid")),  # any case: CiString
)
_cdr_insert = insert(_cdrs)
_direct_cdr_stored = DirectStatement(_cdr_stored)
_direct_cdr_insert = DirectStatement(_cdr_insert, writes=True)
# A session's CDRs, in the order stored, as the finding names them. Each CDR names its session as
# it spelled it: the session id is a CiString, so matched in any case.
_session_cdrs = (
    select(_cdrs.c.cdr_id, _cdrs.c.credit)
    .where(
        _cdrs.c.country_code == bindparam("cc"),
        _cdrs.c.party_id == bindparam("pid"),
        same_id(_cdrs.c.session_id) == same_id(bindparam("sid")),  # any case (ix_cdrs_session_ci)
    )
    .order_by(_cdrs.c.pk)
)
_direct_session_cdrs = DirectStatement(_session_cdrs)


def cdr_wire(db: Session, country_code: str, party_id: str, cdr_id: str) -> str | None:
    """A stored CDR as the partner sent it (its canonical document when the two are the same), or None."""
    params = {"cc": country_code, "pid": party_id, "oid": cdr_id}
    rows = _direct_cdr_stored.rows(db, params)  # at most one: the key is unique
    row = (
        db.connection().execute(_cdr_stored, params).one_or_none() if rows is None else next(iter(rows), None)
    )
    return None if row is None else (row[0] if row[0] is not None else row[1])


def session_cdrs(db: Session, country_code: str, party_id: str, session_id: str) -> list[tuple[str, bool]]:
    """(cdr_id, credit) of every stored CDR of a session, oldest first.

    A statement built once, run on the cursor on SQLite: building an ORM select per CDR POST and
    its execution machinery cost ~1 ms, most of a POST. The ORM's autoflush is kept: objects the
    unit added or changed are flushed first, so the answer includes them as before."""
    if db.new or db.dirty or db.deleted:
        db.flush()
    params = {"cc": country_code, "pid": party_id, "sid": session_id}
    rows = _direct_session_cdrs.rows(db, params)
    if rows is None:
        rows = [tuple(r) for r in db.connection().execute(_session_cdrs, params)]
    return [(str(cdr_id), bool(credit)) for cdr_id, credit in rows]


def insert_cdr(db: Session, values: dict[str, Any]) -> None:
    """`values`: every column but the key. A Core INSERT, not an ORM object: a reader (the
    settlement handler) loads the row as stored, which equals what was inserted (the column types
    round-trip exactly: Decimal text, aware UTC)."""
    if _direct_cdr_insert.write(db, values) is None:
        db.connection().execute(_cdr_insert, values)


# ---- locations: one row holds every EVSE of a site, so its JSON grows with the site ----
# Settlement needs only the time zone (a column) unless a CDR names no tariff; a quote needs the
# connector's tariff ids, looked up in an index parsed once per distinct location text.

_locations: Any = LocationRow.__table__
_party_location = (
    _locations.c.country_code == bindparam("cc"),
    _locations.c.party_id == bindparam("pid"),
    PARTY_OBJECT_KEYS["locations"] == same_id(bindparam("oid")),  # any case: CiString
)
_location_zone = select(_locations.c.time_zone).where(*_party_location)
_location_raw = select(_locations.c.raw).where(*_party_location)
_location_zone_raw = select(_locations.c.time_zone, _locations.c.raw).where(*_party_location)


def location_time_zone(
    db: Session, country_code: str, party_id: str, location_id: str
) -> tuple[str | None] | None:
    """(time_zone,) of a stored location, or None when there is no such location."""
    params = {"cc": country_code, "pid": party_id, "oid": location_id}
    row = db.connection().execute(_location_zone, params).one_or_none()
    return None if row is None else (row[0],)


def location_raw(db: Session, country_code: str, party_id: str, location_id: str) -> str | None:
    params = {"cc": country_code, "pid": party_id, "oid": location_id}
    return db.connection().execute(_location_raw, params).scalar_one_or_none()


def location_zone_and_raw(
    db: Session, country_code: str, party_id: str, location_id: str
) -> tuple[str | None, str] | None:
    params = {"cc": country_code, "pid": party_id, "oid": location_id}
    row = db.connection().execute(_location_zone_raw, params).one_or_none()
    return None if row is None else (row[0], row[1])
