"""`POST /api/v1/quotes`: the price before authorization, from the tariff in effect."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, location
from fastapi.testclient import TestClient


def tariff(tariff_id: str, price: str, **extra: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "CPA",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": Decimal(price), "vat": 21, "step_size": 1}]},
            {"price_components": [{"type": "FLAT", "price": Decimal("0.50"), "vat": 21, "step_size": 1}]},
        ],
        "tariff_alt_text": [{"language": "en", "text": f"{price} per kWh + 0.50 start"}],
        "last_updated": "2025-03-01T08:00:00Z",
        **extra,
    }


def connector(connector_id: str, tariff_ids: list[str] | None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "id": connector_id,
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "last_updated": "2025-03-01T08:00:00Z",
    }
    if tariff_ids is not None:
        c["tariff_ids"] = tariff_ids
    return c


def put(cpo: Client, module: str, obj: dict[str, Any]) -> None:
    resp = cpo.call("PUT", f"{V}/{module}/DE/CPA/{obj['id']}", obj)
    assert resp.status in (200, 201), resp.body


@pytest.fixture
def site(cpo: Client) -> Client:
    """EVSE1/1: an ad-hoc tariff and REGULAR; EVSE1/2: a tariff starting in April; EVSE2/1: none."""
    put(cpo, "tariffs", tariff("ADHOC", "0.79", type="AD_HOC_PAYMENT"))
    put(cpo, "tariffs", tariff("REG", "0.40", type="REGULAR"))
    put(cpo, "tariffs", tariff("APRIL", "0.20", start_date_time="2025-04-01T00:00:00Z"))
    loc = location()
    loc["evses"] = [
        {
            "uid": "EVSE1",
            "status": "AVAILABLE",
            "connectors": [connector("1", ["ADHOC", "REG"]), connector("2", ["APRIL", "REG"])],
            "last_updated": "2025-03-01T08:00:00Z",
        },
        {
            "uid": "EVSE2",
            "status": "AVAILABLE",
            "connectors": [connector("1", None)],
            "last_updated": "2025-03-01T08:00:00Z",
        },
    ]
    put(cpo, "locations", loc)
    return cpo


ASK = {
    "country_code": "DE",
    "party_id": "CPA",
    "location_id": "LOC1",
    "energy_kwh": "20",
    "duration_minutes": 90,
    "start": "2025-03-03T08:00:00Z",
}


def ask(api: TestClient, **fields: Any) -> Any:
    return api.post("/api/v1/quotes", json={**ASK, **fields})


def test_connector_quote_uses_its_regular_tariff_not_the_ad_hoc_one(api: TestClient, site: Client) -> None:
    resp = ask(api, evse_uid="EVSE1", connector_id="1")
    assert resp.status_code == 200, resp.text
    [q] = resp.json()["quotes"]
    assert q["tariff_id"] == "REG" and q["currency"] == "EUR"
    # 20 kWh * 0.40 + 0.50 = 8.50 excl. VAT; 21% VAT: 10.285 (the pricing policy keeps 4 decimals)
    assert q["total_cost"] == {"excl_vat": "8.5000", "incl_vat": "10.2850", "currency": "EUR"}
    assert Decimal(q["total_energy_cost"]["excl_vat"]) == Decimal("8.00")
    assert Decimal(q["total_fixed_cost"]["excl_vat"]) == Decimal("0.50")
    assert q["total_energy_kwh"] == "20" and q["total_time_hours"] == "1.5000"
    assert q["connectors"] == [{"evse_uid": "EVSE1", "connector_id": "1"}]
    assert q["tariff_alt_text"][0]["text"].startswith("0.40")


def test_tariff_start_date_decides_which_tariff_is_in_effect(api: TestClient, site: Client) -> None:
    march = ask(api, evse_uid="EVSE1", connector_id="2").json()["quotes"][0]
    april = ask(api, evse_uid="EVSE1", connector_id="2", start="2025-04-02T08:00:00Z").json()["quotes"][0]
    assert march["tariff_id"] == "REG" and april["tariff_id"] == "APRIL"
    assert Decimal(april["total_cost"]["excl_vat"]) == Decimal("4.50")  # 20 * 0.20 + 0.50


def test_location_quote_groups_connectors_by_tariff_and_names_the_unpriced(
    api: TestClient, site: Client
) -> None:
    # March: REG is the party's only contract tariff in effect, so EVSE2 (no tariff_ids) gets it too
    march = ask(api).json()
    assert [(q["tariff_id"], len(q["connectors"])) for q in march["quotes"]] == [("REG", 3)]
    assert march["unpriced"] == [] and march["energy_kwh"] == "20" and march["duration_minutes"] == "90"
    # April: REG and APRIL are both in effect, so EVSE2 has no single default
    april = ask(api, start="2025-04-02T08:00:00Z").json()
    assert [(q["tariff_id"], len(q["connectors"])) for q in april["quotes"]] == [("REG", 1), ("APRIL", 1)]
    assert april["unpriced"] == [{"evse_uid": "EVSE2", "connector_id": "1"}]


def test_a_single_tariff_of_the_party_is_the_default(api: TestClient, cpo: Client) -> None:
    put(cpo, "tariffs", tariff("ONLY", "0.30"))
    loc = location()
    loc["evses"][0]["connectors"] = [connector("1", None)]
    put(cpo, "locations", loc)
    [q] = ask(api, evse_uid="EVSE1").json()["quotes"]
    assert q["tariff_id"] == "ONLY" and Decimal(q["total_cost"]["excl_vat"]) == Decimal("6.50")


def test_power_decides_parking_and_time(api: TestClient, site: Client) -> None:
    spread = ask(api, evse_uid="EVSE1", connector_id="1").json()["quotes"][0]
    fast = ask(api, evse_uid="EVSE1", connector_id="1", power_kw="40").json()["quotes"][0]
    assert spread["total_parking_time_hours"] == "0.0000"
    assert fast["total_parking_time_hours"] == "1.0000"  # 20 kWh at 40 kW: 30 min, then parked


@pytest.mark.parametrize(
    ("fields", "status", "text"),
    [
        ({"location_id": "NOPE"}, 404, "location"),
        ({"party_id": "CPB"}, 404, "location"),
        ({"evse_uid": "EVSE9"}, 404, "EVSE"),
        ({"evse_uid": "EVSE1", "connector_id": "9"}, 404, "connector"),
        ({"evse_uid": "EVSE2", "start": "2025-04-02T08:00:00Z"}, 404, "tariff in effect"),
        ({"connector_id": "1"}, 422, "evse_uid"),
        ({"energy_kwh": "-1"}, 422, "energy_kwh"),
        ({"energy_kwh": "NaN"}, 422, "energy_kwh"),
        ({"energy_kwh": "1e999999"}, 422, "energy_kwh"),
        ({"energy_kwh": "lots"}, 422, "energy_kwh"),
        ({"duration_minutes": 0}, 422, "duration_minutes"),
        ({"duration_minutes": 10**9}, 422, "duration_minutes"),
        ({"power_kw": 0}, 422, "power_kw"),
        ({"power_kw": "1", "evse_uid": "EVSE1", "connector_id": "1"}, 422, "power_kw"),  # too slow
        ({"start": "2025-03-03T08:00:00"}, 422, "start"),
        ({"start": "0001-01-01T00:00:00+05:00"}, 422, "start"),
        ({"start": "9999-12-31T23:00:00-05:00"}, 422, "start"),
        ({"country_code": "DEU"}, 422, "country_code"),
        ({"location_id": "L" * 37}, 422, "location_id"),
        ({"price": "free"}, 422, "price"),
    ],
)
def test_quote_errors(api: TestClient, site: Client, fields: dict[str, Any], status: int, text: str) -> None:
    resp = ask(api, **fields)
    assert resp.status_code == status, resp.text
    assert text in str(resp.json()["detail"])


def test_quote_without_start_uses_now(api: TestClient, site: Client) -> None:
    fields = {k: v for k, v in ASK.items() if k != "start"}
    resp = api.post("/api/v1/quotes", json={**fields, "evse_uid": "EVSE1", "connector_id": "1"})
    assert resp.status_code == 200 and resp.json()["start"].startswith("2025-03-01T09:00")


@pytest.mark.parametrize(
    ("start", "shown", "energy_cost"),
    [
        ("2025-03-03T10:00:00Z", "0.39", "3.90"),  # 11:00 in Berlin: off-peak (was the peak 0.59 shown)
        ("2025-03-03T17:00:00Z", "0.59", "5.90"),  # 18:00 in Berlin: the peak element applies
    ],
)
def test_price_display_shows_the_energy_price_in_force_at_the_quote_start(
    api: TestClient, cpo: Client, start: str, shown: str, energy_cost: str
) -> None:
    """Time of use, the peak element first (mod_tariffs: the first element whose restrictions hold)."""
    peak = {"type": "ENERGY", "price": Decimal("0.59"), "vat": 21, "step_size": 1}
    off_peak = {"type": "ENERGY", "price": Decimal("0.39"), "vat": 21, "step_size": 1}
    tou = tariff("TOU", "0.39")
    tou["elements"] = [
        {"price_components": [peak], "restrictions": {"start_time": "17:00", "end_time": "21:00"}},
        {"price_components": [off_peak]},
    ]
    put(cpo, "tariffs", tou)
    loc = location()
    loc["evses"][0]["connectors"] = [connector("1", ["TOU"])]
    put(cpo, "locations", loc)
    resp = ask(api, evse_uid="EVSE1", connector_id="1", energy_kwh="10", duration_minutes=30, start=start)
    assert resp.status_code == 200, resp.text
    [q], [display] = resp.json()["quotes"], resp.json()["price_display"]
    assert Decimal(q["total_energy_cost"]["excl_vat"]) == Decimal(energy_cost)
    assert display["price_per_kwh_excl_vat"] == shown and display["tariff_id"] == "TOU"
