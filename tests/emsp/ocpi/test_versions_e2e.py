"""A CPO on 2.1.1 and one on 2.3.0 register, push, and are settled like a 2.2.1 one (issue 8).

Driven through `EmspCore.handle` with the real tariff engine; objects are our own, shaped as each
version's object tables say.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from version_helpers import PARTY, register_as

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import parse_utc

CONTRACT = "NL-EMS-C00000001-X"


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings())
    core.issue_token("RFID1", contract_id=CONTRACT, now=parse_utc("2025-03-01T08:00:00Z"))
    return core


def location_211() -> dict[str, Any]:
    connector = {
        "id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
        "voltage": 230, "amperage": 32, "tariff_id": "TAR1", "last_updated": "2025-03-01T08:00:00Z",
    }  # fmt: skip
    return {
        "id": "LOC1", "type": "ON_STREET", "address": "Teststrasse 1", "city": "Berlin",
        "postal_code": "10115", "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "evses": [{"uid": "EVSE1", "status": "AVAILABLE", "connectors": [connector],
                   "last_updated": "2025-03-01T08:00:00Z"}],
        "time_zone": "Europe/Berlin", "last_updated": "2025-03-01T08:00:00Z",
    }  # fmt: skip


def tariff_211() -> dict[str, Any]:
    return {
        "id": "TAR1", "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": Decimal("0.30"), "step_size": 1}]}],
        "last_updated": "2025-03-01T08:00:00Z",
    }  # fmt: skip


def session_211(**changes: Any) -> dict[str, Any]:
    location = location_211()
    body = {
        "id": "S1", "start_datetime": "2025-03-01T09:00:00Z", "kwh": 0, "auth_id": CONTRACT,
        "auth_method": "AUTH_REQUEST", "location": location, "currency": "EUR", "status": "ACTIVE",
        "last_updated": "2025-03-01T09:00:00Z",
    }  # fmt: skip
    body.update(changes)
    return body


def cdr_211(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "CDR1", "start_date_time": "2025-03-01T09:00:00Z", "stop_date_time": "2025-03-01T10:00:00Z",
        "auth_id": CONTRACT, "auth_method": "AUTH_REQUEST", "location": location_211(), "currency": "EUR",
        "charging_periods": [{"start_date_time": "2025-03-01T09:00:00Z",
                              "dimensions": [{"type": "ENERGY", "volume": Decimal("10")}]}],
        "total_cost": Decimal("3.00"), "total_energy": Decimal("10"), "total_time": Decimal("1"),
        "last_updated": "2025-03-01T10:05:00Z",
    }  # fmt: skip
    body.update(changes)
    return body


def test_211_partner_registers_with_a_plain_token_and_is_settled_like_221(core: EmspCore) -> None:
    cpo = register_as(core, "2.1.1")
    cc, pid = PARTY
    assert cpo.call("PUT", f"locations/{cc}/{pid}/LOC1", location_211()).status == 201
    assert cpo.call("PUT", f"tariffs/{cc}/{pid}/TAR1", tariff_211()).status == 201
    assert cpo.call("PUT", f"sessions/{cc}/{pid}/S1", session_211()).status == 201
    patch = {"status": "COMPLETED", "end_datetime": "2025-03-01T10:00:00Z", "kwh": 10}
    assert cpo.call("PATCH", f"sessions/{cc}/{pid}/S1", patch).json()["status_code"] == 1000
    posted = cpo.call("POST", "cdrs", cdr_211())
    assert posted.status == 201, posted.body
    assert posted.header("Location") == "http://emsp.local/ocpi/2.1.1/cdrs/CDR1"
    # The receiver gives back what the partner sent, in its version.
    assert cpo.call("GET", "cdrs/CDR1").json()["data"]["stop_date_time"] == "2025-03-01T10:00:00Z"

    records = core.records()
    (session,) = records.sessions
    assert (session.token_uid, session.contract_id, session.status) == ("RFID1", CONTRACT, "COMPLETED")
    (cdr,) = records.cdrs
    assert cdr.party.key() == "DE*CPA" and cdr.session_id == "S1" and cdr.token_uid == "RFID1"
    assert cdr.total_cost.excl_vat == Decimal("3.00") and cdr.total_cost.incl_vat is None
    (line,) = records.invoice_lines
    assert line.amount_excl_vat == Decimal("3.00") and line.amount_incl_vat is None  # VAT unknown
    assert line.delta_excl_vat == 0 and line.tariff_id == "TAR1"
    assert core.partner_endpoints("cpo1")[0]["role"] is None


def test_211_partner_gets_its_token_form_and_authorization(core: EmspCore) -> None:
    cpo = register_as(core, "2.1.1")
    tokens = cpo.call("GET", "tokens").json()["data"]
    assert tokens[0]["auth_id"] == CONTRACT and "contract_id" not in tokens[0]
    answer = cpo.call("POST", "tokens/RFID1/authorize", {"location_id": "LOC1"}).json()
    assert answer["data"] == {"allowed": "ALLOWED", "location": {"location_id": "LOC1"}}
    # 2.1.1 paths read the token as is: the Base64 form names no partner there.
    cpo.version = "2.2.1"
    assert cpo.call("GET", "http://emsp.local/ocpi/2.1.1/tokens").status == 401


def test_token_push_goes_out_in_the_partners_version(core: EmspCore) -> None:
    register_as(core, "2.1.1")
    core.pending_requests()
    core.push_token("RFID1", "RFID")
    (push,) = core.pending_requests()
    assert push.request.url == "http://cpo.test/ocpi/2.1.1/tokens/NL/EMS/RFID1"
    assert push.request.headers["Authorization"] == "Token token-B-cpo1"
    assert not any(h.startswith("OCPI-") for h in push.request.headers)


def price_230(before: str, tax: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"before_taxes": Decimal(before)}
    if tax is not None:
        out["taxes"] = [{"name": "VAT", "percentage": Decimal(21), "amount": Decimal(tax)}]
    return out


def test_230_cdr_with_tax_amounts_is_repriced_and_invoiced(core: EmspCore) -> None:
    from emsp_helpers import cdr, location, tariff

    cpo = register_as(core, "2.3.0")
    cc, pid = PARTY
    assert cpo.call("PUT", f"locations/{cc}/{pid}/LOC1", location()).status == 201
    tar = tariff()
    tar["elements"][0]["price_components"][0]["vat"] = Decimal(21)
    tar["tax_included"] = "NO"
    assert cpo.call("PUT", f"tariffs/{cc}/{pid}/TAR1", tar).status == 201
    body = cdr(total_cost=price_230("3.15", "0.66"), session_id=None)
    body["parking"] = {"kept": "as sent"}  # not modelled: accepted and kept
    posted = cpo.call("POST", "cdrs", body)
    assert posted.status == 201, posted.body
    assert cpo.call("GET", f"cdrs/{cc}/{pid}/CDR1").json()["data"]["parking"] == {"kept": "as sent"}
    (line,) = core.records().invoice_lines
    assert (line.cpo_excl_vat, line.cpo_incl_vat) == (Decimal("3.15"), Decimal("3.81"))
    assert line.amount_excl_vat == Decimal("3.15") and line.amount_incl_vat == Decimal("3.8115")


def test_230_tariff_without_tax_included_is_refused(core: EmspCore) -> None:
    from emsp_helpers import tariff

    cpo = register_as(core, "2.3.0")
    resp = cpo.call("PUT", "tariffs/DE/CPA/TAR1", tariff())
    assert resp.json()["status_code"] == 2001 and "tax_included" in resp.json()["status_message"]


def test_credentials_to_a_version_the_client_does_not_offer_is_3002(core: EmspCore) -> None:
    from version_helpers import VersionClient, credentials

    core.register_partner("cpo1", "token-A-cpo1", parties=[(*PARTY, "CPO")])
    client = VersionClient(core, "2.3.0", "token-A-cpo1")
    client.offers = "2.2.1"  # credentials.asciidoc: the version posted to must be one the client has
    resp = client.call("POST", "credentials", credentials("2.3.0", "token-B"))
    assert resp.json()["status_code"] == 3002


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("sessions/DE/CPA/S1", session_211(kwh=-1), id="negative-kwh-211"),
        pytest.param("cdrs", cdr_211(total_energy=Decimal("-0.5")), id="negative-energy-211"),
        pytest.param("cdrs", cdr_211(total_cost=Decimal("-3")), id="negative-cost-211"),
    ],
)
def test_negative_energy_or_money_is_2001_in_211(core: EmspCore, path: str, body: dict[str, Any]) -> None:
    cpo = register_as(core, "2.1.1")
    method = "POST" if path == "cdrs" else "PUT"
    resp = cpo.call(method, path, body)
    assert resp.json()["status_code"] == 2001


def test_a_registered_partner_speaks_only_its_version(core: EmspCore) -> None:
    """The adapter is chosen at the handshake: another version's modules are not the partner's API."""
    from emsp_helpers import session

    cpo = register_as(core, "2.3.0")
    cpo.root = "http://emsp.local/ocpi/2.2.1"  # same Base64 header scheme, other version's path
    resp = cpo.call("PUT", "sessions/DE/CPA/S1", session())
    assert resp.status == 404 and "registered on OCPI 2.3.0" in resp.json()["status_message"]
    assert cpo.call("GET", "http://emsp.local/ocpi/2.2.1").status == 200  # details stay readable
    assert core.records().sessions == ()


def test_230_tax_included_tariff_with_a_negative_vat_is_2001_not_a_crash(core: EmspCore) -> None:
    from emsp_helpers import tariff

    cpo = register_as(core, "2.3.0")
    component = {"type": "TIME", "price": Decimal(1), "vat": Decimal(-100), "step_size": 1}
    body = {**tariff(), "tax_included": "YES", "elements": [{"price_components": [component]}]}
    resp = cpo.call("PUT", "tariffs/DE/CPA/TAR1", body)
    answer = resp.json()
    assert resp.status == 200 and answer["status_code"] == 2001 and "vat" in answer["status_message"]
