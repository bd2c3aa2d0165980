"""Our tokens and real-time authorization, answered from local state only (principle 8).

The decision (`decide`) is a pure function of the token's state, the request and `now`; the rules
and their spec references are listed there. `TokenAuthority` answers authorizations for the OCPI
layer: tokens come from an in-memory index kept coherent with every ORM write to `TokenRow`, and
each answer is recorded with one precompiled INSERT (no ORM, no counter round trip) in the
request's transaction, so the record is as durable as the answer (see `authorize`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from sys import intern
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, or_, select, text
from sqlalchemy.orm import ORMExecuteState, Session

from emsp.model import (
    NOT_ENOUGH_INFORMATION,
    UNKNOWN_TOKEN,
    AllowedType,
    AuthorizationRecord,
    FraudDecisionRecord,
)
from emsp.services import fraud as fraud_rules
from emsp.services.fraud import FraudGuard
from emsp.storage.db import Database
from emsp.storage.direct import DirectStatement
from emsp.storage.queries import find_token
from emsp.storage.tables import AuthorizationRow, TokenRow, token_key, upper_token_uid
from emsp.storage.weak_events import listen_weakly
from emsp.timeutil import format_utc
from emsp.wire import dumps, loads

LocationKey = tuple[str, str, str]  # (country_code, party_id, location_id) of a CPO's location


def location_key(country_code: str, party_id: str, location_id: str) -> LocationKey:
    """Country and party are CiStrings, compared without case; the location id as sent."""
    return (country_code.upper(), party_id.upper(), location_id)


def parse_allowed_locations(text: str | None) -> list[LocationKey] | None:
    """The stored restriction (JSON list of [country_code, party_id, location_id]); None: anywhere.

    Fail closed: an entry of another shape matches nothing. Older databases stored bare location
    ids ("LOC1"), which cannot say whose LOC1 they meant; such a token stays restricted, to no
    location it can name, rather than becoming valid at every party's LOC1.
    """
    if text is None:
        return None
    data = loads(text)
    keys: list[LocationKey] = []
    for item in data if isinstance(data, list) else ():
        if isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item):
            keys.append(location_key(item[0], item[1], item[2]))
    return keys


class TokenExists(Exception):
    """A new token's uid (in any case: CiString) and type are issued already."""

    def __init__(self, uid: str, token_type: str) -> None:
        super().__init__(f"token {uid} of type {token_type} already exists")


@dataclass(frozen=True, slots=True)
class TokenSpec:
    uid: str
    contract_id: str
    type: str = "RFID"
    valid: bool = True
    whitelist: str = "ALLOWED"
    issuer: str = ""
    has_credit: bool = True
    expires_at: datetime | None = None
    # (country_code, party_id, location_id): a location id is unique only within its CPO party.
    allowed_locations: Sequence[LocationKey] | None = None  # None: may charge anywhere
    # Federated identity (emsp.services.identity): the driver, and the one partner the token is for.
    driver_id: str | None = None
    partner: str | None = None  # None: valid with every partner
    max_battery_kwh: Decimal | None = None


def upsert_token(db: Session, spec: TokenSpec, now: datetime, *, new: bool = False) -> TokenRow:
    """`new`: always a new row, never an update of a token of that uid (any case) and type: should
    another writer have committed one since the caller looked, the unique index refuses it."""
    row = None if new else find_token(db, spec.uid, spec.type)
    if row is None:
        row = TokenRow(uid=spec.uid, type=spec.type)
        db.add(row)
    row.contract_id = spec.contract_id
    row.valid = spec.valid
    row.whitelist = spec.whitelist
    row.issuer = spec.issuer
    row.has_credit = spec.has_credit
    row.expires_at = spec.expires_at
    allowed = spec.allowed_locations
    row.allowed_locations_json = (
        None if allowed is None else dumps([list(location_key(*key)) for key in allowed])
    )
    # A token's driver and partner never change once issued: a spec without them keeps them.
    if spec.driver_id is not None:
        row.driver_id = spec.driver_id
    if spec.partner is not None:
        row.partner = spec.partner
    if spec.max_battery_kwh is not None:
        row.max_battery_kwh = spec.max_battery_kwh
    row.last_updated = now
    db.flush()
    return row


def all_tokens(db: Session, partner: str | None = None) -> list[TokenRow]:
    """Every token (creation order: stable pages); with `partner`, those that partner may see: the
    ones issued for it and those valid with every partner (federated identity)."""
    stmt = select(TokenRow).order_by(TokenRow.pk)
    if partner is not None:
        stmt = stmt.where(or_(TokenRow.partner.is_(None), TokenRow.partner == partner))
    return list(db.scalars(stmt))


@dataclass(frozen=True, slots=True)
class TokenState:
    """What authorization needs of one token, immutable (shared by every request that reads it)."""

    uid: str
    type: str
    contract_id: str
    issuer: str
    valid: bool
    whitelist: str
    has_credit: bool
    expires_at: datetime | None
    allowed_locations: frozenset[LocationKey] | None  # None: may charge anywhere
    last_updated: datetime
    last_updated_text: str = ""  # its wire form, formatted once per token rather than per answer
    driver_id: str | None = None
    partner: str | None = None  # issued for this partner only; None: every partner


def decide(
    token: TokenState | None, party: tuple[str, str] | None, location_id: str | None, now: datetime
) -> str:
    """The answer to one real-time authorization (mod_tokens 2.2.1, POST method), first rule wins:

    1. unknown (uid, type) -> UNKNOWN_TOKEN (answered 2004, HTTP 404, no data);
    2. valid = false -> BLOCKED (NOT_ALLOWED is for a *valid* token at a location, AllowedType);
    3. past its expiry -> EXPIRED; 4. no credit on the account -> NO_CREDIT;
    5. restricted to some locations and the request names none, or the CPO party (country_code,
       party_id) whose location it is cannot be told -> NOT_ENOUGH_INFORMATION (answered 2002:
       "too little information (no LocationReferences provided)");
    6. restricted and (party, location) is not one of them -> NOT_ALLOWED: location ids are
       unique only per party, so another CPO's location of the same id is not one of them;
    7. otherwise ALLOWED.

    Status rules come before the location rules: a blocked, expired or empty-account token is
    refused wherever it is, so no LocationReferences are needed to decide. The whitelist type does
    not change the answer: it tells the CPO when it may skip real-time authorization
    (WhitelistType), and the eMSP answers from the token's current state whatever the CPO's reason
    for asking. Opening hours or EVSE status are never checked (real-time authorization, NOTE).
    """
    if token is None:
        return UNKNOWN_TOKEN
    if not token.valid:
        return AllowedType.BLOCKED.value
    if token.expires_at is not None and now >= token.expires_at:
        return AllowedType.EXPIRED.value
    if not token.has_credit:
        return AllowedType.NO_CREDIT.value
    if token.allowed_locations is not None:
        if location_id is None or party is None:
            return NOT_ENOUGH_INFORMATION
        if location_key(party[0], party[1], location_id) not in token.allowed_locations:
            return AllowedType.NOT_ALLOWED.value
    return AllowedType.ALLOWED.value


@dataclass(frozen=True, slots=True)
class Decision:
    record: AuthorizationRecord
    token: TokenState | None


_tokens: Any = TokenRow.__table__
_token_state = select(
    _tokens.c.uid, _tokens.c.type, _tokens.c.contract_id, _tokens.c.issuer, _tokens.c.valid,
    _tokens.c.whitelist, _tokens.c.has_credit, _tokens.c.expires_at, _tokens.c.allowed_locations_json,
    _tokens.c.last_updated, _tokens.c.driver_id, _tokens.c.partner,
).where(upper_token_uid == bindparam("key"), _tokens.c.type == bindparam("type"))  # fmt: skip
_record = insert(cast(Table, AuthorizationRow.__table__))
# Every authorization reads a token the index does not hold yet (a driver's first visit) and writes
# its record: on SQLite both run on the unit's cursor (emsp.storage.direct), which costs a fraction
# of Core's execution machinery; the same SQL, values and transaction.
_direct_token_state = DirectStatement(_token_state)
_direct_record = DirectStatement(_record, writes=True)
_relaxed_commit = text("SET LOCAL synchronous_commit TO off")
_TOUCHED = "emsp.tokens_touched"


class _TokenStateRow(NamedTuple):
    """A row of `_token_state` read directly, named as Core's Row names its columns."""

    uid: str
    type: str
    contract_id: str
    issuer: str
    valid: bool
    whitelist: str
    has_credit: bool
    expires_at: datetime | None
    allowed_locations_json: str | None
    last_updated: datetime
    driver_id: str | None
    partner: str | None


def _same_instant(moment: datetime) -> datetime:
    return moment


# Tokens are issued and updated in batches, a few instants for many drivers: cached states share
# one datetime per instant (pure: an aware UTC datetime is immutable and equal ones are the same
# instant) instead of a 48-byte copy per row read, one per driver all run long.
_shared_instant = functools.lru_cache(maxsize=256)(_same_instant)


def _state(row: Any) -> TokenState:
    # The index keeps a state per driver: the few-valued columns (type, whitelist, issuer, partner)
    # share one string each instead of a copy per row read (~200 bytes per cached token).
    allowed = parse_allowed_locations(row.allowed_locations_json)
    return TokenState(
        uid=row.uid,
        type=intern(row.type),
        contract_id=row.contract_id,
        issuer=intern(row.issuer),
        valid=bool(row.valid),
        whitelist=intern(row.whitelist),
        has_credit=bool(row.has_credit),
        expires_at=row.expires_at,
        allowed_locations=None if allowed is None else frozenset(allowed),
        last_updated=_shared_instant(row.last_updated),
        last_updated_text=format_utc(row.last_updated),
        driver_id=row.driver_id,
        partner=None if row.partner is None else intern(row.partner),
    )


class TokenAuthority:
    """Real-time authorization from local state: an in-memory token index over the tokens table.

    Coherence: the index holds only committed state. Any ORM flush that inserts, updates or
    deletes a `TokenRow` evicts that token at once and again when the transaction ends (commit or
    rollback); an ORM bulk UPDATE/DELETE on tokens empties the index. A transaction that changed
    tokens never fills the index. A miss reads the row (one SELECT) and caches it; unknown tokens
    are not cached, so a token issued by another process is found on its first use. A token
    *changed* by another process on a shared database is seen after `invalidate()` (the hook for a
    cross-process signal); tokens written behind SQLAlchemy's ORM are not seen either.

    Not thread-safe, like the rest of the core: one thread at a time (see `emsp.api`).
    """

    MAX_CACHED = 200_000  # tokens kept in memory; beyond it the index starts over (a miss is one SELECT)

    def __init__(self, database: Database, reference_prefix: str, fraud: FraudGuard | None = None) -> None:
        self.fraud = fraud  # None: no fraud checks (and no partner check of federated tokens' use)
        self._index: dict[tuple[str, str], TokenState] = {}
        self._database = database
        self._counters = database.counters
        self._prefix = reference_prefix
        # Group commit (set by a runtime that calls `flush_records` before it sends the answers of a
        # batch, see emsp.core_thread): records wait in memory instead of one INSERT per request.
        self.defer_records = False
        self._pending: list[dict[str, Any]] = []
        factory = database.session_factory
        listen_weakly(factory, "after_flush", self._after_flush)
        listen_weakly(factory, "after_commit", self._after_end)
        listen_weakly(factory, "after_rollback", self._after_end)
        listen_weakly(factory, "do_orm_execute", self._on_orm_execute)

    def lookup(self, db: Session, uid: str, token_type: str) -> TokenState | None:
        """The token of that uid in any case (CiString) and type; its state names the uid as issued."""
        key = (token_key(uid), token_type)
        state = self._index.get(key)
        if state is not None:
            return state
        params = {"key": key[0], "type": token_type}
        rows = _direct_token_state.rows(db, params)  # at most one: the index is unique
        if rows is None:
            row = db.connection().execute(_token_state, params).one_or_none()
        else:
            row = _TokenStateRow(*rows[0]) if rows else None
        if row is None:
            return None
        state = _state(row)
        if _TOUCHED not in db.info:  # never remember what a transaction that wrote tokens sees
            if len(self._index) >= self.MAX_CACHED:
                self._index.clear()
            # The key's texts are the state's own where equal (a uid issued as its key, the interned
            # type, which the query matched): no second copy of them per cached token (~0.1 KiB).
            self._index[(state.uid if state.uid == key[0] else key[0], state.type)] = state
        return state

    def invalidate(self) -> None:
        self._index.clear()

    def flush_records(self) -> None:
        """Write the deferred records in one transaction (one multi-row INSERT).

        Called before any answer they back is sent. On failure they are dropped, not retried:
        the caller fails those answers too, so no record exists of an answer never given.
        """
        rows = self.take_records()
        if rows:
            with self._database.unit() as db:  # the batch's scope and connection, when there is one
                db.connection().execute(_record, rows)

    def take_records(self) -> list[dict[str, Any]]:
        """The deferred records, handed over: the caller writes them (`write_records`) before it
        sends any answer they back, or fails those answers (pipelined group commit)."""
        rows, self._pending = self._pending, []
        return rows

    def write_records(self, rows: list[dict[str, Any]]) -> None:
        """`rows` in one transaction on a connection of their own: safe on another thread than the
        core's (it touches no core state), as long as the database has more than one connection."""
        with self._database.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The guarantee SQLite's WAL with synchronous=NORMAL gives (emsp/storage/db.py):
                # a commit survives a kill of the eMSP process (PostgreSQL has it), and only a
                # crash of the database server or its machine may lose the last few hundred ms of
                # authorization records (never a session, CDR, invoice line or outbox event: those
                # commit elsewhere, with the server's durable default). It takes the WAL flush,
                # 4-11 ms here, off every answer of the batch (`python -m bench.perf.authorize`).
                connection.execute(_relaxed_commit)
            connection.execute(_record, rows)

    def authorize(
        self,
        unit: Callable[[], Session],
        *,
        partner: str,
        uid: str,
        token_type: str,
        party: tuple[str, str] | None,
        location_id: str | None,
        now: datetime,
    ) -> Decision:
        """Decide and record the answer in the request's transaction (committed before the answer is
        sent). `unit()` opens that transaction; it is only called when the token is not in the index
        or the record is written now (not deferred), so a warm authorization under group commit
        costs no database work at all. `party`: the requesting CPO party (country_code, party_id)
        that `location_id` belongs to, None if it cannot be told (a restricted token then gets 2002).

        Durability: the record commits in the request's transaction, or, with `defer_records`, in
        the batch's transaction that the runtime commits before it sends any answer of the batch
        (group commit); either way no answer is ever sent whose record a crash of the eMSP process
        could lose (SQLite WAL and PostgreSQL both keep a committed transaction across a process
        kill). The reference comes from an in-memory block
        of the `authorization_reference` counter whose high-water mark is committed before any
        value of the block is handed out: after a restart, references continue above it, never
        reused (a crashed process only leaves a gap).
        """
        token = self._index.get((token_key(uid), token_type)) or self.lookup(unit(), uid, token_type)
        if token is not None:
            # Our token, asked about in another case (CiString): records and fraud history name it
            # as issued, so every authorization of one token is found under one uid.
            uid = token.uid
        verdicts: list[fraud_rules.Verdict] = []
        if token is not None and token.partner is not None and token.partner != partner:
            # Federated identity: this uid was issued for another partner; here it is not our token.
            verdicts.append(
                fraud_rules.Verdict(
                    fraud_rules.FOREIGN_TOKEN,
                    fraud_rules.REFUSE,
                    f"token issued for partner {token.partner}, presented through {partner}",
                )
            )
            answered_token, result = None, UNKNOWN_TOKEN
        else:
            answered_token, result = token, decide(token, party, location_id, now)
        guard = self.fraud
        seen: Any = None
        if guard is not None and guard.config.enabled and answered_token is not None:
            subject = guard.subject(uid, token_type, answered_token.driver_id)
            if result == AllowedType.ALLOWED.value:
                history = guard.history(unit, subject, uid, token_type, answered_token.driver_id, now)
                here = guard.coords(unit, party, location_id) if location_id is not None else None
                verdict = guard.screen(history, here, now)
                if verdict is not None:
                    verdicts.append(verdict)
                    if verdict.about is not None:  # the earlier one it conflicts with is suspect too
                        verdicts.append(
                            fraud_rules.Verdict(
                                verdict.rule, fraud_rules.FLAG,
                                f"conflicts with a later authorization at {location_id} ({partner})",
                                about=verdict.about,
                            )
                        )  # fmt: skip
                    result = AllowedType.NOT_ALLOWED.value
                else:
                    seen = (history, here)
            elif result == AllowedType.BLOCKED.value:
                flagged = guard.blocked(subject, now)
                if flagged is not None:
                    verdicts.append(flagged)
        reference = None
        if result == AllowedType.ALLOWED.value:
            # Deterministic and <= 36 chars (CiString(36)); the CPO echoes it in Session and CDR.
            reference = f"{self._prefix}{self._counters.next('authorization_reference'):010d}"
            if seen is not None:
                history, here = seen
                history.append(fraud_rules.Seen(now, partner, location_id, here, reference, uid))
        if verdicts and guard is not None:
            driver_id = token.driver_id if token is not None else None
            guard.write(
                unit(),
                [_decision(v, uid, token_type, driver_id, partner, location_id, now) for v in verdicts],
            )
        values = {
            "partner": partner,
            "token_uid": uid,
            "token_type": token_type,
            "result": result,
            "authorization_reference": reference,
            "location_id": location_id,
            "at": now,
        }
        if self.defer_records:
            self._pending.append(values)
        else:
            db = unit()
            if _direct_record.write(db, values) is None:
                db.connection().execute(_record, values)
        return Decision(
            AuthorizationRecord(partner, uid, token_type, result, reference, location_id, now),
            answered_token,
        )

    # ---- coherence with writes ----

    def _after_flush(self, session: Session, _context: Any) -> None:
        changed = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, TokenRow)]
        if changed:
            keys: set[tuple[str, str]] = session.info.setdefault(_TOUCHED, set())
            for row in changed:
                key = (token_key(row.uid), row.type)
                keys.add(key)
                self._index.pop(key, None)

    def _after_end(self, session: Session) -> None:
        for key in session.info.pop(_TOUCHED, ()):
            self._index.pop(key, None)

    def _on_orm_execute(self, state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and any(
            m.class_ is TokenRow for m in state.all_mappers
        ):  # a bulk statement: which rows changed is unknown
            self._index.clear()
            state.session.info.setdefault(_TOUCHED, set())


def _decision(
    verdict: fraud_rules.Verdict,
    uid: str,
    token_type: str,
    driver_id: str | None,
    partner: str,
    location_id: str | None,
    now: datetime,
) -> FraudDecisionRecord:
    """The record of a verdict: a refusal is about this request; a flag on an earlier
    authorization names that one (its token, partner, location and reference)."""
    about = verdict.about if verdict.decision == fraud_rules.FLAG else None
    if about is None:
        return FraudDecisionRecord(
            uid, token_type, driver_id, partner, location_id, None, now, verdict.rule, verdict.decision,
            verdict.detail,
        )  # fmt: skip
    return FraudDecisionRecord(
        about.token_uid or uid, token_type, driver_id, about.partner, about.location_id, about.reference,
        now, verdict.rule, verdict.decision, verdict.detail,
    )  # fmt: skip


def records(db: Session) -> list[AuthorizationRecord]:
    rows = db.scalars(select(AuthorizationRow).order_by(AuthorizationRow.pk))
    return [
        AuthorizationRecord(
            r.partner, r.token_uid, r.token_type, r.result, r.authorization_reference, r.location_id, r.at
        )
        for r in rows
    ]
