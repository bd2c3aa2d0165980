"""The core's token administration: issuing, blocking and pushing our tokens, and federated identity
(one driver, one token per partner: emsp.services.identity). A mixin of `EmspCore`, kept apart so
the core facade stays readable; it uses only the core's settings, database and outbox."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from emsp.bus import OWN, TokenChanged
from emsp.core_settings import EmspSettings
from emsp.ocpi import token_push
from emsp.outbox import Outbox
from emsp.services import identity
from emsp.services import tokens as token_service
from emsp.storage.db import Database
from emsp.storage.queries import find_token
from emsp.storage.tables import TokenRow

if TYPE_CHECKING:
    from emsp.ocpi.context import Services


class DriverTokens:
    settings: EmspSettings
    db: Database
    bus: Outbox

    if TYPE_CHECKING:  # EmspCore's (emsp/core.py)

        def outbound_on_commit(self) -> AbstractContextManager[None]: ...

    def issue_token(
        self,
        uid: str,
        *,
        contract_id: str,
        type: str = "RFID",
        valid: bool = True,
        now: datetime,
        whitelist: str = "ALLOWED",
        issuer: str | None = None,
        has_credit: bool = True,
        expires_at: datetime | None = None,
        allowed_locations: list[tuple[str, str, str]] | None = None,
        driver_id: str | None = None,
        partner: str | None = None,
        max_battery_kwh: Decimal | None = None,
        new: bool = False,
    ) -> None:
        """`new`: only a token not issued yet, else TokenExists (never an update of the existing
        one), also when another process issues the same uid (any case) and type meanwhile: its
        commit makes our INSERT break the unique index. `allowed_locations`: (country_code,
        party_id, location_id) where the token may charge (None: anywhere); a location id alone
        would match every CPO's location of that id. `driver_id`/`partner`: federated identity
        (emsp.services.identity); None keeps what the token has."""
        spec = token_service.TokenSpec(
            uid=uid,
            contract_id=contract_id,
            type=type,
            valid=valid,
            whitelist=whitelist,
            issuer=issuer if issuer is not None else self.settings.business_name,
            has_credit=has_credit,
            expires_at=expires_at,
            allowed_locations=allowed_locations,
            driver_id=driver_id,
            partner=partner,
            max_battery_kwh=max_battery_kwh,
        )
        change = self.db.counters.next("token_change")  # drawn before the unit writes (SQLite lock)
        try:
            with self.db.unit() as db:
                if new and find_token(db, uid, type) is not None:
                    raise token_service.TokenExists(uid, type)
                row = token_service.upsert_token(db, spec, now, new=new)
                event = _token_changed(row, change)
                self.bus.write(db, [event], now)
        except IntegrityError:
            # Rolled back. Another writer's token of that uid and type: ours was new, so it is the
            # same conflict as a sequential duplicate; any other broken constraint stays an error.
            if new and self._issued(uid, type):
                raise token_service.TokenExists(uid, type) from None
            raise
        self.bus.committed([event])

    def _issued(self, uid: str, token_type: str) -> bool:
        with self.db.unit() as db:
            return find_token(db, uid, token_type) is not None

    def block_token(self, uid: str, *, now: datetime, type: str = "RFID") -> bool:
        """The driver's token is no longer valid: later authorizations answer BLOCKED, the change is
        on the event stream like any other token change, and every partner with a Tokens receiver
        is told (mod_tokens: the eMSP owns its Tokens). False: no such token."""
        return self.set_token_valid(uid, type, False, now, if_changed=False) is not None

    def set_token_valid(
        self, uid: str, token_type: str, valid: bool, now: datetime, *, if_changed: bool = True
    ) -> list[str] | None:
        """Block or unblock one token; the partners told (None: no such token). `if_changed`: a token
        already so gets no new last_updated and no push ([]). One transaction holds the change, its
        event and its pushes (queued in it, dropped if it rolls back): never a push of a change that
        was not made, and never a change whose push was lost, which a retry would find done."""
        change = self.db.counters.next("token_change")  # drawn before the unit writes (SQLite lock)
        with self.outbound_on_commit(), self.db.unit() as db:
            row = find_token(db, uid, token_type)
            if row is None:
                return None
            if if_changed and row.valid == valid:
                return []
            event, pushed = self._change_valid(db, row, valid, now, change)
        self.bus.committed([event])
        return pushed

    def _change_valid(
        self, db: Session, row: TokenRow, valid: bool, now: datetime, change: int
    ) -> tuple[TokenChanged, list[str]]:
        """In the caller's unit: the token's new state, its event and its pushes (queued)."""
        row.valid = valid
        row.last_updated = now
        event = _token_changed(row, change)
        self.bus.write(db, [event], now)
        return event, token_push.push_token(cast("Services", self), db, row)

    # ---- federated identity: one driver, one token per partner (emsp.services.identity) ----

    def issue_credentials(
        self,
        driver_id: str,
        *,
        now: datetime,
        partners: Iterable[str] | None = None,
        max_battery_kwh: Decimal | None = None,
        push: bool = True,
    ) -> list[str]:
        """Give the driver a token for every configured partner (or those named) that has no valid
        one yet, pushed to that partner only; returns the uids issued. Raises KeyError for a
        partner that is not configured."""
        with self.db.unit() as db:
            known = identity.partner_ids(db)
            wanted = known if partners is None else list(dict.fromkeys(partners))
            missing = [p for p in wanted if p not in known]
            if missing:
                raise KeyError(f"no partner {', '.join(missing)} is configured")
            have = identity.current_tokens(db, driver_id)
            todo = [p for p in wanted if p not in have]
            contract = {
                p: identity.new_contract_id(self.settings.country_code, self.settings.party_id, driver_id, p)
                for p in todo
            }
            if max_battery_kwh is None and have:
                max_battery_kwh = next(iter(have.values())).max_battery_kwh
        issued = []
        for partner in todo:
            serial = self.db.counters.next("federated_uid")
            with self.db.unit() as db:
                uid = identity.new_uid(db, driver_id, partner, serial, "RFID")
            self.issue_token(
                uid, contract_id=contract[partner], now=now, driver_id=driver_id, partner=partner,
                max_battery_kwh=max_battery_kwh,
            )  # fmt: skip
            issued.append(uid)
        if push:
            for uid in issued:
                self.push_token(uid, "RFID")
        return issued

    def set_driver_valid(self, driver_id: str, valid: bool, *, now: datetime) -> list[str]:
        """Block (valid=False) or unblock every token of the driver that is not already so, each
        pushed to its partner; returns the uids changed. A replaced token stays blocked: unblocking
        touches only each partner's newest token."""
        with self.db.unit() as db:
            rows = identity.driver_tokens(db, driver_id)
            newest = {row.partner: row.pk for row in rows}
            targets = [r.pk for r in rows if r.valid != valid and (not valid or newest[r.partner] == r.pk)]
        changes = [self.db.counters.next("token_change") for _ in targets]  # before the unit (SQLite lock)
        # One transaction for every token, their events and their pushes: a failure midway leaves
        # the driver as it was (no token blocked, nothing pushed), so a retry redoes it all.
        events: list[TokenChanged] = []
        changed: list[str] = []
        with self.outbound_on_commit(), self.db.unit() as db:
            for pk, change in zip(targets, changes, strict=True):
                row = db.get(TokenRow, pk)
                if row is None or row.valid == valid:
                    continue  # changed by another writer since it was read: nothing left to do
                event, _ = self._change_valid(db, row, valid, now, change)
                events.append(event)
                changed.append(row.uid)
        self.bus.committed(events)
        return changed

    def replace_credentials(self, driver_id: str, *, now: datetime) -> list[str]:
        """A lost or cloned card: every current token of the driver is blocked and each partner
        gets a new uid under the same contract id (the contract does not change, the card does).
        One transaction holds the blocks, the new tokens, their events and pushes: a failure midway
        must not leave the driver with every card blocked and no new one, which a retry (it
        replaces only valid tokens) would then never issue."""
        with self.db.unit() as db:
            current = identity.current_tokens(db, driver_id)
            contracts = {p: row.contract_id for p, row in sorted(current.items())}
            battery = next(iter(current.values())).max_battery_kwh if current else None
            blocked = [row.pk for row in identity.driver_tokens(db, driver_id) if row.valid]
        # Drawn before the unit writes (SQLite lock); a rollback only leaves gaps in the counters.
        block_changes = [self.db.counters.next("token_change") for _ in blocked]
        serials = {p: self.db.counters.next("federated_uid") for p in contracts}
        issue_changes = {p: self.db.counters.next("token_change") for p in contracts}
        events: list[TokenChanged] = []
        issued: list[str] = []
        with self.outbound_on_commit(), self.db.unit() as db:
            for pk, change in zip(blocked, block_changes, strict=True):
                row = db.get(TokenRow, pk)
                if row is not None and row.valid:
                    events.append(self._change_valid(db, row, False, now, change)[0])
            for partner, contract_id in contracts.items():
                uid = identity.new_uid(db, driver_id, partner, serials[partner], "RFID")
                spec = token_service.TokenSpec(
                    uid=uid, contract_id=contract_id, issuer=self.settings.business_name,
                    driver_id=driver_id, partner=partner, max_battery_kwh=battery,
                )  # fmt: skip
                row = token_service.upsert_token(db, spec, now, new=True)
                event = _token_changed(row, issue_changes[partner])
                self.bus.write(db, [event], now)
                events.append(event)
                token_push.push_token(cast("Services", self), db, row)
                issued.append(uid)
        self.bus.committed(events)
        return issued

    def driver_tokens(self, driver_id: str) -> list[TokenRow]:
        with self.db.unit() as db:
            rows = identity.driver_tokens(db, driver_id)
            db.expunge_all()
            return rows

    def push_token(self, uid: str, token_type: str) -> list[str]:
        """Queue our Token's current state to every partner with a Tokens receiver (mod_tokens: the
        eMSP owns Tokens); the partners' ids. Call after the token's own commit. The contract layer
        comes through here, so no version package is imported above the adapters (principle 4)."""
        with self.db.unit() as db:
            row = find_token(db, uid, token_type)
            if row is None:
                raise KeyError(f"token {uid} of type {token_type}")
            return token_push.push_token(cast("Services", self), db, row)  # the core is the Services


def _token_changed(row: TokenRow, change: int) -> TokenChanged:
    return TokenChanged(
        OWN, row.uid, row.type, row.contract_id, row.valid, row.whitelist, row.last_updated, change
    )
