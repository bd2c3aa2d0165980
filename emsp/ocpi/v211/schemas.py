"""pydantic v2 models of the OCPI 2.1.1 objects the eMSP receives (the 2.1.1 object tables).

2.1.1 ids are `string(36)` / `string(39)` (not CiString; a CDR's id alone is CiString(36)),
objects carry no country_code/party_id (the party is the partner's, from its credentials or the
URL), a Session and a CDR embed the whole Location (with the one EVSE and Connector used) and name
the driver by `auth_id`, costs are plain numbers excluding VAT, and a tariff's price components
have no `vat`. Fields the eMSP does not read are allowed and kept in the stored wire body.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr, model_validator

from emsp.ocpi.v221 import schemas as v221
from emsp.ocpi.v221.types import (
    CiString36,
    Currency,
    DateTime,
    HeaderToken,
    Int,
    NonNegative,
    Number,
    String3,
    String10,
    String36,
    String39,
    String45,
    String255,
    UnitPrice,
    check_dimension,
    check_parking,
    check_window,
)

AuthMethod = Literal["AUTH_REQUEST", "WHITELIST"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]
LocationType = Literal["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"]
CdrDimensionType = Literal["ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
# string(36) / string(39) ids: case-sensitive printable UTF-8, non-empty (types, string).
Id = Annotated[String36, Field(min_length=1)]
LongId = Annotated[String39, Field(min_length=1)]

_Open = v221._Open


class BusinessDetails(_Open):
    name: StrictStr


class Credentials(_Open):
    # 2.1.1 transport_and_format, "Request format": the token goes into the Authorization header
    # as is, "printable, non-whitespace ASCII characters" (0x21-0x7E); anything else cannot be sent
    token: HeaderToken
    url: Annotated[StrictStr, Field(min_length=1)]
    business_details: BusinessDetails
    party_id: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    country_code: Annotated[StrictStr, Field(min_length=2, max_length=2)]


class Endpoint(_Open):
    identifier: StrictStr
    url: StrictStr


class VersionDetails(_Open):
    version: StrictStr
    endpoints: list[Endpoint]


class Connector(_Open):
    id: Id
    standard: StrictStr
    format: StrictStr
    power_type: StrictStr
    voltage: Int
    amperage: Int
    tariff_id: String36 | None = None
    last_updated: DateTime


class Evse(_Open):
    uid: LongId
    evse_id: Annotated[StrictStr, Field(max_length=48)] | None = None
    status: v221.EvseStatus
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: Annotated[StrictStr, Field(max_length=4)] | None = None
    physical_reference: Annotated[StrictStr, Field(max_length=16)] | None = None
    last_updated: DateTime


class Location(_Open):
    id: LongId
    type: LocationType
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10
    country: String3
    # 2.1.1's text says exactly 6 decimals, yet its own examples carry 5 (51.31271); 2.2.1 settled it
    # as 5 to 7, which is what real 2.1.1 partners send: that pattern here too.
    coordinates: v221.GeoLocation
    evses: list[Evse] | None = None
    time_zone: String255 | None = None
    charging_when_closed: StrictBool | None = None
    last_updated: DateTime


class PriceComponent(_Open):
    type: Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]
    price: UnitPrice
    step_size: Int


class TariffElement(_Open):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]


class Tariff(_Open):
    id: Id
    currency: Currency
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    tariff_alt_url: String255 | None = None
    last_updated: DateTime


# 2.1.1 knows no energy fed back to the grid: none of its dimensions goes below zero.
_NON_NEGATIVE = frozenset(("ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"))


class CdrDimension(_Open):
    type: CdrDimensionType
    volume: Number

    @model_validator(mode="after")
    def _volume(self) -> CdrDimension:
        check_dimension(self.type, self.volume, _NON_NEGATIVE)
        return self


class ChargingPeriod(_Open):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]


class Session(_Open):
    id: Id
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: NonNegative
    auth_id: String36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: NonNegative | None = None
    status: SessionStatus
    last_updated: DateTime

    @model_validator(mode="after")
    def _window(self) -> Session:
        check_window(self.start_datetime, self.end_datetime, (), ("start_datetime", "end_datetime"))
        return self


class Cdr(_Open):
    id: CiString36  # the one 2.1.1 object id that is a CiString (mod_cdrs, CDR object)
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: String36
    auth_method: AuthMethod
    location: Location
    meter_id: String255 | None = None
    currency: Currency
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: NonNegative  # 2.1.1 has no Credit CDRs
    total_energy: NonNegative
    total_time: NonNegative
    total_parking_time: NonNegative | None = None
    remark: String255 | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _window(self) -> Cdr:
        periods = (p.start_date_time for p in self.charging_periods)
        names = ("start_date_time", "stop_date_time")
        check_window(self.start_date_time, self.stop_date_time, periods, names)
        check_parking(self.total_time, self.total_parking_time)
        return self


class LocationReferences(_Open):
    location_id: String39
    evse_uids: list[String39] | None = None
    connector_ids: list[String36] | None = None


class PatchBody(_Open):
    """2.1.1 PATCH carries the changed fields only; last_updated is not required (its examples)."""

    last_updated: DateTime | None = None
