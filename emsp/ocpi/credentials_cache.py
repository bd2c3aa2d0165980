"""Credentials token -> authenticated partner, kept in memory so a request needs no SELECT to log in.

Authentication asks the database once per token; the answer is reused until any partner row
changes. Every flush that inserts, updates or deletes a `PartnerRow` empties the cache, and so does
the end (commit or rollback) of a transaction that did, so a token rotated, thrown away or
unregistered (register_partner, credentials POST/PUT/DELETE) is never accepted from the cache, and
nothing seen only inside a rolled-back transaction is remembered. Unknown tokens are not cached.

Other processes on the same PostgreSQL database: a transaction that changes a partner row also
sends a NOTIFY (delivered only if it commits), and a served process runs a `ChangeListener`
(emsp.storage.pg_notify) that calls `clear()`. A generation number makes sure a lookup that read
the database before such a clear never stores what it read after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from emsp.ocpi.tolerance import STRICT, Tolerance, tolerance_of_json
from emsp.storage.tables import PartnerRow
from emsp.storage.weak_events import listen_weakly
from emsp.wire import loads


@dataclass(frozen=True, slots=True)
class PartyScope:
    """The parties a partner may push objects for, decided by the operator's configuration.

    `own`: configured parties the partner also declared in its credentials roles (a party the
    operator removed, or the partner no longer declares, is out). A hub (configured as one) may also
    forward objects of any party that is not configured for another partner and is not the eMSP's
    own (`others` holds both: nobody may store objects "of the eMSP" through a hub). `cpo`: those of `own`
    configured with the CPO role. `hubs`: of a hub, its parties configured with the HUB role, the
    hub's own (a Broadcast Push names it as sender). `version`: the OCPI version the partner registered on
    (None before). `behind`: of a hub, every party its configuration lists, declared in its credentials
    or not (a hub declares its own party; those behind it the operator lists, emsp.ocpi.channels):
    with those its HubClientInfo reports, the parties it may name as sender (router._check_sender).
    """

    own: frozenset[tuple[str, str]]
    hub: bool = False
    others: frozenset[tuple[str, str]] = frozenset()
    cpo: frozenset[tuple[str, str]] = frozenset()
    version: str | None = None
    tolerate: Tolerance = STRICT  # the operator's tolerance options for this partner
    hubs: frozenset[tuple[str, str]] = frozenset()
    behind: frozenset[tuple[str, str]] = frozenset()

    def single_cpo(self) -> tuple[str, str] | None:
        """The partner's CPO party when it has exactly one (then a request can only be about it)."""
        return next(iter(self.cpo)) if len(self.cpo) == 1 else None

    def acts_as_cpo(self, country_code: str, party_id: str) -> bool:
        """The party may use a CPO's modules: one of ours configured as CPO, or a party a hub
        forwards for (its role is the hub's to know; its ownership is `allows`')."""
        party = (country_code.upper(), party_id.upper())
        return party in self.cpo or party not in self.own

    def allows(self, country_code: str, party_id: str) -> bool:
        party = (country_code.upper(), party_id.upper())
        return party in self.own or (self.hub and party not in self.others)


Parties = PartyScope


def party_scope(row: PartnerRow, db: Session, ours: tuple[str, str]) -> PartyScope:
    """The parties `row` may act for now (what authentication gives a request of that partner);
    `ours`: the eMSP's own country_code and party_id."""
    return _scope(row, db, ours)


def _scope(row: PartnerRow, db: Session, ours: tuple[str, str]) -> PartyScope:
    entries = loads(row.parties_json or "[]")
    configured = {(cc, pid) for cc, pid, _role in entries}
    declared = {
        (str(r.get("country_code", "")).upper(), str(r.get("party_id", "")).upper())
        for r in loads(row.roles_json or "[]")
    }
    others: set[tuple[str, str]] = set()
    if row.hub:
        others.add((ours[0].upper(), ours[1].upper()))
        for parties_json in db.scalars(
            select(PartnerRow.parties_json).where(PartnerRow.partner_id != row.partner_id)
        ):
            others |= {(cc, pid) for cc, pid, _role in loads(parties_json or "[]")}
    own = frozenset(configured & declared)
    cpo = frozenset((cc, pid) for cc, pid, role in entries if role == "CPO" and (cc, pid) in own)
    # Not only declared ones: a 2.3.0 hub names its party in hub_party_id, not in its roles.
    hubs = frozenset((cc, pid) for cc, pid, role in entries if role == "HUB") if row.hub else frozenset()
    behind = frozenset(configured) if row.hub else frozenset()
    version = row.version if row.registered else None
    tolerate = tolerance_of_json(row.tolerate_json)
    return PartyScope(own, row.hub, frozenset(others), cpo, version, tolerate, hubs, behind)


_TOUCHED = "emsp.partners_touched"


class CredentialsCache:
    def __init__(self, factory: sessionmaker[Session], ours: tuple[str, str]) -> None:
        self._ours = ours  # the eMSP's own party: never one a hub may act for
        # token -> (partner_id, "A" | "B" | "C", parties); "B": the partner's own token B, which
        # authenticates only where its tolerance says so (emsp.ocpi.router)
        self._known: dict[str, tuple[str, str, Parties]] = {}
        self._generation = 0  # moved on by every clear(), from any thread
        listen_weakly(factory, "after_flush", self._after_flush)
        listen_weakly(factory, "after_commit", self._after_end)
        listen_weakly(factory, "after_rollback", self._after_end)

    def cached(self, token: str) -> tuple[str, str, Parties] | None:
        """What `lookup` would answer from memory alone (None: ask `lookup`, which may read)."""
        return self._known.get(token)

    def lookup(self, db: Session, token: str) -> tuple[str, str, Parties] | None:
        """(partner_id, kind, parties) of the partner `token` authenticates, or None if it is unknown."""
        known = self._known.get(token)
        if known is not None:
            return known
        generation = self._generation
        rows = db.scalars(
            select(PartnerRow)
            .where(
                or_(
                    PartnerRow.token_c == token,
                    PartnerRow.token_a == token,
                    PartnerRow.token_pending == token,
                    PartnerRow.token_b == token,
                )
            )
            .order_by(PartnerRow.partner_id)
        ).all()
        found = next(
            (
                (r.partner_id, "C", _scope(r, db, self._ours))
                for r in rows
                if r.registered and r.token_c == token
            ),
            None,
        )
        if found is None:  # token A, or the token we offered in a registration we started
            found = next(
                (
                    (r.partner_id, "A", _scope(r, db, self._ours))
                    for r in rows
                    if token in (r.token_a, r.token_pending)
                ),
                None,
            )
        if found is None:  # the partner's own token B (it calls with the token it gave us)
            found = next(
                (
                    (r.partner_id, "B", _scope(r, db, self._ours))
                    for r in rows
                    if r.registered and r.token_b == token
                ),
                None,
            )
        if found is not None and not db.info.get(_TOUCHED) and generation == self._generation:
            self._known[token] = found  # never from a transaction that changed partners
        return found

    def clear(self) -> None:
        self._generation += 1
        self._known.clear()

    def _after_flush(self, session: Session, _context: Any) -> None:
        if any(isinstance(o, PartnerRow) for o in (*session.new, *session.dirty, *session.deleted)):
            session.info[_TOUCHED] = True
            self.clear()

    def _after_end(self, session: Session) -> None:
        if session.info.pop(_TOUCHED, False):
            self.clear()
