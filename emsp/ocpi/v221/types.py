"""The OCPI 2.2.1 primitive types (types.asciidoc) as pydantic annotations, checked before storage.

- CiString(n): printable ASCII only, at most n characters (ids are also non-empty).
- string(n): printable UTF-8, at most n characters. "Non-printable" is read as control characters
  (tabs, CR, LF, NUL...), line/paragraph separators and lone surrogates (which no UTF-8 can carry):
  letters, marks and symbols of every script stay allowed.
- DateTime: see `emsp.timeutil.parse_ocpi_datetime`.
- number: a finite JSON number with a bounded size (Decimal arithmetic stays exact and cheap).

Lengths are checked on every field the eMSP stores in a column, on every database alike: a value
that SQLite would take and PostgreSQL would refuse must never reach either.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StrictStr

from emsp.timeutil import parse_ocpi_datetime

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

MAX_INTEGER_DIGITS = 15  # 10^15 kWh or EUR: beyond anything one charging session can be
MAX_FRACTION_DIGITS = 12


def bad_character(text: str) -> str | None:
    """The first character OCPI's string type does not allow, as a description, else None."""
    for char in text:
        if unicodedata.category(char) in _BAD_CATEGORIES:
            return f"non-printable character U+{ord(char):04X}"
    return None


def _ci(value: str) -> str:
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise ValueError("CiString allows printable ASCII only")
    return value


def _string(value: str) -> str:
    problem = bad_character(value)
    if problem is not None:
        raise ValueError(f"string has a {problem}")
    return value


# Text -> instant of DateTimes already parsed: a session's PATCH re-validates the whole merged
# session, so every stored charging period's start is parsed again on each update. The parse is a
# pure function of the text and a datetime is immutable, so a remembered result is the same value;
# only successes are kept (a bad text raises afresh). Bounded, the oldest text going first, so once
# full it stays full: emptied when full (4,096) its size swung between 0 and ~0.6 MB with the run's
# length, which made memory per session between two runs a matter of luck. At 1,024 it hits 55% of
# a 2,000-session sim's lookups where 4,096 hit 67% (~4 more parses of ~1 us per session) and holds
# ~0.15 MB, not ~0.6.
_PARSED_DATETIMES: dict[str, datetime] = {}
_MAX_PARSED_DATETIMES = 1024


def _datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be a DateTime string")
    parsed = _PARSED_DATETIMES.get(value)
    if parsed is None:
        parsed = parse_ocpi_datetime(value)
        if len(_PARSED_DATETIMES) >= _MAX_PARSED_DATETIMES:
            del _PARSED_DATETIMES[next(iter(_PARSED_DATETIMES))]  # a dict keeps insertion order
        _PARSED_DATETIMES[value] = parsed
    return parsed


def check_number(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    integer_digits = len(digits) + exponent
    if integer_digits > MAX_INTEGER_DIGITS or -exponent > MAX_FRACTION_DIGITS:
        raise ValueError(
            f"number too large or too precise (at most {MAX_INTEGER_DIGITS} digits"
            f" before and {MAX_FRACTION_DIGITS} after the decimal point)"
        )
    return value


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a JSON number")
    return check_number(Decimal(value))


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a JSON integer")
    if not -(2**31) <= value < 2**31:
        raise ValueError("integer out of range")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _unit_price(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError(
            "must not be negative: every CDR priced with it would carry a negative cost, and a CDR's"
            " costs are negative only in a Credit CDR (mod_cdrs), so each would be refused"
        )
    return value


Number = Annotated[Decimal, BeforeValidator(_number)]
# Energy, durations and the cost of what was consumed: never below zero (a Credit CDR's total_cost
# is the one amount that is negated, mod_cdrs "Credit CDRs").
NonNegative = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_non_negative)]
# A tariff's price per unit (mod_tariffs PriceComponent.price, a plain number in 2.1.1-2.3.0): the
# eMSP refuses a negative one at the tariff's door rather than every CDR it prices (the same rule).
UnitPrice = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_unit_price)]
Int = Annotated[int, BeforeValidator(_int)]
DateTime = Annotated[datetime, BeforeValidator(_datetime)]

# CiString(n): the ids of OCPI objects (non-empty, case-insensitive, printable ASCII).
CiString2 = Annotated[StrictStr, Field(min_length=2, max_length=2), AfterValidator(_ci)]
CiString3 = Annotated[StrictStr, Field(min_length=3, max_length=3), AfterValidator(_ci)]
CiString36 = Annotated[StrictStr, Field(min_length=1, max_length=36), AfterValidator(_ci)]
CiString39 = Annotated[StrictStr, Field(min_length=1, max_length=39), AfterValidator(_ci)]
CiString48 = Annotated[StrictStr, Field(min_length=1, max_length=48), AfterValidator(_ci)]


def _ascii_token(value: str) -> str:
    if not all(" " <= ch <= "~" for ch in value):
        raise ValueError("a credentials token must be printable ASCII only (credentials object)")
    return value


def _header_token(value: str) -> str:
    if not all("!" <= ch <= "~" for ch in value):
        raise ValueError(
            "a credentials token must be printable ASCII without whitespace: it goes into the"
            " Authorization header as is"
        )
    return value


# credentials object `token`, string(64): 2.2.1 says "ASCII only" (printable, types string); 2.1.1
# sends it raw in the header, "printable, non-whitespace ASCII" (transport_and_format).
CredentialsToken = Annotated[StrictStr, Field(min_length=1, max_length=64), AfterValidator(_ascii_token)]
HeaderToken = Annotated[StrictStr, Field(min_length=1, max_length=64), AfterValidator(_header_token)]

# string(n): case-sensitive printable UTF-8.
String2 = Annotated[StrictStr, Field(max_length=2), AfterValidator(_string)]
String3 = Annotated[StrictStr, Field(max_length=3), AfterValidator(_string)]
String4 = Annotated[StrictStr, Field(max_length=4), AfterValidator(_string)]
String5 = Annotated[StrictStr, Field(max_length=5), AfterValidator(_string)]
String10 = Annotated[StrictStr, Field(max_length=10), AfterValidator(_string)]
String11 = Annotated[StrictStr, Field(max_length=11), AfterValidator(_string)]
String16 = Annotated[StrictStr, Field(max_length=16), AfterValidator(_string)]
String20 = Annotated[StrictStr, Field(max_length=20), AfterValidator(_string)]
String36 = Annotated[StrictStr, Field(max_length=36), AfterValidator(_string)]
String39 = Annotated[StrictStr, Field(max_length=39), AfterValidator(_string)]
String45 = Annotated[StrictStr, Field(max_length=45), AfterValidator(_string)]
String64 = Annotated[StrictStr, Field(max_length=64), AfterValidator(_string)]
String100 = Annotated[StrictStr, Field(max_length=100), AfterValidator(_string)]
String255 = Annotated[StrictStr, Field(max_length=255), AfterValidator(_string)]
String512 = Annotated[StrictStr, Field(max_length=512), AfterValidator(_string)]
Url = String255  # types, URL: a string(255)


def _currency(value: str) -> str:
    # An ISO 4217 code is three uppercase letters ("eur" is none). The form is checked, not a list:
    # the tariff engine prices any code its tariffs share, XXX included.
    if not _CURRENCY.fullmatch(value):
        raise ValueError("must be an ISO 4217 currency code: 3 uppercase letters")
    return value


_CURRENCY = re.compile(r"[A-Z]{3}")
Currency = Annotated[StrictStr, AfterValidator(_currency)]

# mod_cdrs CdrDimensionType (2.2.1, 2.3.0): durations, imported/exported energy totals and a flat fee
# are never below zero. ENERGY, CURRENT, POWER and MIN_CURRENT/MIN_POWER may be: "When negative,
# more energy was feed into the grid then charged into the EV" (V2G). MAX_* are left open too: an
# EV that only discharged has a negative maximum.
NON_NEGATIVE_DIMENSIONS = frozenset(
    {"ENERGY_EXPORT", "ENERGY_IMPORT", "FLAT", "PARKING_TIME", "RESERVATION_TIME", "TIME"}
)


def check_dimension(kind: str, volume: Decimal, non_negative: frozenset[str]) -> None:
    """A CdrDimension's volume within what its type allows (mod_cdrs CdrDimensionType)."""
    if kind in non_negative and volume < 0:
        raise ValueError(f"a {kind} volume must not be negative")
    if kind == "STATE_OF_CHARGE" and not 0 <= volume <= 100:
        raise ValueError("a STATE_OF_CHARGE volume must be 0 to 100")


# mod_cdrs, CDR object NOTE: by bilateral agreement an unknown start or end is sent as the epoch.
_UNKNOWN = datetime(1970, 1, 1, tzinfo=UTC)


def check_window(
    start: datetime, end: datetime | None, periods: Iterable[datetime], names: tuple[str, str]
) -> None:
    """A session or CDR ends at or after its start, and its charging periods start within it.

    OCPI 2.2.1 mod_cdrs.asciidoc, CDR object: start_date_time is the start of the session (or of its
    reservation), end_date_time when it was completed; ChargingPeriod: "the last period ends when the
    session ends", so every period starts in [start, end]. The same holds for 2.1.1 (stop_date_time)
    and 2.3.0, and for a Session (mod_sessions: end_date_time when it was completed). An epoch start
    or end (unknown, by agreement) is not compared."""
    start_name, end_name = names
    if start == _UNKNOWN or end == _UNKNOWN:
        return
    if end is not None and end < start:
        raise ValueError(f"{end_name} {end.isoformat()} is before {start_name} {start.isoformat()}")
    for index, at in enumerate(periods):
        if at < start or (end is not None and at > end):
            raise ValueError(
                f"charging_periods[{index}].start_date_time {at.isoformat()} is outside "
                f"{start_name}..{end_name}"
            )


def check_parking(total_time: Decimal, total_parking_time: Decimal | None) -> None:
    """The part of a session spent not charging is within the session (mod_cdrs, CDR object NOTE:
    total_time - total_parking_time is the charging time, never negative)."""
    if total_parking_time is not None and total_parking_time > total_time:
        raise ValueError(f"total_parking_time {total_parking_time} exceeds total_time {total_time}")
