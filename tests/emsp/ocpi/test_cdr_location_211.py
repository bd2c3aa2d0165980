"""A 2.1.1 CDR's Location holds the EVSE and Connector used; the canonical CdrLocation keeps the
EVSE's evse_id and the connector's standard, format and power type (review9 M10: only the uid and
connector id were kept, so every invoice line of a 2.1.1 CPO missed its evse_id evidence)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from test_versions_e2e import cdr_211, location_211

from emsp.model import PartyRef
from emsp.ocpi.v211.adapter import V211Adapter

NOW = datetime(2025, 3, 1, 10, tzinfo=UTC)


def _location(body: dict[str, Any]) -> dict[str, Any]:
    _info, doc = V211Adapter().cdr(body, PartyRef("DE", "CPA"), "cpo1", NOW)
    return doc["cdr_location"]


def test_the_evse_id_and_connector_facts_are_kept() -> None:
    site = location_211()
    site["evses"][0]["evse_id"] = "DE*CPA*E1"
    where = _location(cdr_211(location=site))
    assert (where["evse_uid"], where["evse_id"], where["connector_id"]) == ("EVSE1", "DE*CPA*E1", "1")
    facts = (where["connector_standard"], where["connector_format"], where["connector_power_type"])
    assert facts == ("IEC_62196_T2", "SOCKET", "AC_3_PHASE")


def test_an_evse_without_evse_id_gives_none() -> None:
    site = location_211()
    site["evses"][0].pop("evse_id", None)  # optional in 2.1.1
    assert "evse_id" not in _location(cdr_211(location=site))
