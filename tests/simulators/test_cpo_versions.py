"""The mock CPO in each OCPI version's wire form, against a spec-shaped eMSP of that version."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cpo_fake_emsp import BASE, TOKEN_C, FakeEmsp

from emsp.wire import loads
from simulators.cpo.events import AuthorizationRequested, MeterSampled, TransactionEnded, TransactionStarted
from simulators.cpo.locations import SiteSpec, StationSite
from simulators.cpo.ocpi_cpo import CpoOutput, OcpiCpo
from simulators.dialects.profile import load_profile

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
B64_C = base64.b64encode(TOKEN_C.encode()).decode()
TARIFF = loads((Path(__file__).resolve().parents[2] / "scenarios" / "tariffs" / "standard.json").read_text())
SITE = SiteSpec("LOC1", "Site", "Street 1", "Utrecht", "NLD", "52.090736", "5.121420", "Europe/Amsterdam",
                "STD", (StationSite("CS1", 2, Decimal(22)),))  # fmt: skip
TOKENS_211 = [
    {"uid": uid, "type": "RFID", "auth_id": f"NL-EMS-C{uid}", "issuer": "EMS", "valid": True,
     "whitelist": "ALLOWED", "last_updated": "2026-03-01T00:00:00Z"}
    for uid in ("0001", "AA11", "0003")
]  # fmt: skip


def make_cpo(version: str) -> OcpiCpo:
    return OcpiCpo(
        cpo_id="cpo-a",
        country_code="DE",
        party_id="CPA",
        business_name="CPO A",
        base_url="http://cpo.test/ocpi",
        emsp_versions_url=f"{BASE}/versions",
        token_a="token-a",
        dialect=load_profile("spec-strict"),
        tariffs={"STD": TARIFF | {"country_code": "DE", "party_id": "CPA"}},
        sites=[SITE],
        ocpi_version=version,
    )


def pump(cpo: OcpiCpo, emsp: FakeEmsp, output: CpoOutput, now: datetime) -> list[bool]:
    decisions: list[bool] = []
    queue = list(output.requests)
    while queue:
        outbound = queue.pop(0)
        more = cpo.on_response(outbound.request_id, emsp.handle(outbound.request), now)
        decisions += [d.accepted for d in more.decisions]
        queue += more.requests
    return decisions


def charge(version: str) -> tuple[OcpiCpo, FakeEmsp]:
    """Register, authorize AA11, charge 11 kWh for an hour, end: every push lands in the fake eMSP."""
    cpo, emsp = make_cpo(version), FakeEmsp(version, tokens=TOKENS_211)  # pulled on 2.1.1 only
    pump(cpo, emsp, cpo.start(T0), T0)
    assert cpo.truth.registered_at == T0 and cpo.truth.failed_calls == []
    ask = AuthorizationRequested(ref="r1", station_id="CS1", token_uid="AA11", at=T0)
    assert pump(cpo, emsp, cpo.on_event(ask, T0), T0) == [True]
    t1, t2 = T0 + timedelta(minutes=30), T0 + timedelta(hours=1)
    for event, at in (
        (TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0),
        (MeterSampled("CS1", "7", t1, 6500, Decimal(11000)), t1),
        (TransactionEnded("CS1", "7", t2, 12000, "EVDisconnected"), t2),
    ):
        pump(cpo, emsp, cpo.on_event(event, at), at)
    return cpo, emsp


@pytest.mark.parametrize(
    ("version", "authorization", "routing"),
    [("2.1.1", "Token token-c", False), ("2.2.1", f"Token {B64_C}", True), ("2.3.0", f"Token {B64_C}", True)],
)  # fmt: skip
def test_headers_and_credentials_follow_the_version(version: str, authorization: str, routing: bool) -> None:
    _cpo, emsp = charge(version)
    [credentials] = emsp.bodies("POST", "credentials")
    if version == "2.1.1":  # one party, no roles
        assert set(credentials) == {"token", "url", "business_details", "party_id", "country_code"}
    else:
        assert [r["role"] for r in credentials["roles"]] == ["CPO"] and "hub_party_id" not in credentials
    pushes = [r for r in emsp.received if r.method in ("PUT", "PATCH", "POST") and "credentials" not in r.url]
    assert pushes and all(r.header("Authorization") == authorization for r in pushes)
    assert all((r.header("OCPI-to-party-id") == "EMS") is routing for r in pushes)


def test_211_wire_form_of_tariff_location_session_and_cdr() -> None:
    cpo, emsp = charge("2.1.1")
    # The Tokens list was pulled page by page (Link: rel="next") before any event flowed.
    assert [r.url for r in emsp.received if r.method == "GET" and "/tokens" in r.url] == [
        f"{BASE}/2.1.1/tokens",
        f"{BASE}/2.1.1/tokens?offset=2&limit=2",
    ]
    [tariff] = emsp.bodies("PUT", "tariffs")
    assert "country_code" not in tariff and "type" not in tariff
    assert all("vat" not in c for e in tariff["elements"] for c in e["price_components"])
    [location] = emsp.bodies("PUT", "locations")
    assert location["type"] == "PARKING_LOT" and location["postal_code"] and "publish" not in location
    connector = location["evses"][0]["connectors"][0]
    assert connector["tariff_id"] == "STD" and {"voltage", "amperage"} <= set(connector)
    *_, ended = emsp.bodies("PUT", "sessions")
    assert ended["auth_id"] == "NL-EMS-CAA11" and "cdr_token" not in ended
    assert (
        ended["start_datetime"] == "2026-03-02T07:00:00Z" and ended["end_datetime"] == "2026-03-02T08:00:00Z"
    )
    assert [e["uid"] for e in ended["location"]["evses"]] == ["CS1-1"]
    [cdr] = emsp.bodies("POST", "cdrs")
    assert {"session_id", "cdr_token", "country_code", "end_date_time"}.isdisjoint(cdr)
    assert cdr["auth_id"] == "NL-EMS-CAA11" and cdr["stop_date_time"] == "2026-03-02T08:00:00Z"
    # 11 kWh x 0.35 + 1 h x 2.00, excl. VAT: a number, the only price 2.1.1 states
    assert Decimal(str(cdr["total_cost"])) == Decimal("5.85") == Decimal(str(ended["total_cost"]))
    assert all("tariff_id" not in p for p in cdr["charging_periods"])
    # ... and the CPO prices what it published: no VAT known, so no price incl. VAT.
    assert cpo.tariff("STD").elements[0].price_components[0].vat is None


def test_230_prices_carry_tax_amounts() -> None:
    _cpo, emsp = charge("2.3.0")
    [tariff] = emsp.bodies("PUT", "tariffs")
    assert tariff["tax_included"] == "NO"
    [cdr] = emsp.bodies("POST", "cdrs")
    total = cdr["total_cost"]
    assert Decimal(str(total["before_taxes"])) == Decimal("5.85")
    [tax] = total["taxes"]
    assert tax["name"] == "VAT" and Decimal(str(tax["amount"])) == Decimal("5.85") * Decimal("0.19")
    assert cdr["cdr_token"]["contract_id"] == "NL-EMS-CAA11" and cdr["tariffs"][0]["tax_included"] == "NO"
    *_, ended = emsp.bodies("PUT", "sessions")
    assert "before_taxes" in ended["total_cost"]


def test_221_is_the_internal_form() -> None:
    _cpo, emsp = charge("2.2.1")
    [cdr] = emsp.bodies("POST", "cdrs")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("5.85")
    assert cdr["cdr_token"]["contract_id"] == "NL-EMS-CAA11" and cdr["authorization_reference"] == "ref-AA11"


def test_an_emsp_without_the_version_is_a_recorded_failure() -> None:
    cpo, emsp = make_cpo("2.3.0"), FakeEmsp("2.2.1")
    pump(cpo, emsp, cpo.start(T0), T0)
    assert cpo.truth.registered_at is None
    assert [(kind, message) for _t, kind, _c, message in cpo.truth.failed_calls] == [
        ("versions", "eMSP offers no 2.3.0")
    ]


@pytest.mark.parametrize(
    ("id_tag", "segment"), [("AA11", "AA11"), ("tök/én", "t%C3%B6k%2F%C3%A9n"), ("A B?#", "A%20B%3F%23")]
)
def test_an_authorize_names_the_stations_id_tag_percent_encoded(id_tag: str, segment: str) -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1", tokens=TOKENS_211)
    pump(cpo, emsp, cpo.start(T0), T0)
    [request] = cpo.on_event(
        AuthorizationRequested(ref="r1", station_id="CS1", token_uid=id_tag, at=T0), T0
    ).requests
    assert request.request.url == f"{BASE}/2.2.1/tokens/{segment}/authorize?type=RFID"
