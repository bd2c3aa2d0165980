"""`/api/v1/sessions`: charging sessions as the CPOs reported them."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from emsp.contract.common import (
    DateRange,
    PageParams,
    any_case,
    date_range,
    filter_eq,
    filter_range,
    invalid,
    not_found,
    page_params,
    paginate,
    upper,
)
from emsp.contract.deps import Run
from emsp.contract.guard import NOT_FOUND
from emsp.contract.models import Money, Page, SessionOut, money, text
from emsp.core import EmspCore
from emsp.storage.queries import find_session
from emsp.storage.tables import SessionRow
from emsp.wire import loads

# OCPI SessionStatus (2.1.1 to 2.3.0): what a stored session can hold.
SESSION_STATUSES = ("ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION")


def session_out(row: SessionRow) -> SessionOut:
    return SessionOut(
        partner=row.partner,
        country_code=row.country_code,
        party_id=row.party_id,
        id=row.session_id,
        status=row.status,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        authorization_reference=row.authorization_reference,
        location_id=row.location_id,
        kwh=text(row.kwh),
        start=row.start,
        end=row.end,
        total_cost=_stated_cost(row.raw),
        last_updated=row.last_updated,
    )


def _stated_cost(raw: str) -> Money | None:
    """The Session's optional total_cost (mod_sessions: may be sent while charging)."""
    body: Any = loads(raw)
    cost = body.get("total_cost") if isinstance(body, dict) else None
    if not isinstance(cost, dict) or cost.get("excl_vat") is None:
        return None
    incl = cost.get("incl_vat")
    return money(
        Decimal(str(cost["excl_vat"])),
        None if incl is None else Decimal(str(incl)),
        str(body.get("currency")),
    )


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["sessions"])

    @router.get("/sessions", response_model=Page[SessionOut])
    async def list_sessions(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        span: Annotated[DateRange, Depends(date_range)],
        partner: str | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
        status: Annotated[str | None, Query(description=", ".join(SESSION_STATUSES))] = None,
        contract_id: str | None = None,
    ) -> Page[SessionOut]:
        """Sessions, oldest first; `date_from`/`date_to` filter on the session start."""
        if status is not None and status.upper() not in SESSION_STATUSES:
            # A filter no session can match is a mistake of the caller, not an empty answer.
            raise invalid(f"must be one of {', '.join(SESSION_STATUSES)}", loc=("query", "status"))

        def work() -> Page[SessionOut]:
            stmt = filter_eq(
                select(SessionRow),
                [
                    (SessionRow.partner, partner),
                    (SessionRow.country_code, upper(country_code)),
                    (SessionRow.party_id, upper(party_id)),
                    (SessionRow.status, upper(status)),
                    any_case(SessionRow.contract_id, contract_id),  # eMA ids: CiStrings
                ],
            )
            with core.db.unit() as db:
                return paginate(
                    db, filter_range(stmt, SessionRow.start, span), SessionRow.pk, page, session_out
                )

        return await run(work)

    @router.get(
        "/sessions/{country_code}/{party_id}/{session_id}", response_model=SessionOut, responses=NOT_FOUND
    )
    async def get_session(country_code: str, party_id: str, session_id: str, run: Run) -> SessionOut:
        def work() -> SessionOut:
            with core.db.unit() as db:
                row = find_session(db, country_code.upper(), party_id.upper(), session_id)
                if row is None:
                    raise not_found(f"session {country_code}/{party_id}/{session_id}")
                return session_out(row)

        return await run(work)

    return router
