"""`/api/v1/cdrs`: charge detail records as received from the CPOs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from emsp.contract.common import (
    DateRange,
    PageParams,
    any_case,
    date_range,
    filter_eq,
    filter_range,
    not_found,
    page_params,
    paginate,
    upper,
)
from emsp.contract.deps import Run
from emsp.contract.guard import NOT_FOUND
from emsp.contract.models import CdrOut, Money, Page, dec, text
from emsp.core import EmspCore
from emsp.services.provenance import cdr_provenance
from emsp.storage.queries import find_cdr
from emsp.storage.tables import CdrRow


def cdr_out(row: CdrRow) -> CdrOut:
    return CdrOut(
        partner=row.partner,
        country_code=row.country_code,
        party_id=row.party_id,
        id=row.cdr_id,
        session_id=row.session_id,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        authorization_reference=row.authorization_reference,
        location_id=row.location_id,
        total_energy_kwh=text(row.total_energy),
        total_cost=Money(
            excl_vat=text(row.total_cost_excl),
            incl_vat=dec(row.total_cost_incl),
            currency=row.currency,
        ),
        start=row.start,
        end=row.end,
        received_at=row.received_at,
        credit=row.credit,
    )


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["cdrs"])

    @router.get("/cdrs", response_model=Page[CdrOut])
    async def list_cdrs(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        span: Annotated[DateRange, Depends(date_range)],
        partner: str | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
        contract_id: str | None = None,
        session_id: str | None = None,
    ) -> Page[CdrOut]:
        """CDRs in the order received; `date_from`/`date_to` filter on the session start."""

        def work() -> Page[CdrOut]:
            stmt = filter_eq(
                select(CdrRow),
                [
                    (CdrRow.partner, partner),
                    (CdrRow.country_code, upper(country_code)),
                    (CdrRow.party_id, upper(party_id)),
                    any_case(CdrRow.contract_id, contract_id),
                    any_case(CdrRow.session_id, session_id),  # as each CDR spells it
                ],
            )
            with core.db.unit() as db:
                return paginate(db, filter_range(stmt, CdrRow.start, span), CdrRow.pk, page, cdr_out)

        return await run(work)

    @router.get("/cdrs/{country_code}/{party_id}/{cdr_id}", response_model=CdrOut, responses=NOT_FOUND)
    async def get_cdr(country_code: str, party_id: str, cdr_id: str, run: Run) -> CdrOut:
        def work() -> CdrOut:
            with core.db.unit() as db:
                row = find_cdr(db, country_code.upper(), party_id.upper(), cdr_id)
                if row is None:
                    raise not_found(f"CDR {country_code}/{party_id}/{cdr_id}")
                return cdr_out(row)

        return await run(work)

    @router.get("/cdrs/{country_code}/{party_id}/{cdr_id}/provenance", responses=NOT_FOUND)
    async def get_cdr_provenance(country_code: str, party_id: str, cdr_id: str, run: Run) -> dict[str, Any]:
        """For audit: the OCPI version the CDR came under, its schema-validation outcome (valid,
        tolerated with notes, or unknown for CDRs stored before this was recorded), the tariff
        versions in effect at session start, session end and receipt, its idempotency key and
        the invoice lines it produced."""

        def work() -> dict[str, Any]:
            with core.db.unit() as db:
                row = find_cdr(db, country_code.upper(), party_id.upper(), cdr_id)
                if row is None:
                    raise not_found(f"CDR {country_code}/{party_id}/{cdr_id}")
                return cdr_provenance(db, row)

        return await run(work)

    return router
