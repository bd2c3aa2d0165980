"""Object ids are checked against each version's own tables (issue 8, item 5 of the acceptance).

2.1.1: Location.id and EVSE.uid string(39), Connector.id, Tariff.id, Session.id string(36) (any
printable UTF-8, case-sensitive), CDR.id CiString(36). 2.2.1 and 2.3.0: Location.id, EVSE.uid,
Tariff.id, Session.id CiString(36), CDR.id CiString(39). An id a version allows is stored and
read back; one it does not is refused before anything is stored (404 for an id in the URL, 2001
for one in the body), on every database alike (the columns hold the longest id of any version).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from version_helpers import VersionClient, register_as

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import parse_utc

HERE = Path(__file__).parent
UID, CONTRACT = "RFID-IDS", "NL-EMS-C00000777-X"
# The examples carry the spec's own last_updated values, up to 2029: pushed at a time after them
# (one over a day ahead of the eMSP's clock is refused).
PUSHED = parse_utc("2030-01-01T00:00:00Z")


def _registered(core: EmspCore, version: str) -> VersionClient:
    cpo = register_as(core, version)
    cpo.now = PUSHED
    return cpo


def _json(path: Path) -> Any:
    text = path.read_text().replace("{{CONTRACT_ID}}", CONTRACT).replace("{{TOKEN_UID}}", UID)
    return json.loads(text, parse_float=Decimal)


def location(version: str, location_id: str) -> dict[str, Any]:
    if version == "2.1.1":
        body = _json(HERE / "spec_examples_211" / "location.json")
        body["evses"] = body["evses"][:1]  # the first EVSE of the example is complete
    else:
        body = _json(HERE / "spec_examples_230" / "location" / "location.json")
    body["id"] = location_id
    return body


def tariff(version: str, tariff_id: str) -> dict[str, Any]:
    if version == "2.1.1":
        body = _json(HERE / "spec_examples_211" / "tariff_simple.json")
    else:
        body = _json(HERE / "spec_examples_230" / "tariff" / "tariff_1_simple_2hour.json")
    body["id"] = tariff_id
    return body


def cdr_211(cdr_id: str) -> dict[str, Any]:
    """The 2.1.1 CDR example, completed as tests/emsp/ocpi/test_spec_examples_211.py does."""
    body = _json(HERE / "spec_examples_211" / "cdr.json")
    body["location"]["type"] = "ON_STREET"
    for evse in body["location"]["evses"]:
        evse["status"] = evse.pop("STATUS")
    for period in body.get("charging_periods") or []:
        for dim in period["dimensions"]:
            dim["type"] = dim["type"].upper()
    tariff_ = body["tariffs"][0]
    tariff_["last_updated"] = tariff_["elements"][0].pop("last_updated")
    tariff_["elements"][0]["price_components"][0]["price"] = Decimal("2.40")
    body["id"] = cdr_id
    return body


def cdr_230(cdr_id: str) -> dict[str, Any]:
    body = _json(HERE / "spec_examples_230" / "cdr" / "cdr.json")
    for t in body["tariffs"]:
        t["tax_included"] = "NO"
    body["id"] = cdr_id
    return body


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings())
    core.issue_token(UID, contract_id=CONTRACT, now=parse_utc("2025-01-01T00:00:00Z"))
    return core


def ok(resp: Any) -> bool:
    return resp.status in (200, 201) and resp.json()["status_code"] == 1000


X36, X37, X39, X40 = "L" * 36, "L" * 37, "L" * 39, "L" * 40
UTF8 = "Laadpaal-Café-Ærø"  # printable, not ASCII: a `string`, never a CiString

LOCATIONS = [  # (version, location id, accepted)
    ("2.1.1", X36, True),
    ("2.1.1", X37, True),
    ("2.1.1", X39, True),
    ("2.1.1", X40, False),
    ("2.1.1", UTF8, True),
    ("2.2.1", X36, True),
    ("2.2.1", X37, False),
    ("2.2.1", UTF8, False),
    ("2.3.0", X36, True),
    ("2.3.0", X37, False),
    ("2.3.0", UTF8, False),
]


@pytest.mark.parametrize(("version", "location_id", "allowed"), LOCATIONS)
def test_location_ids(core: EmspCore, version: str, location_id: str, allowed: bool) -> None:
    cpo = _registered(core, version)
    path = f"locations/DE/CPA/{location_id}"
    resp = cpo.call("PUT", path, location(version, location_id))
    assert ok(resp) is allowed, resp.body
    if allowed:
        assert cpo.call("GET", path).json()["data"]["id"] == location_id
        assert [loc_id for loc_id in _location_ids(core)] == [location_id]
    else:
        assert resp.status == 404 and _location_ids(core) == []


def _location_ids(core: EmspCore) -> list[str]:
    from sqlalchemy import select

    from emsp.storage.tables import LocationRow

    with core.db.unit() as db:
        return list(db.scalars(select(LocationRow.location_id)))


TARIFFS = [  # Tariff.id is string(36) in 2.1.1, CiString(36) since
    ("2.1.1", X36, True),
    ("2.1.1", X37, False),
    ("2.1.1", UTF8, True),
    ("2.2.1", X36, True),
    ("2.2.1", X37, False),
    ("2.2.1", UTF8, False),
    ("2.3.0", X37, False),
]


@pytest.mark.parametrize(("version", "tariff_id", "allowed"), TARIFFS)
def test_tariff_ids(core: EmspCore, version: str, tariff_id: str, allowed: bool) -> None:
    cpo = _registered(core, version)
    resp = cpo.call("PUT", f"tariffs/DE/CPA/{tariff_id}", tariff(version, tariff_id))
    assert ok(resp) is allowed, resp.body


CDRS = [  # CDR.id: CiString(36) in 2.1.1, CiString(39) in 2.2.1 and 2.3.0 (a body field: 2001)
    ("2.1.1", "C" * 36, True),
    ("2.1.1", "C" * 37, False),
    ("2.1.1", "CDR-Ærø", False),
    ("2.3.0", "C" * 39, True),
    ("2.3.0", "C" * 40, False),
]


@pytest.mark.parametrize(("version", "cdr_id", "allowed"), CDRS)
def test_cdr_ids(core: EmspCore, version: str, cdr_id: str, allowed: bool) -> None:
    cpo = _registered(core, version)
    body = cdr_211(cdr_id) if version == "2.1.1" else cdr_230(cdr_id)
    resp = cpo.call("POST", "cdrs", body)
    assert ok(resp) is allowed, resp.body
    if allowed:
        assert [line.cdr_id for line in core.records().invoice_lines] == [cdr_id]
    else:
        assert resp.json()["status_code"] == 2001 and "id" in resp.json()["status_message"]
