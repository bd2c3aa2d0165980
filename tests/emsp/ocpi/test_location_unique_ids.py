"""A Location naming one EVSE uid twice, or an EVSE naming one Connector id twice (in any case:
CiStrings), is refused with 2001 naming the id, on PUT and PATCH at every level and in every version;
nothing of it is stored (review 4, G4; mod_locations EVSE.uid, Connector.id)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_ids_per_version import location
from version_helpers import VersionClient, register_as

from emsp.core import EmspCore
from emsp.timeutil import parse_utc

VERSIONS = ["2.1.1", "2.2.1", "2.3.0"]
LATER = "2026-01-01T00:00:00Z"
PUSHED = parse_utc("2026-01-01T12:00:00Z")  # after every last_updated here (over a day ahead: 2001)


def _registered(core: EmspCore, version: str) -> VersionClient:
    cpo = register_as(core, version)
    cpo.now = PUSHED
    return cpo


def _evse(body: dict[str, Any], uid: str) -> dict[str, Any]:
    evse = copy.deepcopy(body["evses"][0])
    evse["uid"] = uid
    return evse


def _twice(items: list[dict[str, Any]], key: str, again: str) -> list[dict[str, Any]]:
    second = copy.deepcopy(items[0])
    second[key] = again
    return [items[0], second]


def _cases(version: str) -> list[tuple[str, str, str, Any, str]]:
    """(case, method, path below the location, body, the duplicate id the answer names)."""
    loc = location(version, "LOC-U")
    uid, cid = loc["evses"][0]["uid"], loc["evses"][0]["connectors"][0]["id"]
    two_evses = loc | {"evses": _twice(loc["evses"], "uid", uid.lower())}
    evse = loc["evses"][0]
    two_connectors = evse | {"connectors": _twice(evse["connectors"], "id", cid)}
    return [
        ("PUT location, EVSE uid twice (case)", "PUT", "", two_evses, uid.lower()),
        ("PUT location, connector id twice", "PUT", "", loc | {"evses": [two_connectors]}, cid),
        (
            "PATCH location, EVSE uid twice",
            "PATCH",
            "",
            {"evses": two_evses["evses"], "last_updated": LATER},
            uid,
        ),
        ("PUT EVSE, connector id twice", "PUT", f"/{uid}", two_connectors, cid),
        (
            "PATCH EVSE, connector id twice",
            "PATCH",
            f"/{uid}",
            {"connectors": two_connectors["connectors"], "last_updated": LATER},
            cid,
        ),
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", range(5))
def test_duplicate_evse_or_connector_ids_are_refused(core: EmspCore, version: str, case: int) -> None:
    cpo = _registered(core, version)
    name, method, below, body, duplicate = _cases(version)[case]
    path = "locations/DE/CPA/LOC-U"
    if method == "PATCH" or below:
        assert cpo.call("PUT", path, location(version, "LOC-U")).json()["status_code"] == 1000
    before = cpo.call("GET", path).json().get("data")
    answer = cpo.call(method, path + below, body)
    assert answer.json()["status_code"] == 2001, name
    assert repr(duplicate) in answer.json()["status_message"], name
    assert cpo.call("GET", path).json().get("data") == before  # nothing stored


@pytest.mark.parametrize("version", VERSIONS)
def test_two_evses_and_connectors_of_distinct_ids_are_stored(core: EmspCore, version: str) -> None:
    cpo = _registered(core, version)
    loc = location(version, "LOC-U")
    evse = loc["evses"][0]
    loc["evses"] = [evse | {"connectors": _twice(evse["connectors"], "id", "2")}, _evse(loc, "EVSE-2")]
    assert cpo.call("PUT", "locations/DE/CPA/LOC-U", loc).json()["status_code"] == 1000
