"""A Location, EVSE or Connector PUT is the whole object: one missing a field of cardinality 1 in
the version's table, or sending it null, is refused (2001 with HTTP 200, as the eMSP's other 2001s)
naming the field by its path, and nothing is stored. The lists are the adapters' own, the ones a
PATCH may not null (test_location_patch_required.py); 2.2.1 and 2.3.0 used to store such a Location."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest
from emsp_helpers import location
from test_versions_e2e import location_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings
from emsp.ocpi.versions import adapter_for

LOCATIONS = {"2.1.1": location_211, "2.2.1": location, "2.3.0": location}
U = "locations/DE/CPA/LOC1"
# The URL suffix of a PUT of a Location, EVSE and Connector, and where that object sits in a Location.
LEVELS = [("", ()), ("/EVSE1", ("evses", 0)), ("/EVSE1/1", ("evses", 0, "connectors", 0))]
CASES = [
    (version, level, field)
    for version in LOCATIONS
    for level, required in enumerate(adapter_for(version).location_required)
    for field in sorted(required)
]


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _at(obj: Any, where: tuple[Any, ...]) -> Any:
    for step in where:
        obj = obj[step]
    return obj


def _put(version: str, level: int, field: str, *, null: bool) -> tuple[str, dict[str, Any]]:
    """A PUT at `level` (0: Location, 1: EVSE, 2: Connector) without `field` (or with it null)."""
    suffix, where = LEVELS[level]
    body = deepcopy(_at(LOCATIONS[version](), where))
    if null:
        body[field] = None
    else:
        del body[field]
    return U + suffix, body


@pytest.mark.parametrize("null", [False, True], ids=["missing", "null"])
@pytest.mark.parametrize(("version", "level", "field"), CASES)
def test_a_put_without_a_required_field_is_refused(
    core: EmspCore, version: str, level: int, field: str, null: bool
) -> None:
    cpo = register_as(core, version)
    if level:  # an EVSE or Connector PUT goes into a stored Location
        assert cpo.call("PUT", U, LOCATIONS[version]()).status == 201
    before = cpo.call("GET", U).json()
    url, body = _put(version, level, field, null=null)
    answer = cpo.call("PUT", url, body)
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert f"'{field}'" in answer.json()["status_message"]
    after = cpo.call("GET", U).json()
    assert (after["status_code"], after.get("data")) == (before["status_code"], before.get("data"))


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_an_evse_or_connector_inside_a_put_is_checked_too(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    body = LOCATIONS[version]()
    del body["evses"][0]["connectors"][0]["max_voltage"]
    answer = cpo.call("PUT", U, body).json()
    assert answer["status_code"] == 2001
    assert "'evses.0.connectors.0.max_voltage'" in answer["status_message"]
    assert "Connector (cardinality 1), missing" in answer["status_message"]
    assert cpo.call("GET", U).json()["status_code"] == 2003  # not stored
    assert cpo.call("PUT", U, LOCATIONS[version]()).status == 201
    before = cpo.call("GET", U).json()["data"]
    evse = LOCATIONS[version]()["evses"][0]
    evse["connectors"][0]["power_type"] = None
    answer = cpo.call("PUT", U + "/EVSE1", evse).json()
    assert answer["status_code"] == 2001
    assert "'connectors.0.power_type'" in answer["status_message"]
    assert cpo.call("GET", U).json()["data"] == before


@pytest.mark.parametrize("version", list(LOCATIONS))
def test_a_whole_location_is_still_stored_without_its_optional_fields(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    body = LOCATIONS[version]()
    for optional in ("name", "evse_id", "postal_code" if version != "2.1.1" else "time_zone"):
        body.pop(optional, None)
    assert cpo.call("PUT", U, body).status == 201
