"""`/api/v1/invoice-lines`: one pay-as-you-go line per distinct CDR, with our own re-price."""

from __future__ import annotations

from typing import Annotated

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
from emsp.contract.models import InvoiceLineOut, Money, Page, dec, money, text
from emsp.core import EmspCore
from emsp.storage.queries import find_invoice_line
from emsp.storage.tables import InvoiceLineRow


def line_out(row: InvoiceLineRow) -> InvoiceLineOut:
    return InvoiceLineOut(
        line_no=row.line_no,
        partner=row.partner,
        country_code=row.country_code,
        party_id=row.party_id,
        cdr_id=row.cdr_id,
        session_id=row.session_id,
        token_uid=row.token_uid,
        contract_id=row.contract_id,
        energy_kwh=text(row.energy_kwh),
        amount=money(row.amount_excl_vat, row.amount_incl_vat, row.currency),
        cpo_amount=Money(
            excl_vat=text(row.cpo_excl_vat), incl_vat=dec(row.cpo_incl_vat), currency=row.currency
        ),
        delta_excl_vat=dec(row.delta_excl_vat),
        tariff_id=row.tariff_id,
        note=row.note,
        at=row.at,
    )


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["invoices"])

    @router.get("/invoice-lines", response_model=Page[InvoiceLineOut])
    async def list_invoice_lines(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        span: Annotated[DateRange, Depends(date_range)],
        partner: str | None = None,
        country_code: str | None = None,
        party_id: str | None = None,
        contract_id: str | None = None,
    ) -> Page[InvoiceLineOut]:
        """Invoice lines by line number; `date_from`/`date_to` filter on when the line was written."""

        def work() -> Page[InvoiceLineOut]:
            stmt = filter_eq(
                select(InvoiceLineRow),
                [
                    (InvoiceLineRow.partner, partner),
                    (InvoiceLineRow.country_code, upper(country_code)),
                    (InvoiceLineRow.party_id, upper(party_id)),
                    any_case(InvoiceLineRow.contract_id, contract_id),  # eMA ids: CiStrings
                ],
            )
            stmt = filter_range(stmt, InvoiceLineRow.at, span)
            with core.db.unit() as db:
                return paginate(db, stmt, InvoiceLineRow.line_no, page, line_out)

        return await run(work)

    @router.get(
        "/invoice-lines/{country_code}/{party_id}/{cdr_id}",
        response_model=InvoiceLineOut,
        responses=NOT_FOUND,
    )
    async def get_invoice_line(country_code: str, party_id: str, cdr_id: str, run: Run) -> InvoiceLineOut:
        """The line of one CDR, keyed like the CDR (ids are unique per party only)."""

        def work() -> InvoiceLineOut:
            with core.db.unit() as db:
                row = find_invoice_line(db, country_code.upper(), party_id.upper(), cdr_id)
                if row is None:
                    raise not_found(f"invoice line for CDR {country_code}/{party_id}/{cdr_id}")
                return line_out(row)

        return await run(work)

    return router
