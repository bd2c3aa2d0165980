"""A mock CPO keeps its Locations all run long, one EVSE per station connector: EVSEs of one power
share one connectors list and reuse the EVSE index's uid and evse_id texts, with the same JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from emsp.wire import dumps, loads
from simulators.cpo.locations import SiteSpec, StationSite, build_location, evse_index

NOW = datetime(2026, 3, 2, 7, 0, 0, 994_000, tzinfo=UTC)
SITE = SiteSpec(
    location_id="LOC-1",
    name="Depot",
    address="Main St 1",
    city="Utrecht",
    country="NLD",
    latitude="52.090000",
    longitude="5.120000",
    time_zone="Europe/Amsterdam",
    tariff_id="STD",
    stations=(
        StationSite("CS-1", 2, Decimal("22")),
        StationSite("CS-2", 2, Decimal("22.0")),  # the same power written otherwise
        StationSite("CS-3", 1, Decimal("11")),
    ),
)


def _connector(amperage: int, watts: int) -> dict[str, object]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": amperage,
        "max_electric_power": watts,
        "tariff_ids": ["STD"],
        "last_updated": "2026-03-02T07:00:00.994Z",
    }


def test_evses_of_one_power_share_their_connectors_and_the_index_texts() -> None:
    index = evse_index(SITE, "NL", "CPO")
    location = build_location(SITE, "NL", "CPO", NOW, index)
    evses = location["evses"]
    assert [e["uid"] for e in evses] == ["CS-1-1", "CS-1-2", "CS-2-1", "CS-2-2", "CS-3-1"]
    assert [e["evse_id"] for e in evses] == [
        "NL*CPO*ECS1*1",
        "NL*CPO*ECS1*2",
        "NL*CPO*ECS2*1",
        "NL*CPO*ECS2*2",
        "NL*CPO*ECS3*1",
    ]
    refs = [index[key] for key in (("CS-1", 1), ("CS-1", 2), ("CS-2", 1), ("CS-2", 2), ("CS-3", 1))]
    assert all(e["uid"] is r.evse_uid and e["evse_id"] is r.evse_id for e, r in zip(evses, refs, strict=True))
    assert len({id(e["connectors"]) for e in evses}) == 2  # 22 kW and 11 kW
    assert [e["connectors"] for e in evses] == [[_connector(31, 22000)]] * 4 + [[_connector(15, 11000)]]
    # Without the index (the scenario's own Locations): equal text, texts of its own.
    assert dumps(build_location(SITE, "NL", "CPO", NOW)) == dumps(location)
    assert loads(dumps(location))["evses"] == evses
