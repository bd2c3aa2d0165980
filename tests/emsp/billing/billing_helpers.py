"""Build billing drivers and settle canonical CDRs straight into a database (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from emsp.billing.accounts import NewAccount, create_account, create_contract, create_driver, create_vehicle
from emsp.billing.contracts import ContractTerms, FleetTerms, RetailTariff, SubscriptionTerms
from emsp.billing.ledger import bill_cdr
from emsp.settlement.invoice import Priced, write_line
from emsp.storage.tables import CdrRow, RetailLineRow
from emsp.wire import dumps

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
RETAIL = RetailTariff(price_per_kwh=Decimal("0.50"), session_fee=Decimal("0.25"))
TERMS = {
    "pay_as_you_go": ContractTerms(kind="pay_as_you_go", retail=RETAIL),
    "subscription": ContractTerms(
        kind="subscription",
        retail=RETAIL,
        subscription=SubscriptionTerms(
            monthly_fee=Decimal("9.99"), included_kwh=Decimal("20"), overage_per_kwh=Decimal("0.40")
        ),
    ),
    "fleet": ContractTerms(
        kind="fleet", retail=RETAIL, fleet=FleetTerms(cap_per_vehicle_period=Decimal("12"))
    ),
}


def make_driver(db: Session, n: int, kind: str) -> str:
    """Driver D<n> with account A<n> under a `kind` contract; returns the eMA id their CDRs carry."""
    fleet = kind == "fleet"
    create_account(db, NewAccount(f"A{n}", "fleet" if fleet else "private", country="NL"), T0)
    create_contract(db, f"K{n}", f"A{n}", TERMS[kind], T0)
    vehicle = None
    if fleet:
        vehicle = f"V{n}"
        create_vehicle(db, vehicle, f"A{n}", label=f"XX-{n}")
    emaid = f"NL-EMS-C{n:08d}"
    create_driver(db, f"D{n}", f"A{n}", contract_ref=f"K{n}", emaid=emaid, vehicle_id=vehicle, now=T0)
    return emaid


def cdr_doc(
    cdr_id: str, session_id: str, emaid: str, kwh: Decimal, *, country: str = "NLD", start: datetime = T0,
    credit_ref: str | None = None, cost: Decimal | None = None,
) -> dict[str, Any]:  # fmt: skip
    end = start + timedelta(hours=1)
    doc: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "CPA",
        "id": cdr_id,
        "session_id": session_id,
        "start_date_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date_time": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "currency": "EUR",
        "cdr_token": {"uid": "U", "type": "RFID", "contract_id": emaid},
        "cdr_location": {"id": "L1", "country": country, "evse_id": "NL*CPA*E1", "address": "Straat 1"},
        "charging_periods": [
            {
                "start_date_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "dimensions": [{"type": "ENERGY", "volume": kwh}],
            }
        ],
        "total_energy": kwh,
        "total_cost": {"excl_vat": cost if cost is not None else kwh * Decimal("0.35")},
    }
    if credit_ref is not None:
        doc["credit"] = True
        doc["credit_reference_id"] = credit_ref
        doc["total_cost"] = {"excl_vat": -doc["total_cost"]["excl_vat"]}
    return doc


def settle(
    db: Session, doc: dict[str, Any], at: datetime = T0, *, partner: str = "CPA"
) -> list[RetailLineRow]:
    """Store the CDR, write its wholesale line (as if re-priced to the CPO's cost), bill it;
    `partner`: who brought it (a hub's partner id: the session came through that hub)."""
    credit = bool(doc.get("credit"))
    cost = Decimal(doc["total_cost"]["excl_vat"])
    row = CdrRow(
        partner=partner,
        country_code=doc["country_code"],
        party_id=doc["party_id"],
        cdr_id=doc["id"],
        session_id=doc.get("session_id"),
        token_uid="U",
        contract_id=doc["cdr_token"]["contract_id"],
        authorization_reference=None,
        location_id="L1",
        currency="EUR",
        total_energy=Decimal(doc["total_energy"]),
        total_cost_excl=cost,
        total_cost_incl=None,
        start=datetime.fromisoformat(doc["start_date_time"]),
        end=datetime.fromisoformat(doc["end_date_time"]),
        received_at=at,
        credit=credit,
        raw=dumps(doc),
    )
    db.add(row)
    db.flush()
    line = write_line(db, row, Priced(cost, None, "T", ""), at)
    return bill_cdr(db, row, line, at)
