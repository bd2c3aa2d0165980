"""pydantic v2 models of the OCPI 2.2.1 objects the eMSP receives.

Only what this slice relies on is required (as the spec marks it required); every other field is
allowed and kept in the raw JSON. Types are checked JSON-strictly: a number given as a string, or a
DateTime that is not a string, is a 2001 rather than being coerced. Every field the eMSP stores in a
column, and the common optional fields of each object, carry the spec's type and length
(`emsp.ocpi.v221.types`); the enums the eMSP reads are closed (a status it cannot know is refused).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, TypeAdapter, model_validator

from emsp.ocpi.v221.types import (
    NON_NEGATIVE_DIMENSIONS,
    CiString2,
    CiString3,
    CiString36,
    CiString39,
    CiString48,
    CredentialsToken,
    Currency,
    DateTime,
    Int,
    NonNegative,
    Number,
    String2,
    String3,
    String4,
    String10,
    String11,
    String16,
    String20,
    String45,
    String255,
    String512,
    UnitPrice,
    Url,
    check_dimension,
    check_parking,
    check_window,
)

CiString = CiString36
CountryCode = CiString2
PartyId = CiString3
TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]
AuthMethod = Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
EvseStatus = Literal[
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
]
TariffDimension = Literal["ENERGY", "FLAT", "PARKING_TIME", "TIME"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DisplayText(_Open):
    language: String2
    text: String512


class GeoLocation(_Open):
    """mod_locations GeoLocation: decimal degrees with 5 to 7 decimals (2.1.1 reuses it)."""

    latitude: Annotated[String10, Field(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
    longitude: Annotated[String11, Field(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]


class Price(_Open):
    excl_vat: Number
    incl_vat: Number | None = None


class Cost(_Open):
    """A Price that must not be negative (what a driver pays for something consumed)."""

    excl_vat: NonNegative
    incl_vat: NonNegative | None = None


class BusinessDetails(_Open):
    name: StrictStr


class CredentialsRole(_Open):
    role: StrictStr
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(_Open):
    # Base64 encoded into the header, but a 2.1.1 partner takes it raw (the handshake's retry):
    # a token not ASCII could never be sent there.
    token: CredentialsToken
    url: Annotated[StrictStr, Field(min_length=1)]
    roles: Annotated[list[CredentialsRole], Field(min_length=1)]


class Connector(_Open):
    id: CiString
    standard: StrictStr | None = None  # an enum in the spec; the eMSP only stores it
    format: StrictStr | None = None
    power_type: StrictStr | None = None
    max_voltage: Int | None = None
    max_amperage: Int | None = None
    max_electric_power: Int | None = None
    tariff_ids: list[CiString] | None = None
    terms_and_conditions: Url | None = None
    last_updated: DateTime


class Evse(_Open):
    uid: CiString
    evse_id: CiString48 | None = None
    status: EvseStatus
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    last_updated: DateTime


class Location(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    publish: StrictBool | None = None
    name: String255 | None = None
    address: String45 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    directions: list[DisplayText] | None = None
    time_zone: Annotated[String255, Field(min_length=1)]
    evses: list[Evse] | None = None
    last_updated: DateTime


class PriceComponent(_Open):
    type: TariffDimension
    price: UnitPrice
    vat: Number | None = None
    step_size: Int


class TariffElement(_Open):
    price_components: Annotated[list[PriceComponent], Field(min_length=1)]


class Tariff(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    currency: Currency
    type: StrictStr | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: Url | None = None
    min_price: Cost | None = None  # bounds of a cost: never negative (2.3.0's PriceLimit says so)
    max_price: Cost | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    last_updated: DateTime


class CdrToken(_Open):
    # mod_cdrs CdrToken: all five fields are required (country_code/party_id of the token's eMSP).
    country_code: CountryCode
    party_id: PartyId
    uid: CiString
    type: TokenType
    contract_id: CiString


class CdrDimension(_Open):
    type: StrictStr
    volume: Number

    @model_validator(mode="after")
    def _volume(self) -> CdrDimension:
        check_dimension(self.type, self.volume, NON_NEGATIVE_DIMENSIONS)
        return self


class ChargingPeriod(_Open):
    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: CiString | None = None


class Session(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: NonNegative
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString | None = None
    location_id: CiString
    evse_uid: CiString
    connector_id: CiString
    meter_id: String255 | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Cost | None = None
    status: SessionStatus
    last_updated: DateTime

    @model_validator(mode="after")
    def _window(self) -> Session:
        check_window(self.start_date_time, self.end_date_time, (), ("start_date_time", "end_date_time"))
        return self


def field_checks(model: type[_Open]) -> dict[str, TypeAdapter[Any]]:
    """Per field of `model`, its validation alone, exactly as `model` validates that field: what
    a PATCH carries of an object, checked without the rest (one call per field sent)."""
    return {name: TypeAdapter(f.rebuild_annotation()) for name, f in model.model_fields.items()}


# A Session PATCH's fields alone (emsp.ocpi.v221.adapter: the lean PATCH path). Session's only rule
# across fields is its window (`_window`): a PATCH that sends neither of its fields keeps a valid
# stored Session valid when each field sent is valid; one that sends either takes the general path.
SESSION_FIELDS = field_checks(Session)
SESSION_WINDOW_FIELDS = frozenset({"start_date_time", "end_date_time"})


class CdrLocation(_Open):
    """mod_cdrs CdrLocation (2.2.1 and 2.3.0 alike): every field of cardinality 1 is required.
    Billing and the invoice read address, country and evse_id; without them a CDR could not be
    traced to where it was charged."""

    id: CiString
    name: String255 | None = None
    address: String45
    city: String45
    postal_code: String10 | None = None
    state: String20 | None = None
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString
    evse_id: CiString48
    connector_id: CiString
    # Enums in the spec (ConnectorType, ConnectorFormat, PowerType); the eMSP only stores them.
    connector_standard: StrictStr
    connector_format: StrictStr
    connector_power_type: StrictStr


class Cdr(_Open):
    country_code: CountryCode
    party_id: PartyId
    id: CiString39
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: Currency
    tariffs: list[dict[str, Any]] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    total_cost: Price
    total_fixed_cost: Cost | None = None
    total_energy: NonNegative
    total_energy_cost: Cost | None = None
    total_time: NonNegative
    total_time_cost: Cost | None = None
    total_parking_time: NonNegative | None = None
    total_parking_cost: Cost | None = None
    total_reservation_cost: Cost | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: StrictBool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: StrictBool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _window(self) -> Cdr:
        periods = (p.start_date_time for p in self.charging_periods)
        check_window(self.start_date_time, self.end_date_time, periods, ("start_date_time", "end_date_time"))
        check_parking(self.total_time, self.total_parking_time)
        return self

    @model_validator(mode="after")
    def _total_cost_sign(self) -> Cdr:
        """total_cost is negative only in a Credit CDR, which negates it (mod_cdrs, Credit CDRs)."""
        amounts = [self.total_cost.excl_vat, self.total_cost.incl_vat]
        if any(a is not None and (a > 0 if self.credit else a < 0) for a in amounts):
            sign = "positive in a Credit CDR" if self.credit else "negative outside a Credit CDR"
            raise ValueError(f"total_cost must not be {sign}")
        return self

    @model_validator(mode="after")
    def _credit_reference(self) -> Cdr:
        """A Credit CDR names the CDR it credits: credit_reference_id "is required to be filled for a
        Credit CDR" (2.2.1 and 2.3.0 mod_cdrs, CDR object); without it nothing says what is reversed."""
        if self.credit and self.credit_reference_id is None:
            raise ValueError("credit_reference_id required for a Credit CDR")
        return self


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
