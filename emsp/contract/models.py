"""Contract models of `/api/v1`: what the rest of an operator's platform reads and sends.

Separate from the OCPI wire models (`emsp.ocpi.v*/schemas`) and the storage rows: the contract
is partner-agnostic and versioned on its own. Money and energy travel as decimal *strings* (never
floats), with the currency beside every amount; times are RFC 3339 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

T = TypeVar("T")

# OCPI identifiers are CiString(36); countries and parties CiString(2) / CiString(3) (types).
Ident36 = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[\x21-\x7e]+$")]
CountryCode = Annotated[str, StringConstraints(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$")]
PartyId = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z0-9]{3}$")]

# Characters a token uid may not hold although CiString allows them: the uid is a URL path segment
# (ours `/api/v1/tokens/{uid}`, the CPO's mod_tokens PUT `.../{token_uid}`, our authorize
# `{token_uid}/authorize`). '/' splits it (servers decode %2F before routing), '?' and '#' end the
# path and '%' is re-decoded by some proxies when not escaped; '\\' reads as '/' in WHATWG URLs.
URL_UNSAFE_UID = "/?#%\\"


def addressable_uid(uid: str) -> str:
    """A uid every party can reach by its URL: no URL delimiter, not a dot segment ('.', '..',
    which clients remove from a path, RFC 3986 section 5.2.4)."""
    bad = sorted({ch for ch in uid if ch in URL_UNSAFE_UID})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise ValueError(f"a token uid is a URL path segment: it may not contain {shown}")
    if uid in (".", ".."):
        raise ValueError("a token uid is a URL path segment: '.' and '..' are not addressable")
    return uid


TokenUid = Annotated[Ident36, AfterValidator(addressable_uid)]

# Times outside these bounds are not a charging contract, and near year 1 / 9999 converting an
# offset to UTC overflows; refusing them keeps every bad date a 422.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc_in_range(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("date is out of range") from None
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"date must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    return moment


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    detail: str | None = None


class Page(_Out, Generic[T]):
    """One page of a list: `total` counts every match, `items` holds at most `limit` from `offset`."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None  # None on the last page


class Money(_Out):
    excl_vat: str
    incl_vat: str | None
    currency: str


def money(excl: Decimal | None, incl: Decimal | None, currency: str) -> Money | None:
    return None if excl is None else Money(excl_vat=text(excl), incl_vat=dec(incl), currency=currency)


def text(value: Decimal) -> str:
    """Exact decimal text without exponent (Decimal('1E+1') -> '10')."""
    return f"{value:f}"


def dec(value: Decimal | None) -> str | None:
    return None if value is None else text(value)


# ---- tokens ----


class TokenType(StrEnum):  # mod_tokens TokenType
    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class Whitelist(StrEnum):  # mod_tokens WhitelistType
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class TokenLocation(_In):
    """One location a token may charge at: location ids are unique only within their CPO party."""

    country_code: CountryCode
    party_id: PartyId
    location_id: Ident36


class TokenLocationOut(_Out):
    country_code: str
    party_id: str
    location_id: str


class TokenIssue(_In):
    uid: TokenUid
    type: TokenType = TokenType.RFID
    contract_id: Ident36
    issuer: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    whitelist: Whitelist = Whitelist.ALLOWED
    valid: bool = True
    has_credit: bool = True
    expires_at: AwareDatetime | None = None
    allowed_locations: Annotated[list[TokenLocation], Field(max_length=1000)] | None = None

    _range = field_validator("expires_at")(utc_in_range)


class TokenOut(_Out):
    uid: str
    type: str
    contract_id: str
    issuer: str
    whitelist: str
    valid: bool
    has_credit: bool
    expires_at: datetime | None
    allowed_locations: list[TokenLocationOut] | None  # None: anywhere
    last_updated: datetime
    pushed_to: list[str]  # partners a Token PUT was queued for by this change (empty on reads)
    # Federated identity: the canonical driver, and the one partner this token is for (None: every).
    driver_id: str | None = None
    partner: str | None = None


class DriverOut(_Out):
    """A driver: their contract (OCPI contract_id / eMA-ID) and the tokens issued for it; or, under
    federated identity, the canonical driver id, every token ever issued to them and, per partner,
    the token that partner knows them by now (`partners`)."""

    contract_id: str | None
    tokens: list[TokenOut]
    driver_id: str | None = None
    account_id: str | None = None  # the billing account of the canonical driver (emsp.billing)
    partners: dict[str, TokenOut] = {}


# ---- sessions, CDRs, invoice lines ----


class SessionOut(_Out):
    partner: str
    country_code: str
    party_id: str
    id: str
    status: str
    token_uid: str
    contract_id: str
    authorization_reference: str | None
    location_id: str
    kwh: str
    start: datetime
    end: datetime | None
    total_cost: Money | None  # as the CPO states it so far
    last_updated: datetime


class CdrOut(_Out):
    partner: str
    country_code: str
    party_id: str
    id: str
    session_id: str | None
    token_uid: str
    contract_id: str
    authorization_reference: str | None
    location_id: str
    total_energy_kwh: str
    total_cost: Money
    start: datetime
    end: datetime
    received_at: datetime
    credit: bool


class InvoiceLineOut(_Out):
    line_no: int
    partner: str
    country_code: str
    party_id: str
    cdr_id: str
    session_id: str | None
    token_uid: str
    contract_id: str
    energy_kwh: str
    amount: Money | None  # our own re-price of the CDR; None when it could not be priced
    cpo_amount: Money  # what the CPO's CDR states
    delta_excl_vat: str | None  # ours - CPO's
    tariff_id: str | None
    note: str
    at: datetime


# ---- quotes (AFIR price display before authorization) ----


class QuoteRequest(_In):
    country_code: CountryCode
    party_id: PartyId
    location_id: Ident36
    evse_uid: Ident36 | None = None
    connector_id: Ident36 | None = None  # needs evse_uid: connector ids are unique per EVSE only
    energy_kwh: Annotated[Decimal, Field(ge=0, le=100_000, allow_inf_nan=False)]
    duration_minutes: Annotated[Decimal, Field(gt=0, le=366 * 24 * 60, allow_inf_nan=False)]
    power_kw: Annotated[Decimal, Field(gt=0, le=10_000, allow_inf_nan=False)] | None = None
    start: AwareDatetime | None = None  # default: now

    _range = field_validator("start")(utc_in_range)


class ConnectorRef(_Out):
    evse_uid: str
    connector_id: str


class DisplayText(_Out):
    language: str
    text: str


class TariffQuote(_Out):
    tariff_id: str
    currency: str
    connectors: list[ConnectorRef]  # where this price applies
    total_cost: Money
    total_energy_cost: Money | None
    total_time_cost: Money | None
    total_parking_cost: Money | None
    total_fixed_cost: Money | None
    total_energy_kwh: str
    total_time_hours: str
    total_parking_time_hours: str
    tariff_alt_text: list[DisplayText]
    warnings: list[str]


class QuoteOut(_Out):
    country_code: str
    party_id: str
    location_id: str
    start: datetime
    energy_kwh: str
    duration_minutes: str
    quotes: list[TariffQuote]  # one per distinct tariff in effect among the connectors asked about
    unpriced: list[ConnectorRef]  # connectors in scope without a tariff in effect
    # Per quoted tariff, what the location's jurisdiction says to show before authorizing (AFIR: the
    # per-kWh price incl. VAT); emsp.billing.jurisdictions.
    price_display: list[dict[str, str]] = []
