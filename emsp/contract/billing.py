"""`/api/v1/accounts`, `/api/v1/contracts`, an account's drivers and vehicles, retail lines and
invoices (emsp.billing). Contract models here are separate from storage rows and from OCPI.

Drivers live under their account (`/accounts/{id}/drivers`): `/drivers/{contract_id}` is already
the token view of an eMA id. Invoices are computed from the retail lines on every read (never stored
apart), so they always add up to the lines listed with them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.billing.accounts import (
    BillingInputError,
    NewAccount,
    create_account,
    create_contract,
    create_driver,
    create_vehicle,
)
from emsp.billing.contracts import ContractKind, ContractTerms, FleetTerms, RetailTariff, SubscriptionTerms
from emsp.billing.invoices import Line, build_invoices, from_row
from emsp.contract.common import PageParams, any_case, filter_eq, invalid, not_found, page_params, paginate
from emsp.contract.deps import Run, now
from emsp.contract.guard import NOT_FOUND
from emsp.contract.models import Page
from emsp.core import EmspCore
from emsp.storage.tables import AccountRow, BillingContractRow, DriverRow, RetailLineRow, VehicleRow
from emsp.wire import loads

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,36}$")]
Now = Annotated[datetime, Depends(now)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class AccountIn(_In):
    account_id: Ident
    kind: Literal["private", "fleet"]
    name: Annotated[str, Field(max_length=128)] = ""
    time_zone: str = "UTC"  # billing periods are this zone's calendar months
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    country: Annotated[str, Field(pattern=r"^([A-Z]{2})?$")] = ""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class AccountOut(_Out):
    account_id: str
    kind: str
    name: str
    time_zone: str
    currency: str
    country: str
    created_at: datetime


class VehicleIn(_In):
    vehicle_id: Ident
    label: Annotated[str, Field(max_length=64)] = ""


class VehicleOut(_Out):
    vehicle_id: str
    account_id: str
    label: str


class ContractIn(_In):
    contract_ref: Ident
    account_id: Ident
    kind: ContractKind
    retail: RetailTariff
    subscription: SubscriptionTerms | None = None
    fleet: FleetTerms | None = None
    valid_from: datetime | None = None  # default: now


class ContractOut(_Out):
    contract_ref: str
    account_id: str
    kind: str
    currency: str
    terms: dict[str, Any]
    valid_from: datetime
    valid_until: datetime | None


class DriverIn(_In):
    driver_id: Ident
    contract_ref: Ident | None = None
    emaid: Annotated[str, Field(min_length=1, max_length=36)] | None = None  # OCPI contract_id
    vehicle_id: Ident | None = None
    name: Annotated[str, Field(max_length=128)] = ""


class DriverOut(_Out):
    driver_id: str
    account_id: str
    contract: ContractOut | None
    vehicle_id: str | None
    emaid: str | None
    name: str


class RetailLineOut(_Out):
    line_no: int
    kind: str  # charge | reversal | rebill | fee
    account_id: str
    driver_id: str | None
    vehicle_id: str | None
    contract_ref: str | None
    period: str
    partner: str
    channel: str
    party: str
    cdr_id: str
    session_id: str | None
    reverses_line: int | None  # reversal: the line it cancels
    replaces_cdr: str | None  # reversal: the credited CDR; rebill: the CDR it replaces
    jurisdiction: str
    currency: str
    energy_kwh: str
    wholesale_excl_vat: str
    wholesale_verified: bool
    cost_lines: list[dict[str, str]]
    retail_excl_vat: str
    vat_rate: str
    vat: str
    retail_incl_vat: str
    margin_excl_vat: str
    detail: dict[str, str]
    evidence: dict[str, Any]


class InvoiceOut(_Out):
    invoice_id: str
    account_id: str
    period: str
    currency: str
    total_excl_vat: str
    total_vat: str
    total_incl_vat: str
    lines: list[RetailLineOut]


def _account(row: AccountRow) -> AccountOut:
    return AccountOut(
        account_id=row.account_id,
        kind=row.kind,
        name=row.name,
        time_zone=row.time_zone,
        currency=row.currency,
        country=row.country,
        created_at=row.created_at,
    )


def _contract(row: BillingContractRow) -> ContractOut:
    return ContractOut(
        contract_ref=row.contract_ref,
        account_id=row.account_id,
        kind=row.kind,
        currency=row.currency,
        terms=loads(row.terms_json),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def _line(line: Line) -> RetailLineOut:
    return RetailLineOut(
        line_no=line.line_no,
        kind=line.kind,
        account_id=line.account_id,
        driver_id=line.driver_id,
        vehicle_id=line.vehicle_id,
        contract_ref=line.contract_ref,
        period=line.period,
        partner=line.partner,
        channel=line.channel,
        party=line.party,
        cdr_id=line.cdr_id,
        session_id=line.session_id,
        reverses_line=line.reverses_line,
        replaces_cdr=line.replaces_cdr,
        jurisdiction=line.jurisdiction,
        currency=line.currency,
        energy_kwh=f"{line.energy_kwh:f}",
        wholesale_excl_vat=f"{line.wholesale_excl:f}",
        wholesale_verified=line.wholesale_verified,
        cost_lines=line.cost_lines,
        retail_excl_vat=f"{line.retail_excl:f}",
        vat_rate=f"{line.vat_rate:f}",
        vat=f"{line.vat_amount:f}",
        retail_incl_vat=f"{line.retail_incl:f}",
        margin_excl_vat=f"{line.margin:f}",
        detail=line.detail,
        evidence=line.evidence,
    )


def _conflict(exc: BillingInputError) -> HTTPException:
    text = str(exc)
    if text.endswith("exists"):
        return HTTPException(status_code=409, detail=text)
    return invalid(text, loc=("body",))


def _known_account(db: Session, account_id: str) -> None:
    """An account's sub-resources answer 404 for an account nobody created (not an empty list)."""
    if db.get(AccountRow, account_id) is None:
        raise not_found(f"account {account_id}")


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["billing"])

    @router.post("/accounts", response_model=AccountOut, status_code=201)
    async def post_account(body: AccountIn, at: Now, run: Run) -> AccountOut:
        """A private or fleet account; 409 when the id is taken."""

        def work() -> AccountOut:
            spec = NewAccount(
                body.account_id, body.kind, body.name, body.time_zone, body.currency, body.country
            )
            try:
                with core.db.unit() as db:
                    return _account(create_account(db, spec, at))
            except BillingInputError as exc:
                raise _conflict(exc) from exc

        return await run(work)

    @router.get("/accounts", response_model=Page[AccountOut])
    async def list_accounts(run: Run, page: Annotated[PageParams, Depends(page_params)]) -> Page[AccountOut]:
        def work() -> Page[AccountOut]:
            with core.db.unit() as db:
                return paginate(db, select(AccountRow), AccountRow.account_id, page, _account)

        return await run(work)

    @router.get("/accounts/{account_id}", response_model=AccountOut, responses=NOT_FOUND)
    async def get_account(account_id: str, run: Run) -> AccountOut:
        def work() -> AccountOut:
            with core.db.unit() as db:
                row = db.get(AccountRow, account_id)
                if row is None:
                    raise not_found(f"account {account_id}")
                return _account(row)

        return await run(work)

    @router.post(
        "/accounts/{account_id}/vehicles", response_model=VehicleOut, status_code=201, responses=NOT_FOUND
    )
    async def post_vehicle(account_id: str, body: VehicleIn, run: Run) -> VehicleOut:
        def work() -> VehicleOut:
            try:
                with core.db.unit() as db:
                    _known_account(db, account_id)
                    row = create_vehicle(db, body.vehicle_id, account_id, body.label)
                    return VehicleOut(vehicle_id=row.vehicle_id, account_id=row.account_id, label=row.label)
            except BillingInputError as exc:
                raise _conflict(exc) from exc

        return await run(work)

    @router.get("/accounts/{account_id}/vehicles", response_model=list[VehicleOut], responses=NOT_FOUND)
    async def list_vehicles(account_id: str, run: Run) -> list[VehicleOut]:
        def work() -> list[VehicleOut]:
            stmt = (
                select(VehicleRow).where(VehicleRow.account_id == account_id).order_by(VehicleRow.vehicle_id)
            )
            with core.db.unit() as db:
                _known_account(db, account_id)
                return [
                    VehicleOut(vehicle_id=v.vehicle_id, account_id=v.account_id, label=v.label)
                    for v in db.scalars(stmt)
                ]

        return await run(work)

    @router.post("/contracts", response_model=ContractOut, status_code=201)
    async def post_contract(body: ContractIn, at: Now, run: Run) -> ContractOut:
        """A billing contract of an account: its kind, retail price list and terms."""
        try:
            terms = ContractTerms(
                kind=body.kind, retail=body.retail, subscription=body.subscription, fleet=body.fleet
            )
        except ValueError as exc:
            raise invalid(str(exc), loc=("body",)) from exc

        def work() -> ContractOut:
            try:
                with core.db.unit() as db:
                    return _contract(
                        create_contract(db, body.contract_ref, body.account_id, terms, body.valid_from or at)
                    )
            except BillingInputError as exc:
                raise _conflict(exc) from exc

        return await run(work)

    @router.get("/contracts", response_model=Page[ContractOut])
    async def list_contracts(
        run: Run, page: Annotated[PageParams, Depends(page_params)], account_id: str | None = None
    ) -> Page[ContractOut]:
        def work() -> Page[ContractOut]:
            stmt = select(BillingContractRow)
            if account_id is not None:
                stmt = stmt.where(BillingContractRow.account_id == account_id)
            with core.db.unit() as db:
                return paginate(db, stmt, BillingContractRow.contract_ref, page, _contract)

        return await run(work)

    @router.get("/contracts/{contract_ref}", response_model=ContractOut, responses=NOT_FOUND)
    async def get_contract(contract_ref: str, run: Run) -> ContractOut:
        def work() -> ContractOut:
            with core.db.unit() as db:
                row = db.get(BillingContractRow, contract_ref)
                if row is None:
                    raise not_found(f"contract {contract_ref}")
                return _contract(row)

        return await run(work)

    def _driver(db: Any, row: DriverRow) -> DriverOut:
        contract = None if row.contract_ref is None else db.get(BillingContractRow, row.contract_ref)
        return DriverOut(
            driver_id=row.driver_id,
            account_id=row.account_id,
            contract=None if contract is None else _contract(contract),
            vehicle_id=row.vehicle_id,
            emaid=row.emaid,
            name=row.name,
        )

    @router.post(
        "/accounts/{account_id}/drivers", response_model=DriverOut, status_code=201, responses=NOT_FOUND
    )
    async def post_driver(account_id: str, body: DriverIn, at: Now, run: Run) -> DriverOut:
        """A driver of the account, with their contract (one of the account's) and vehicle (fleet)."""

        def work() -> DriverOut:
            try:
                with core.db.unit() as db:
                    _known_account(db, account_id)
                    row = create_driver(
                        db, body.driver_id, account_id, contract_ref=body.contract_ref, emaid=body.emaid,
                        vehicle_id=body.vehicle_id, name=body.name, now=at,
                    )  # fmt: skip
                    return _driver(db, row)
            except BillingInputError as exc:
                raise _conflict(exc) from exc

        return await run(work)

    @router.get("/accounts/{account_id}/drivers", response_model=list[DriverOut], responses=NOT_FOUND)
    async def list_drivers(account_id: str, run: Run) -> list[DriverOut]:
        def work() -> list[DriverOut]:
            stmt = select(DriverRow).where(DriverRow.account_id == account_id).order_by(DriverRow.driver_id)
            with core.db.unit() as db:
                _known_account(db, account_id)
                return [_driver(db, r) for r in db.scalars(stmt)]

        return await run(work)

    @router.get("/accounts/{account_id}/drivers/{driver_id}", response_model=DriverOut, responses=NOT_FOUND)
    async def get_driver(account_id: str, driver_id: str, run: Run) -> DriverOut:
        def work() -> DriverOut:
            with core.db.unit() as db:
                row = db.get(DriverRow, driver_id)
                if row is None or row.account_id != account_id:
                    raise not_found(f"driver {driver_id} of account {account_id}")
                return _driver(db, row)

        return await run(work)

    @router.get("/retail-lines", response_model=Page[RetailLineOut])
    async def list_retail_lines(
        run: Run,
        page: Annotated[PageParams, Depends(page_params)],
        account_id: str | None = None,
        session_id: str | None = None,
        cdr_id: str | None = None,
    ) -> Page[RetailLineOut]:
        """Retail lines by line number: charges, reversals (credit CDRs), rebills, fees."""

        def work() -> Page[RetailLineOut]:
            stmt = filter_eq(
                select(RetailLineRow),
                [
                    (RetailLineRow.account_id, account_id),
                    any_case(RetailLineRow.session_id, session_id),  # OCPI ids: CiStrings
                    any_case(RetailLineRow.cdr_id, cdr_id),
                ],
            )
            with core.db.unit() as db:
                return paginate(db, stmt, RetailLineRow.line_no, page, lambda r: _line(from_row(r)))

        return await run(work)

    @router.get("/accounts/{account_id}/invoices", response_model=list[InvoiceOut], responses=NOT_FOUND)
    async def list_invoices(account_id: str, run: Run, period: str | None = None) -> list[InvoiceOut]:
        """The account's invoices per billing period (its local month) and currency, with their lines."""

        def work() -> list[InvoiceOut]:
            stmt = select(RetailLineRow).where(RetailLineRow.account_id == account_id)
            if period is not None:
                stmt = stmt.where(RetailLineRow.period == period)
            with core.db.unit() as db:
                if db.get(AccountRow, account_id) is None:
                    raise not_found(f"account {account_id}")
                lines = [from_row(r) for r in db.scalars(stmt.order_by(RetailLineRow.line_no))]
            return [
                InvoiceOut(
                    invoice_id=inv.invoice_id,
                    account_id=inv.account_id,
                    period=inv.period,
                    currency=inv.currency,
                    total_excl_vat=str(inv.total_excl),
                    total_vat=str(inv.total_vat),
                    total_incl_vat=str(inv.total_incl),
                    lines=[_line(x) for x in inv.lines],
                )
                for inv in build_invoices(lines)
            ]

        return await run(work)

    return router
