"""pydantic v2 models of the OCPI 2.2.1 objects the eMSP receives.

Only what this slice relies on is required (as the spec marks it required); every other field is
allowed and kept in the raw JSON. Types are checked JSON-strictly: a number given as a string, or a
DateTime that is not a string, is a 2001 rather than being coerced.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr

from emsp.timeutil import parse_utc


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a JSON number")
    return Decimal(value)


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be a DateTime string")
    try:
        return parse_utc(value)
    except ValueError:
        raise ValueError("not a valid RFC 3339 DateTime") from None


Number = Annotated[Decimal, BeforeValidator(_number)]
DateTime = Annotated[datetime, BeforeValidator(_datetime)]
CiString = Annotated[StrictStr, Field(min_length=1)]
CountryCode = Annotated[StrictStr, Field(min_length=2, max_length=2)]
PartyId = Annotated[StrictStr, Field(min_length=3, max_length=3)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Price(_Open):
    excl_vat: Number
    incl_vat: Number | None = None


class BusinessDetails(_Open):
    name: StrictStr


class CredentialsRole(_Open):
    role: StrictStr
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(_Open):
    token: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    url: Annotated[StrictStr, Field(min_length=1)]
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]


class Connector(_Open):
    id: CiString
    tariff_ids: list[CiString] | None = None
    last_updated: DateTime


class Evse(_Open):
    uid: CiString
    status: StrictStr
    connectors: Annotated[list[Connector], Field(min_length=1)]
    last_updated: DateTime


class Location(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    time_zone: Annotated[StrictStr, Field(min_length=1)]
    evses: list[Evse] | None = None
    last_updated: DateTime


class PriceComponent(_Open):
    type: StrictStr
    price: Number
    step_size: int


class TariffElement(_Open):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]


class Tariff(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    last_updated: DateTime


class CdrToken(_Open):
    # mod_cdrs CdrToken: all five fields are required (country_code/party_id of the token's eMSP).
    country_code: CountryCode
    party_id: PartyId
    uid: CiString
    type: StrictStr
    contract_id: CiString


class ChargingPeriod(_Open):
    start_date_time: DateTime
    dimensions: Annotated[list[dict[str, Any]], Field(min_length=1)]
    tariff_id: CiString | None = None


class Session(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: StrictStr
    authorization_reference: CiString | None = None
    location_id: CiString
    evse_uid: CiString
    connector_id: CiString
    currency: StrictStr
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: StrictStr
    last_updated: DateTime


class CdrLocation(_Open):
    id: CiString
    evse_uid: CiString
    connector_id: CiString


class Cdr(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString | None = None
    cdr_token: CdrToken
    auth_method: StrictStr
    authorization_reference: CiString | None = None
    cdr_location: CdrLocation
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    tariffs: list[dict[str, Any]] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: Price
    total_energy: Number
    total_time: Number
    credit: StrictBool | None = None
    credit_reference_id: CiString | None = None
    last_updated: DateTime


class LocationReferences(_Open):
    location_id: CiString
    evse_uids: list[CiString] | None = None


class PatchBody(_Open):
    """Every PATCH SHALL contain last_updated (locations/sessions/tokens, PATCH method)."""

    last_updated: DateTime


class VersionRef(_Open):
    version: StrictStr
    url: StrictStr


class Endpoint(_Open):
    identifier: StrictStr
    role: StrictStr | None = None  # not relevant for credentials
    url: StrictStr


class VersionDetails(_Open):
    version: StrictStr
    endpoints: list[Endpoint]
