"""Accounts, vehicles, billing contracts and drivers: create and read (the contract API and the
bench's world builder both come through here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.billing.contracts import ContractTerms
from emsp.storage.tables import (
    AccountRow,
    BillingContractRow,
    DriverRow,
    RetailLineRow,
    VehicleRow,
)
from emsp.wire import dumps


class BillingInputError(ValueError):
    """A reference to something that does not exist, or a duplicate id."""


@dataclass(frozen=True, slots=True)
class NewAccount:
    account_id: str
    kind: str  # private | fleet
    name: str = ""
    time_zone: str = "UTC"
    currency: str = "EUR"
    country: str = ""


def create_account(db: Session, spec: NewAccount, now: datetime) -> AccountRow:
    if db.get(AccountRow, spec.account_id) is not None:
        raise BillingInputError(f"account {spec.account_id} exists")
    row = AccountRow(
        account_id=spec.account_id,
        kind=spec.kind,
        name=spec.name,
        time_zone=spec.time_zone,
        currency=spec.currency,
        country=spec.country,
        created_at=now,
    )
    db.add(row)
    db.flush()
    return row


def create_vehicle(db: Session, vehicle_id: str, account_id: str, label: str = "") -> VehicleRow:
    if db.get(AccountRow, account_id) is None:
        raise BillingInputError(f"account {account_id} does not exist")
    if db.get(VehicleRow, vehicle_id) is not None:
        raise BillingInputError(f"vehicle {vehicle_id} exists")
    row = VehicleRow(vehicle_id=vehicle_id, account_id=account_id, label=label)
    db.add(row)
    db.flush()
    return row


def create_contract(
    db: Session,
    contract_ref: str,
    account_id: str,
    terms: ContractTerms,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> BillingContractRow:
    account = db.get(AccountRow, account_id)
    if account is None:
        raise BillingInputError(f"account {account_id} does not exist")
    if db.get(BillingContractRow, contract_ref) is not None:
        raise BillingInputError(f"contract {contract_ref} exists")
    if terms.kind == "fleet" and account.kind != "fleet":
        raise BillingInputError("a fleet contract belongs to a fleet account")
    row = BillingContractRow(
        contract_ref=contract_ref,
        account_id=account_id,
        kind=terms.kind,
        currency=terms.retail.currency,
        terms_json=dumps(terms.model_dump(mode="json")),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    db.add(row)
    db.flush()
    return row


def create_driver(
    db: Session,
    driver_id: str,
    account_id: str,
    *,
    contract_ref: str | None,
    emaid: str | None,
    vehicle_id: str | None = None,
    name: str = "",
    now: datetime,
) -> DriverRow:
    if db.get(AccountRow, account_id) is None:
        raise BillingInputError(f"account {account_id} does not exist")
    if db.get(DriverRow, driver_id) is not None:
        raise BillingInputError(f"driver {driver_id} exists")
    if contract_ref is not None:
        contract = db.get(BillingContractRow, contract_ref)
        if contract is None or contract.account_id != account_id:
            raise BillingInputError(f"contract {contract_ref} is not a contract of account {account_id}")
    if vehicle_id is not None:
        vehicle = db.get(VehicleRow, vehicle_id)
        if vehicle is None or vehicle.account_id != account_id:
            raise BillingInputError(f"vehicle {vehicle_id} is not a vehicle of account {account_id}")
    row = DriverRow(
        driver_id=driver_id,
        account_id=account_id,
        contract_ref=contract_ref,
        vehicle_id=vehicle_id,
        emaid=emaid,
        name=name,
        created_at=now,
    )
    db.add(row)
    db.flush()
    return row


def all_of(db: Session, table: Any, order: Any) -> list[Any]:
    return list(db.scalars(select(table).order_by(order)))


def retail_rows(db: Session) -> list[RetailLineRow]:
    return list(db.scalars(select(RetailLineRow).order_by(RetailLineRow.line_no)))
