"""A 2.2.1/2.3.0 CDR's cdr_location holds every field mod_cdrs CdrLocation marks cardinality 1 (the
same list in both versions): a CDR without one was stored, and billing then had no country, address
or evse_id to invoice from. Refused 2001 naming the field's path, nothing stored. The optional
fields (name, postal_code, state) may still be left out."""

from __future__ import annotations

from typing import Any

import pytest
from test_cdr_session_bounds import cdr_221, cdr_230
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

CDRS = {"2.2.1": cdr_221, "2.3.0": cdr_230}
REQUIRED = (
    "id", "address", "city", "country", "coordinates", "evse_uid", "evse_id", "connector_id",
    "connector_standard", "connector_format", "connector_power_type",
)  # fmt: skip


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _without(version: str, field: str) -> dict[str, Any]:
    body = CDRS[version]()
    body["cdr_location"] = {k: v for k, v in body["cdr_location"].items() if k != field}
    return body


@pytest.mark.parametrize("field", REQUIRED)
@pytest.mark.parametrize("version", list(CDRS))
def test_a_cdr_location_without_a_required_field_is_refused(core: EmspCore, version: str, field: str) -> None:
    cpo = register_as(core, version)
    answer = cpo.call("POST", "cdrs", _without(version, field))
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert f"'cdr_location.{field}'" in answer.json()["status_message"]
    assert core.records().cdrs == ()


@pytest.mark.parametrize("version", list(CDRS))
def test_the_optional_fields_may_be_left_out(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    body = CDRS[version]()
    body["cdr_location"] = {
        k: v for k, v in body["cdr_location"].items() if k not in ("name", "postal_code", "state")
    }
    assert cpo.call("POST", "cdrs", body).status == 201
    assert [c.cdr_id for c in core.records().cdrs] == ["CDR1"]
