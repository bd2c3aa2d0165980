"""Scenario locations are what a mock CPO publishes over OCPI: each is checked at load the way the
eMSP will read it (so a Location the eMSP must refuse is the author's invalid input, exit 2, not a run
graded as the eMSP's failure), and no two share one URL."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from emsp.model import PartyRef
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.versions import ADAPTERS
from emsp.wire import ci_key
from simulators.cpo.locations import SiteSpec, StationSite, build_location
from simulators.cpo.versions import wire_for

if TYPE_CHECKING:
    from bench.scenario_model import LocationSpec, Scenario

# The eMSP's OCPI field -> the scenario's LocationSpec field it comes from.
_SPEC_FIELD = {
    "coordinates.latitude": "latitude",
    "coordinates.longitude": "longitude",
    "name": "name",
    "address": "address",
    "city": "city",
    "country": "country",
    "time_zone": "time_zone",
    "id": "id",
}
_INVALID_FIELD = re.compile(r"invalid field '([^']+)'")


def site_of(location: LocationSpec) -> SiteSpec:
    """The mock CPO's view of a scenario location (simulators/cpo/locations.py)."""
    return SiteSpec(
        location_id=location.id,
        name=location.name or location.id,
        address=location.address,
        city=location.city,
        country=location.country,
        latitude=location.latitude,
        longitude=location.longitude,
        time_zone=location.time_zone,
        tariff_id=location.tariff,
        stations=tuple(StationSite(s.id, s.connectors, s.max_power_kw) for s in location.stations),
    )


def location_error(scenario: Scenario) -> tuple[str, str] | None:
    """(field, reason) of the first location used twice within a CPO or refused by the eMSP."""
    for cpo_index, cpo in enumerate(scenario.cpos):
        seen: dict[str, int] = {}
        party = PartyRef(cpo.country_code, cpo.party_id)
        for index, location in enumerate(cpo.locations):
            where = f"cpos[{cpo_index}].locations[{index}]"
            # One URL per id (OCPI ids are CiStrings: case does not tell two apart): the second PUT
            # would replace the first at the eMSP.
            first = seen.setdefault(ci_key(location.id), index)
            if first != index:
                return f"{where}.id", (
                    f"location id {location.id!r} is used twice (also locations[{first}]; ids ignore case)"
                )
            problem = _refusal(location, cpo.ocpi_version, party, scenario.start)
            if problem is not None:
                match = _INVALID_FIELD.search(problem)
                field = _SPEC_FIELD.get(match.group(1)) if match else None
                reason = f"the eMSP refuses this Location in OCPI {cpo.ocpi_version}: {problem}"
                return (f"{where}.{field}" if field else where), reason
    return None


def _refusal(location: LocationSpec, version: str, party: PartyRef, now: datetime) -> str | None:
    """Why the eMSP would refuse the Location the mock CPO PUTs for `location`, else None."""
    doc = build_location(site_of(location), party.country_code, party.party_id, now)
    try:
        ADAPTERS[version].location(wire_for(version).location(doc), party)
    except OcpiError as exc:
        return str(exc)
    return None
