"""mod_locations GeoLocation: decimal degrees by the spec's regex, 5 to 7 decimals (2.2.1, 2.3.0;
2.1.1 says 6 but its own examples have 5). A Location whose coordinates miss it is refused (2001),
not stored and served back (review3 F4)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from emsp.model import PartyRef
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.versions import ADAPTERS
from simulators.cpo.locations import SiteSpec, StationSite, build_location
from simulators.cpo.versions import wire_for

CASES = [
    # (latitude, longitude, accepted)
    ("52.090736", "5.121420", True),
    ("-9.123456", "-179.123456", True),
    ("51.31271", "9.47970", True),  # 5 decimals, as in 2.1.1's own Location example
    ("52.0907361", "5.1214201", True),  # 7 decimals
    ("52.090", "5.121", False),  # 3 decimals
    ("north", "5.121420", False),
    ("52.090736", "east", False),
    ("152.090736", "5.121420", False),  # 3 digits of latitude
    ("52,090736", "5.121420", False),  # decimal comma
    ("+52.090736", "5.121420", False),
    ("52.090736\n", "5.121420", False),
    ("52.090736", "1234.12345", False),  # 4 digits of longitude
]


def _location(latitude: str, longitude: str, version: str) -> object:
    site = SiteSpec(
        "LOC-1", "Loc", "Teststraat 1", "Utrecht", "NLD", latitude, longitude, "Europe/Amsterdam",
        "STD", (StationSite("CS-1", 1, Decimal(22)),),
    )  # fmt: skip
    doc = build_location(site, "DE", "CPA", datetime(2026, 3, 2, tzinfo=UTC))
    return ADAPTERS[version].location(wire_for(version).location(doc), PartyRef("DE", "CPA"))


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
@pytest.mark.parametrize(("latitude", "longitude", "accepted"), CASES)
def test_coordinates_follow_the_spec_regex(
    version: str, latitude: str, longitude: str, accepted: bool
) -> None:
    if accepted:
        _location(latitude, longitude, version)
        return
    with pytest.raises(OcpiError) as caught:
        _location(latitude, longitude, version)
    assert caught.value.status_code == 2001
    assert "coordinates" in str(caught.value)
