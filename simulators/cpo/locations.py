"""OCPI 2.2.1 Location objects for the mock CPO's sites: one EVSE per station connector.

OCPI mod_locations: an EVSE is the part that charges one EV at a time, so a two-connector AC
station that charges two cars at once is two EVSEs, each with one Connector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.timeutil import format_utc


@dataclass(frozen=True, slots=True)
class StationSite:
    station_id: str
    connectors: int
    max_power_kw: Decimal


@dataclass(frozen=True, slots=True)
class SiteSpec:
    location_id: str
    name: str
    address: str
    city: str
    country: str
    latitude: str
    longitude: str
    time_zone: str
    tariff_id: str
    stations: tuple[StationSite, ...]


@dataclass(frozen=True, slots=True)
class EvseRef:
    location_id: str
    evse_uid: str
    evse_id: str
    connector_id: str
    max_power_kw: Decimal


def evse_uid(station_id: str, connector_id: int) -> str:
    return f"{station_id}-{connector_id}"


def evse_id(country_code: str, party_id: str, station_id: str, connector_id: int) -> str:
    """An eMI3-style EVSE ID (OCPI mod_locations, EVSE.evse_id)."""
    return f"{country_code}*{party_id}*E{station_id.replace('-', '')}*{connector_id}"


def build_location(
    site: SiteSpec,
    country_code: str,
    party_id: str,
    now: datetime,
    evses: Mapping[tuple[str, int], EvseRef] | None = None,
) -> dict[str, Any]:
    """`evses`: the CPO's evse_index of the site, whose uid and evse_id texts the Location reuses."""
    stamp = format_utc(now)
    # A CPO keeps its Locations all run long, one EVSE per station connector: EVSEs of one power
    # share one connectors list (equal text; read only, as version adapters and dialect dress copy
    # what they change) instead of ~0.4 KiB of equal dicts and lists each.
    connectors_of: dict[Decimal, list[dict[str, Any]]] = {}
    listed = []
    for station in site.stations:
        connectors = connectors_of.get(station.max_power_kw)
        if connectors is None:
            connectors = connectors_of[station.max_power_kw] = [_connector(station, site.tariff_id, stamp)]
        for connector in range(1, station.connectors + 1):
            ref = None if evses is None else evses.get((station.station_id, connector))
            listed.append(
                {
                    "uid": evse_uid(station.station_id, connector) if ref is None else ref.evse_uid,
                    "evse_id": (
                        evse_id(country_code, party_id, station.station_id, connector)
                        if ref is None
                        else ref.evse_id
                    ),
                    "status": "AVAILABLE",
                    "connectors": connectors,
                    "last_updated": stamp,
                }
            )
    return {
        "country_code": country_code,
        "party_id": party_id,
        "id": site.location_id,
        "publish": True,
        "name": site.name,
        "address": site.address,
        "city": site.city,
        "country": site.country,
        "coordinates": {"latitude": site.latitude, "longitude": site.longitude},
        "evses": listed,
        "time_zone": site.time_zone,
        "last_updated": stamp,
    }


def _connector(station: StationSite, tariff_id: str, stamp: str) -> dict[str, Any]:
    # 3-phase AC at 230 V: amperage follows from the station's power (rounded down to whole A).
    amperage = int(station.max_power_kw * 1000 / (3 * 230))
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": amperage,
        "max_electric_power": int(station.max_power_kw * 1000),
        "tariff_ids": [tariff_id],
        "last_updated": stamp,
    }


def evse_index(site: SiteSpec, country_code: str, party_id: str) -> dict[tuple[str, int], EvseRef]:
    index = {}
    for station in site.stations:
        for connector in range(1, station.connectors + 1):
            index[(station.station_id, connector)] = EvseRef(
                location_id=site.location_id,
                evse_uid=evse_uid(station.station_id, connector),
                evse_id=evse_id(country_code, party_id, station.station_id, connector),
                connector_id="1",
                max_power_kw=station.max_power_kw,
            )
    return index
