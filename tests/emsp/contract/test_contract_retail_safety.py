"""Retail billing never silently bills 0.00 and never takes a CDR's wholesale line down with it:
a CDR in another currency than the driver's contract is billed at the contract's price in the
contract's currency; prices beyond the bound are a 422 naming the field; and a contract whose
terms cannot be priced (an older database) holds the retail line, the wholesale line stays."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, cdr, location, tariff
from fastapi.testclient import TestClient
from sqlalchemy import select

from emsp.core import EmspCore
from emsp.storage.tables import BillingContractRow, InvoiceLineRow, OutboxRow
from emsp.wire import dumps, loads

EMAID = "NL-EMS-C00000001-X"
RETAIL = {"currency": "EUR", "price_per_kwh": "0.50", "session_fee": "0.25"}


def _setup(api: TestClient, **contract: Any) -> None:
    assert api.post("/api/v1/accounts", json={"account_id": "A1", "kind": "private"}).status_code == 201
    body = {"contract_ref": "K1", "account_id": "A1", "kind": "pay_as_you_go", "retail": RETAIL, **contract}
    assert api.post("/api/v1/contracts", json=body).status_code == 201
    driver = {"driver_id": "D1", "contract_ref": "K1", "emaid": EMAID}
    assert api.post("/api/v1/accounts/A1/drivers", json=driver).status_code == 201


def _send_cdr(cpo: Client, **changes: Any) -> None:
    assert cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff()).status in (200, 201)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location()).status in (200, 201)
    assert cpo.call("POST", f"{V}/cdrs", cdr("CDR1", **changes)).status in (200, 201)


def test_a_cdr_in_another_currency_is_billed_at_the_contract_price_in_its_currency(
    api: TestClient, cpo: Client
) -> None:
    _setup(api)
    _send_cdr(cpo, currency="DKK", total_cost={"excl_vat": Decimal("23.50"), "incl_vat": Decimal("29.38")})
    [line] = api.get("/api/v1/retail-lines", params={"cdr_id": "CDR1"}).json()["items"]
    # 10.5 kWh x 0.50 + 0.25 EUR, not 0.00 DKK
    assert (line["kind"], line["currency"], line["retail_excl_vat"]) == ("charge", "EUR", "5.50")
    assert line["detail"]["costs_unconverted"] == "DKK"  # no rate: the CPO's DKK cost is outside the margin
    assert [(c["kind"], c["currency"], c["amount_excl"]) for c in line["cost_lines"]] == [
        ("wholesale", "DKK", "23.50")
    ]
    [invoice] = api.get("/api/v1/accounts/A1/invoices").json()
    assert (invoice["currency"], invoice["total_excl_vat"]) == ("EUR", "5.50")


@pytest.mark.parametrize(
    ("contract", "loc"),
    [
        ({"retail": {**RETAIL, "price_per_kwh": "1e26"}}, ["body", "retail", "price_per_kwh"]),
        ({"retail": {**RETAIL, "session_fee": "1000000.01"}}, ["body", "retail", "session_fee"]),
        (
            {"kind": "subscription", "subscription": {"monthly_fee": "1e30"}},
            ["body", "subscription", "monthly_fee"],
        ),
    ],
)
def test_a_price_beyond_the_bound_is_a_422_naming_the_field(
    api: TestClient, contract: dict[str, Any], loc: list[str]
) -> None:
    assert api.post("/api/v1/accounts", json={"account_id": "A1", "kind": "private"}).status_code == 201
    body = {"contract_ref": "K1", "account_id": "A1", "kind": "pay_as_you_go", "retail": RETAIL, **contract}
    resp = api.post("/api/v1/contracts", json=body)
    assert resp.status_code == 422, resp.text
    assert [error["loc"] for error in resp.json()["detail"]] == [loc]
    at_bound = {**body, "retail": {**RETAIL, "price_per_kwh": "1000000"}}
    at_bound.pop("subscription", None)
    at_bound["kind"] = "pay_as_you_go"
    assert api.post("/api/v1/contracts", json=at_bound).status_code == 201


def test_a_contract_that_cannot_be_priced_holds_the_retail_line_not_the_wholesale_one(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    _setup(api)
    with api_core.db.unit() as db:  # as an older version accepted it: far beyond Decimal's 28 digits
        contract = db.get(BillingContractRow, "K1")
        assert contract is not None
        terms = loads(contract.terms_json)
        terms["retail"]["price_per_kwh"] = "1e26"
        contract.terms_json = dumps(terms)
    _send_cdr(cpo)
    with api_core.db.unit() as db:
        wholesale = db.scalars(select(InvoiceLineRow.cdr_id)).all()
        dead = db.scalars(select(OutboxRow.kind).where(OutboxRow.state == "dead")).all()
    assert wholesale == ["CDR1"] and dead == []
    assert api.get("/api/v1/retail-lines", params={"cdr_id": "CDR1"}).json()["items"] == []
