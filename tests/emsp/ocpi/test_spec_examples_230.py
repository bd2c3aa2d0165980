"""Every Location, Tariff, Session and CDR example of OCPI 2.3.0, re-expressed (`spec_examples_230/`),
pushed by a CPO registered on 2.3.0: accepted, or refused with 2001 where the spec's tables say so."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from version_helpers import VersionClient, register_as

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import parse_utc
from emsp.wire import dumps, loads

EXAMPLES = Path(__file__).parent / "spec_examples_230"
UID, CONTRACT = "RFID-230", "NL-EMS-C00000230-X"


def load(kind: str, name: str) -> Any:
    text = (EXAMPLES / kind / f"{name}.json").read_text()
    text = text.replace("{{TOKEN_UID}}", UID).replace("{{CONTRACT_ID}}", CONTRACT)
    return json.loads(text, parse_float=Decimal)


def names(kind: str) -> list[str]:
    return sorted(p.stem for p in (EXAMPLES / kind).glob("*.json"))


EXAMPLES_PUSHED = parse_utc("2030-01-01T00:00:00Z")


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings())
    core.issue_token(UID, contract_id=CONTRACT, now=parse_utc("2025-01-01T00:00:00Z"))
    return core


@pytest.fixture
def cpo(core: EmspCore) -> VersionClient:
    client = register_as(core, "2.3.0")
    # The examples carry the spec's own last_updated values, up to 2029: pushed at a time after
    # them, as a CPO would (a last_updated over a day ahead of our clock is refused).
    client.now = EXAMPLES_PUSHED
    return client


def accepted(resp: Any) -> None:
    assert resp.status in (200, 201) and resp.json()["status_code"] == 1000, resp.body


def refused(resp: Any, field: str) -> None:
    body = resp.json()
    assert body["status_code"] == 2001 and field in body["status_message"], resp.body


# The examples refused by the spec's own tables (see spec_examples_230/README.md): name -> field.
REFUSED = {"tariff_put": "last_updated", "location_put_add_evse": "physical_reference", "cdr": "tax_included"}


@pytest.mark.parametrize("name", names("tariff"))
def test_tariff_examples(cpo: VersionClient, core: EmspCore, name: str) -> None:
    tariff = load("tariff", name)
    path = f"tariffs/DE/CPA/{tariff['id']}"
    if name in REFUSED:
        refused(cpo.call("PUT", path, tariff), REFUSED[name])
        tariff["last_updated"] = "2025-06-01T00:00:00Z"
    accepted(cpo.call("PUT", path, tariff))
    assert cpo.call("GET", path).json()["data"] == loads(dumps(tariff))


LOCATION_FRAGMENTS = {  # applied to LOC-01, the main Location example, as in the 2.2.1 test
    "location_patch_location": ("PATCH", "LOC-01"),
    "location_patch_status": ("PATCH", "LOC-01/EVSE-01"),
    "location_patch_tariff": ("PATCH", "LOC-01/EVSE-01/1"),
    "location_put_add_evse": ("PUT", "LOC-01/EVSE-08"),
    "location_patch_remove_evse": ("PATCH", "LOC-01/EVSE-01"),
}


@pytest.mark.parametrize("name", names("location"))
def test_location_examples(cpo: VersionClient, name: str) -> None:
    if name not in LOCATION_FRAGMENTS:
        loc = load("location", name)
        accepted(cpo.call("PUT", f"locations/DE/CPA/{loc['id']}", loc))
        stored = cpo.call("GET", f"locations/DE/CPA/{loc['id']}").json()["data"]
        assert stored.get("parking_places") == loads(dumps(loc.get("parking_places")))
        return
    accepted(cpo.call("PUT", "locations/DE/CPA/LOC-01", load("location", "location")))
    method, where = LOCATION_FRAGMENTS[name]
    body = load("location", name)
    if name in REFUSED:
        refused(cpo.call(method, f"locations/DE/CPA/{where}", body), REFUSED[name])
        body["physical_reference"] = str(body["physical_reference"])
        for connector in body["connectors"]:
            connector.update(power_type="AC_3_PHASE", max_voltage=230, max_amperage=16)
            connector["last_updated"] = body["last_updated"]
    accepted(cpo.call(method, f"locations/DE/CPA/{where}", body))


def test_session_examples_one_sessions_life(cpo: VersionClient, core: EmspCore) -> None:
    start = load("session", "session_1_simple_start")
    path = f"sessions/DE/CPA/{start['id']}"
    accepted(cpo.call("PUT", path, start))
    accepted(cpo.call("PATCH", path, load("session", "session_patch_total_cost")))
    accepted(cpo.call("PATCH", path, load("session", "session_patch_charging_period")))
    finished = load("session", "session_2_short_finished")
    accepted(cpo.call("PUT", f"sessions/DE/CPA/{finished['id']}", finished))
    (session,) = core.records().sessions
    assert session.status == "COMPLETED" and session.token_uid == UID
    stored = cpo.call("GET", path).json()["data"]
    assert stored["total_cost"] == loads(dumps(finished["total_cost"]))


def test_cdr_example_is_refused_then_invoiced_with_its_taxes(cpo: VersionClient, core: EmspCore) -> None:
    cdr = load("cdr", "cdr")
    refused(cpo.call("POST", "cdrs", cdr), REFUSED["cdr"])
    for tariff in cdr["tariffs"]:
        tariff["tax_included"] = "NO"
    accepted(cpo.call("POST", "cdrs", cdr))
    (line,) = core.records().invoice_lines
    taxes = sum(t["amount"] for t in cdr["total_cost"]["taxes"])
    assert line.cpo_excl_vat == cdr["total_cost"]["before_taxes"]
    assert line.cpo_incl_vat == cdr["total_cost"]["before_taxes"] + taxes
    assert line.amount_excl_vat is not None, line.note  # re-priced from the embedded tariff


def test_tariff_including_taxes_is_priced_without_them() -> None:
    """tax_included YES: the canonical price excludes the component's VAT (mod_tariffs, TaxIncluded)."""
    from emsp.model import PartyRef
    from emsp.ocpi.versions import ADAPTERS

    tariff = load("tariff", "tariff_20_simple_north_american_inclusive")
    tariff["elements"][0]["price_components"][0]["vat"] = Decimal(25)
    doc = ADAPTERS["2.3.0"].tariff(tariff, PartyRef("DE", "CPA")).doc
    assert doc["elements"][0]["price_components"][0]["price"] == Decimal("2.12")
    assert "tax_included" not in doc
