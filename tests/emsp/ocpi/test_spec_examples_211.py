"""The OCPI 2.1.1 examples (inline in the 2.1.1 module texts), re-expressed (`spec_examples_211/`),
pushed by a CPO registered on 2.1.1: accepted, or refused with 2001 where the 2.1.1 tables say so."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from version_helpers import VersionClient, register_as

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import parse_utc

EXAMPLES = Path(__file__).parent / "spec_examples_211"
UID, CONTRACT = "RFID-211", "NL-EMS-C00000211-X"
LOC = "locations/DE/CPA/LOC-211"


def load(name: str) -> Any:
    text = (EXAMPLES / f"{name}.json").read_text().replace("{{CONTRACT_ID}}", CONTRACT)
    return json.loads(text, parse_float=Decimal)


EXAMPLES_PUSHED = parse_utc("2030-01-01T00:00:00Z")


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings())
    core.issue_token(UID, contract_id=CONTRACT, now=parse_utc("2025-01-01T00:00:00Z"))
    return core


@pytest.fixture
def cpo(core: EmspCore) -> VersionClient:
    client = register_as(core, "2.1.1")
    # The examples carry the spec's own last_updated values, up to 2029: pushed at a time after
    # them, as a CPO would (a last_updated over a day ahead of our clock is refused).
    client.now = EXAMPLES_PUSHED
    return client


def accepted(resp: Any) -> None:
    assert resp.status in (200, 201) and resp.json()["status_code"] == 1000, resp.body


def refused(resp: Any, field: str) -> None:
    body = resp.json()
    assert body["status_code"] == 2001 and field in body["status_message"], resp.body


def complete_location() -> dict[str, Any]:
    location = load("location")
    refused_connector = location["evses"][1]["connectors"][0]
    refused_connector["last_updated"] = location["evses"][1]["last_updated"]
    return location


def test_location_example_is_refused_then_accepted(cpo: VersionClient) -> None:
    refused(cpo.call("PUT", LOC, load("location")), "evses.1.connectors.0.last_updated")
    accepted(cpo.call("PUT", LOC, complete_location()))
    stored = cpo.call("GET", LOC).json()["data"]
    assert stored["evses"][0]["connectors"][0]["tariff_id"] == "T211-11"  # as sent, in 2.1.1 form


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("location_patch_evse_status", "/E-211-1"),
        ("location_patch_location_name", ""),
        ("location_patch_connector_tariff", "/E-211-1/2"),
        ("location_patch_evse_removed", "/E-211-2"),
    ],
)
def test_location_patch_examples(cpo: VersionClient, name: str, where: str) -> None:
    accepted(cpo.call("PUT", LOC, complete_location()))
    patch = load(name)
    accepted(cpo.call("PATCH", LOC + where, patch))  # 2.1.1 PATCHes carry no last_updated
    stored = cpo.call("GET", LOC + where).json()["data"]
    assert {k: stored[k] for k in patch} == patch


def test_location_put_evse_example(cpo: VersionClient) -> None:
    accepted(cpo.call("PUT", LOC, complete_location()))
    evse = load("location_put_evse")
    refused(cpo.call("PUT", LOC + "/E-211-3", evse), "connectors.0.power_type")
    evse["physical_reference"] = str(evse["physical_reference"])
    evse["last_updated"] = "2025-07-01T00:00:00Z"
    for connector in evse["connectors"]:
        connector.update(power_type="AC_3_PHASE", voltage=230, amperage=16, last_updated=evse["last_updated"])
    accepted(cpo.call("PUT", LOC + "/E-211-3", evse))


@pytest.mark.parametrize(
    "name", ["location_energymix_simple", "location_energymix_supplier", "location_energymix_complete",
             "location_opening_times"]
)  # fmt: skip
def test_location_fragment_examples_carried_by_a_location(cpo: VersionClient, name: str) -> None:
    location = {**complete_location(), "id": "LOC-F", **load(name)}
    accepted(cpo.call("PUT", "locations/DE/CPA/LOC-F", location))


def _complete_embedded(body: dict[str, Any]) -> None:
    body["location"]["type"] = "ON_STREET"
    for evse in body["location"]["evses"]:
        evse["status"] = evse.pop("STATUS")
    for period in body.get("charging_periods") or []:
        for dim in period["dimensions"]:
            dim["type"] = dim["type"].upper()


def test_session_examples_one_sessions_life(cpo: VersionClient, core: EmspCore) -> None:
    start = load("session_start")
    path = "sessions/DE/CPA/S-211"
    refused(cpo.call("PUT", path, start), "auth_method")
    start["auth_method"] = "WHITELIST"
    _complete_embedded(start)
    accepted(cpo.call("PUT", path, start))
    accepted(cpo.call("PATCH", path, load("session_patch_total_cost")))
    finished = load("session_finished")
    refused(cpo.call("PUT", path, finished), "auth_method")
    finished["auth_method"] = "WHITELIST"
    _complete_embedded(finished)
    accepted(cpo.call("PUT", path, finished))
    (session,) = core.records().sessions
    assert (session.status, session.token_uid, session.kwh) == ("COMPLETED", UID, Decimal(38))


def test_cdr_example_is_refused_then_invoiced(cpo: VersionClient, core: EmspCore) -> None:
    cdr = load("cdr")
    refused(cpo.call("POST", "cdrs", cdr), "location.type")
    _complete_embedded(cdr)
    tariff = cdr["tariffs"][0]
    refused(cpo.call("POST", "cdrs", cdr), "tariffs.0")
    tariff["last_updated"] = tariff["elements"][0].pop("last_updated")
    tariff["elements"][0]["price_components"][0]["price"] = Decimal("2.40")
    accepted(cpo.call("POST", "cdrs", cdr))
    (line,) = core.records().invoice_lines
    assert line.token_uid == UID and line.cpo_excl_vat == Decimal("2.88") and line.cpo_incl_vat is None
    assert line.amount_excl_vat is not None and line.amount_incl_vat is None, line.note  # VAT unknown


TARIFFS = ["tariff_simple", "tariff_alt_text", "tariff_alt_url", "tariff_complex", "tariff_free_of_charge"]


@pytest.mark.parametrize("name", TARIFFS)
def test_tariff_examples(cpo: VersionClient, name: str) -> None:
    tariff = load(name)
    accepted(cpo.call("PUT", f"tariffs/DE/CPA/{tariff['id']}", tariff))


@pytest.mark.parametrize(
    ("name", "field"), [("tariff_put", "last_updated"), ("tariff_put_elements_only", "id")]
)
def test_tariff_put_examples_are_refused(cpo: VersionClient, name: str, field: str) -> None:
    refused(cpo.call("PUT", "tariffs/DE/CPA/T211-12", load(name)), field)
