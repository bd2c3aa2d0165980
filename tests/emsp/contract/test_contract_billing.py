"""Accounts, contracts, drivers, retail lines and invoices through `/api/v1`; CDRs through OCPI.

The acceptance of credit and rebill: a credit CDR and its replacement leave the driver billed once,
and both steps are visible as lines referencing the original and the replacement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emsp_helpers import Client, V, cdr, location, tariff
from fastapi.testclient import TestClient

from emsp.core import EmspCore

EMAID = "NL-EMS-C00000001-X"
RETAIL = {"currency": "EUR", "price_per_kwh": "0.50", "session_fee": "0.25"}


def _post(api: TestClient, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    resp = api.post(f"/api/v1{path}", json=body)
    assert resp.status_code == status, resp.text
    return dict(resp.json())


def _setup(api: TestClient) -> None:
    _post(
        api,
        "/accounts",
        {"account_id": "A1", "kind": "private", "time_zone": "Europe/Berlin", "country": "NL"},
    )
    _post(
        api,
        "/contracts",
        {"contract_ref": "K1", "account_id": "A1", "kind": "pay_as_you_go", "retail": RETAIL},
    )
    _post(api, "/accounts/A1/drivers", {"driver_id": "D1", "contract_ref": "K1", "emaid": EMAID})


def test_accounts_contracts_drivers_list_get_create(api: TestClient) -> None:
    _setup(api)
    assert api.get("/api/v1/accounts").json()["total"] == 1
    assert api.get("/api/v1/accounts/A1").json()["time_zone"] == "Europe/Berlin"
    assert api.get("/api/v1/contracts/K1").json()["terms"]["retail"]["price_per_kwh"] == "0.50"
    driver = api.get("/api/v1/accounts/A1/drivers/D1").json()
    assert driver["contract"]["kind"] == "pay_as_you_go" and driver["emaid"] == EMAID
    assert [d["driver_id"] for d in api.get("/api/v1/accounts/A1/drivers").json()] == ["D1"]
    assert api.get("/api/v1/contracts", params={"account_id": "A1"}).json()["total"] == 1
    _post(api, "/accounts", {"account_id": "F1", "kind": "fleet"})
    _post(api, "/accounts/F1/vehicles", {"vehicle_id": "V1", "label": "B-XY-1"})
    fleet = {"currency": "EUR", "price_per_kwh": "0.40"}
    _post(api, "/contracts", {"contract_ref": "K2", "account_id": "F1", "kind": "fleet", "retail": fleet,
                               "fleet": {"cap_per_vehicle_period": "100"}})  # fmt: skip
    _post(api, "/accounts/F1/drivers", {"driver_id": "D2", "contract_ref": "K2", "vehicle_id": "V1"})
    assert api.get("/api/v1/accounts/F1/vehicles").json()[0]["label"] == "B-XY-1"


def test_billing_needs_the_bearer_token(anonymous: TestClient) -> None:
    assert anonymous.get("/api/v1/accounts").status_code == 401
    assert anonymous.post("/api/v1/contracts", json={}).status_code == 401


def test_billing_input_errors(api: TestClient) -> None:
    _setup(api)
    _post(api, "/accounts", {"account_id": "A1", "kind": "private"}, status=409)
    _post(api, "/accounts", {"account_id": "A2", "kind": "private", "time_zone": "Mars/Base"}, status=422)
    _post(api, "/contracts", {"contract_ref": "K9", "account_id": "NOPE", "kind": "pay_as_you_go",
                               "retail": RETAIL}, status=422)  # fmt: skip
    _post(api, "/contracts", {"contract_ref": "K9", "account_id": "A1", "kind": "subscription",
                               "retail": RETAIL}, status=422)  # fmt: skip
    _post(
        api,
        "/contracts",
        {"contract_ref": "K9", "account_id": "A1", "kind": "fleet", "retail": RETAIL, "fleet": {}},
        status=422,
    )  # fmt: skip  (fleet contract on a private account)
    _post(api, "/accounts/A1/drivers", {"driver_id": "D9", "contract_ref": "K404"}, status=422)
    assert api.get("/api/v1/accounts/A1/drivers/D404").status_code == 404
    assert api.get("/api/v1/accounts/NOPE/invoices").status_code == 404


def test_credit_and_replacement_bill_once_visible_through_the_api(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    _setup(api)
    assert cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff()).status in (200, 201)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location()).status in (200, 201)
    assert cpo.call("POST", f"{V}/cdrs", cdr("CDR1")).status in (200, 201)
    credit = cdr("CDR1-CR", credit=True, credit_reference_id="CDR1",
                 total_cost={"excl_vat": Decimal("-3.15"), "incl_vat": Decimal("-3.81")})  # fmt: skip
    assert cpo.call("POST", f"{V}/cdrs", credit).status in (200, 201)
    fixed = cdr("CDR1-R1", total_energy=Decimal("8.0"), total_cost={"excl_vat": Decimal("2.40")},
                charging_periods=[{"start_date_time": "2025-03-01T09:00:00Z",
                                   "dimensions": [{"type": "ENERGY", "volume": Decimal("8.0")}],
                                   "tariff_id": "TAR1"}])  # fmt: skip
    assert cpo.call("POST", f"{V}/cdrs", fixed).status in (200, 201)
    lines = api.get("/api/v1/retail-lines", params={"session_id": "S1"}).json()["items"]
    # OCPI ids are CiStrings: the operator finds them in any case too.
    assert api.get("/api/v1/retail-lines", params={"session_id": "s1"}).json()["items"] == lines
    assert [
        x["kind"] for x in api.get("/api/v1/retail-lines", params={"cdr_id": "cdr1"}).json()["items"]
    ] == ["charge"]
    assert len(api.get("/api/v1/cdrs", params={"session_id": "s1"}).json()["items"]) == 3
    assert [(x["kind"], x["cdr_id"]) for x in lines] == [
        ("charge", "CDR1"), ("reversal", "CDR1-CR"), ("rebill", "CDR1-R1")
    ]  # fmt: skip
    charge, reversal, rebill = lines
    assert reversal["reverses_line"] == charge["line_no"] and reversal["replaces_cdr"] == "CDR1"
    assert rebill["replaces_cdr"] == "CDR1"
    assert (
        charge["retail_excl_vat"] == "5.50" and rebill["retail_excl_vat"] == "4.25"
    )  # 10.5/8 kWh x 0.50 + 0.25
    assert charge["jurisdiction"] == "DE" and charge["vat"] == "1.05"  # 19% of 5.50 (a DE location)
    assert charge["evidence"]["missing"] == ["signed_data"]  # Eichrecht: no signed data in this CDR
    assert charge["wholesale_verified"] is True and charge["cost_lines"][0]["kind"] == "wholesale"
    [invoice] = api.get("/api/v1/accounts/A1/invoices").json()
    assert invoice["period"] == "2025-03" and invoice["total_excl_vat"] == "4.25"
    assert sum(Decimal(x["retail_excl_vat"]) for x in invoice["lines"]) == Decimal(invoice["total_excl_vat"])
    assert sum(Decimal(x["energy_kwh"]) for x in invoice["lines"]) == Decimal("8.0")


def test_quote_shows_the_jurisdiction_price_per_kwh(api: TestClient, cpo: Client) -> None:
    assert cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff()).status in (200, 201)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location()).status in (200, 201)
    body = {
        "country_code": "DE",
        "party_id": "CPA",
        "location_id": "LOC1",
        "energy_kwh": "10",
        "duration_minutes": "60",
    }
    resp = api.post("/api/v1/quotes", json=body)
    assert resp.status_code == 200, resp.text
    [shown] = resp.json()["price_display"]
    assert shown == {
        "jurisdiction": "DE",
        "currency": "EUR",
        "price_per_kwh_incl_vat": "0.3570",  # 0.30 + 19% (a DEU location)
        "price_per_kwh_excl_vat": "0.30",
        "vat_rate": "19",
        "tariff_id": "TAR1",
    }


def test_an_unknown_account_has_no_vehicles_or_drivers_404(api: TestClient) -> None:
    """Not an empty list: a typo in the account id must not look like an account with nobody in it."""
    for path in ("/api/v1/accounts/NOPE/vehicles", "/api/v1/accounts/NOPE/drivers"):
        assert api.get(path).status_code == 404, path
    created = api.post("/api/v1/accounts/NOPE/vehicles", json={"vehicle_id": "V1", "label": "x"})
    assert created.status_code == 404
