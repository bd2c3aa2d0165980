"""`/api/v1/tokens` and `/api/v1/drivers`: issue, read, list, block and unblock our Tokens.

The eMSP owns its Tokens (mod_tokens): every change is pushed to the CPOs that offer a Tokens
Receiver endpoint (see `emsp.ocpi.token_push`) and is served by our Sender interface.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.contract.common import PageParams, any_case, filter_eq, invalid, not_found, page_params, paginate
from emsp.contract.deps import Run, now
from emsp.contract.guard import CONFLICT, NOT_FOUND
from emsp.contract.models import (
    DriverOut,
    Page,
    TokenIssue,
    TokenLocationOut,
    TokenOut,
    TokenType,
    Whitelist,
)
from emsp.core import EmspCore
from emsp.services import identity
from emsp.services.tokens import TokenExists, parse_allowed_locations
from emsp.storage.queries import find_token
from emsp.storage.tables import DriverRow, TokenRow, same_id

Now = Annotated[datetime, Depends(now)]
TypeQuery = Annotated[TokenType, Query(description="Token type (default RFID, as in OCPI).")]


def token_out(row: TokenRow, pushed_to: list[str] | None = None) -> TokenOut:
    # A restriction stored by an older version as bare location ids reads as restricted to none of
    # them (fail closed, see parse_allowed_locations): shown as it is enforced.
    keys = parse_allowed_locations(row.allowed_locations_json)
    allowed = (
        None
        if keys is None
        else [TokenLocationOut(country_code=cc, party_id=pid, location_id=loc) for cc, pid, loc in keys]
    )
    return TokenOut(
        uid=row.uid,
        type=row.type,
        contract_id=row.contract_id,
        issuer=row.issuer,
        whitelist=row.whitelist,
        valid=row.valid,
        has_credit=row.has_credit,
        expires_at=row.expires_at,
        allowed_locations=allowed,
        last_updated=row.last_updated,
        pushed_to=pushed_to or [],
        driver_id=row.driver_id,
        partner=row.partner,
    )


def driver_out(driver_id: str, rows: list[TokenRow], account_id: str | None = None) -> DriverOut:
    """A federated driver: every token, and per partner the newest valid one (or the newest)."""
    partners: dict[str, TokenOut] = {}
    for row in sorted(rows, key=lambda r: (r.valid, r.pk)):  # valid and newer ones win
        if row.partner is not None:
            partners[row.partner] = token_out(row)
    return DriverOut(
        contract_id=None,
        driver_id=driver_id,
        account_id=account_id,
        tokens=[token_out(r) for r in rows],
        partners=dict(sorted(partners.items())),
    )


def _check_enforceable(spec: TokenIssue) -> None:
    # Only real-time authorization can enforce a location restriction; with ALWAYS the CPO never
    # asks (mod_tokens WhitelistType), so the restriction would silently not apply.
    if spec.allowed_locations is not None and spec.whitelist == Whitelist.ALWAYS:
        raise invalid(
            "allowed_locations needs real-time authorization: whitelist ALWAYS lets the CPO accept "
            "the token anywhere without asking (use NEVER to always be asked)",
            loc=("body", "allowed_locations"),
        )


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["tokens"])

    def _load(db: Session, uid: str, token_type: TokenType) -> TokenRow:
        row = find_token(db, uid, token_type.value)
        if row is None:
            raise not_found(f"token {uid} of type {token_type.value}")
        return row

    def _push(uid: str, token_type: str) -> list[str]:
        # After the token's own commit, so a push is never queued for a change that rolled back.
        return core.push_token(uid, token_type)

    def _issue(spec: TokenIssue, at: datetime) -> TokenOut:
        try:
            _create(spec, at)
        except TokenExists as exists:  # checked in the creating transaction: a race answers the same
            raise HTTPException(409, str(exists)) from None
        pushed = _push(spec.uid, spec.type.value)
        with core.db.unit() as db:
            return token_out(_load(db, spec.uid, spec.type), pushed)

    def _create(spec: TokenIssue, at: datetime) -> None:
        core.issue_token(  # the core's one write path for tokens (its caches and events hang off it)
            spec.uid,
            new=True,
            contract_id=spec.contract_id,
            type=spec.type.value,
            valid=spec.valid,
            now=at,
            whitelist=spec.whitelist.value,
            issuer=spec.issuer,
            has_credit=spec.has_credit,
            expires_at=spec.expires_at,
            allowed_locations=None
            if spec.allowed_locations is None
            else [(loc.country_code, loc.party_id, loc.location_id) for loc in spec.allowed_locations],
        )

    @router.post("/tokens", status_code=201, response_model=TokenOut, responses=CONFLICT)
    async def issue_token(spec: TokenIssue, at: Now, run: Run) -> TokenOut:
        """Issue a token for a driver's contract; 409 when (uid, type) is already issued."""
        _check_enforceable(spec)
        return await run(lambda: _issue(spec, at))

    @router.get("/tokens", response_model=Page[TokenOut])
    async def list_tokens(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        contract_id: str | None = None,
        type: TokenType | None = None,
        valid: bool | None = None,
        whitelist: Whitelist | None = None,
    ) -> Page[TokenOut]:
        """Tokens in the order they were issued."""
        stmt = filter_eq(
            select(TokenRow),
            [
                any_case(TokenRow.contract_id, contract_id),  # eMA ids: CiStrings
                (TokenRow.type, None if type is None else type.value),
                (TokenRow.valid, valid),
                (TokenRow.whitelist, None if whitelist is None else whitelist.value),
            ],
        )

        def work() -> Page[TokenOut]:
            with core.db.unit() as db:
                return paginate(db, stmt, TokenRow.pk, page, token_out)

        return await run(work)

    @router.get("/tokens/{uid}", response_model=TokenOut, responses=NOT_FOUND)
    async def get_token(uid: str, run: Run, type: TypeQuery = TokenType.RFID) -> TokenOut:
        def work() -> TokenOut:
            with core.db.unit() as db:
                return token_out(_load(db, uid, type))

        return await run(work)

    def _set_valid(uid: str, token_type: TokenType, valid: bool, at: datetime) -> TokenOut:
        # One transaction in the core: a failure leaves the token as it was, so a retry redoes it all.
        pushed = core.set_token_valid(uid, token_type.value, valid, at)
        with core.db.unit() as db:
            return token_out(_load(db, uid, token_type), pushed)

    @router.post("/tokens/{uid}/block", response_model=TokenOut, responses=NOT_FOUND)
    async def block_token(uid: str, at: Now, run: Run, type: TypeQuery = TokenType.RFID) -> TokenOut:
        """valid=false: real-time authorization answers BLOCKED; the CPOs are told by a push."""
        return await run(lambda: _set_valid(uid, type, False, at))

    @router.post("/tokens/{uid}/unblock", response_model=TokenOut, responses=NOT_FOUND)
    async def unblock_token(uid: str, at: Now, run: Run, type: TypeQuery = TokenType.RFID) -> TokenOut:
        return await run(lambda: _set_valid(uid, type, True, at))

    @router.get("/drivers/{contract_id}", response_model=DriverOut, responses=NOT_FOUND)
    async def get_driver(contract_id: str, run: Run) -> DriverOut:
        """A driver by canonical driver id (federated identity: their token per partner), else by
        contract id (the contract and every token issued for it)."""

        def work() -> DriverOut | None:
            with core.db.unit() as db:
                federated = identity.driver_tokens(db, contract_id)
                canonical = db.get(DriverRow, contract_id)
                if federated or canonical is not None:
                    account = canonical.account_id if canonical is not None else None
                    return driver_out(contract_id, federated, account)
                issued = same_id(TokenRow.contract_id) == same_id(contract_id)  # a CiString
                stmt = select(TokenRow).where(issued).order_by(TokenRow.pk)
                tokens = [token_out(r) for r in db.scalars(stmt)]
                return DriverOut(contract_id=contract_id, tokens=tokens) if tokens else None

        driver = await run(work)
        if driver is None:
            raise not_found(f"driver {contract_id}")
        return driver

    return router
