"""A Location, EVSE or Connector PATCH may not null a field of cardinality 1 (review r7 K3): the
stored object would no longer be one the version's tables describe (2.2.1/2.3.0 mod_locations
Location, EVSE, Connector; 2.1.1 the same tables with its own fields). Refused 2001 naming the
field; the stored Location is unchanged. An optional field may still be nulled."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import location
from test_versions_e2e import location_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

LOCATIONS = {"2.1.1": location_211, "2.2.1": location, "2.3.0": location}
U = "locations/DE/CPA/LOC1"
CASES = [
    (v, path, field)
    for v in ("2.2.1", "2.3.0")
    for path, field in [
        ("", "publish"), ("", "address"), ("", "city"), ("", "country"), ("", "coordinates"),
        ("/EVSE1", "status"), ("/EVSE1/1", "standard"), ("/EVSE1/1", "format"),
        ("/EVSE1/1", "power_type"), ("/EVSE1/1", "max_voltage"), ("/EVSE1/1", "max_amperage"),
    ]
] + [
    ("2.1.1", "", "address"), ("2.1.1", "", "coordinates"), ("2.1.1", "", "postal_code"),
    ("2.1.1", "/EVSE1/1", "standard"), ("2.1.1", "/EVSE1/1", "voltage"),
]  # fmt: skip


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _patch(field: str, value: Any) -> dict[str, Any]:
    return {field: value, "last_updated": "2025-03-01T09:30:00Z"}


@pytest.mark.parametrize(("version", "path", "field"), CASES)
def test_a_patch_may_not_null_a_required_field(core: EmspCore, version: str, path: str, field: str) -> None:
    cpo = register_as(core, version)
    assert cpo.call("PUT", U, LOCATIONS[version]()).status == 201
    before = cpo.call("GET", U).json()["data"]
    answer = cpo.call("PATCH", U + path, _patch(field, None))
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert f"'{field}'" in answer.json()["status_message"]
    assert cpo.call("GET", U).json()["data"] == before


@pytest.mark.parametrize("version", list(LOCATIONS))
def test_an_optional_field_may_still_be_nulled(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    assert cpo.call("PUT", U, LOCATIONS[version]()).status == 201
    answer = cpo.call(
        "PATCH", f"{U}/EVSE1/1", _patch("tariff_id" if version == "2.1.1" else "tariff_ids", None)
    )
    assert answer.json()["status_code"] == 1000, answer.body
