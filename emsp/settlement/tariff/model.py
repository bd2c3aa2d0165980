"""Parsed OCPI tariff types (frozen, slotted dataclasses) and the 2.2.1 / 2.1.1 parsers.

The hot path never touches JSON or pydantic: a tariff is parsed once into these objects, and the
per-dimension element lists the engine scans are precomputed here (`Tariff.by_dimension`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from emsp.timeutil import parse_utc

ENERGY = "ENERGY"
FLAT = "FLAT"
PARKING_TIME = "PARKING_TIME"
TIME = "TIME"
DIMENSIONS = (ENERGY, FLAT, PARKING_TIME, TIME)
RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TARIFF_TYPES = ("AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR")

# 2.2.1 regexes (mod_tariffs TariffRestrictions); 2.1.1 allowed [0-2][0-9], i.e. also "24:00".
_TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
_TIME_RE_211 = re.compile(r"^([0-1][0-9]|2[0-4]):[0-5][0-9]$")
_DATE_RE = re.compile(r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
_ZERO = Decimal(0)


class TariffError(Exception):
    """Invalid tariff, CDR or session input; `field` is a path such as `elements[1].restrictions`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI Price: `incl_vat` is None when VAT is unknown (a 2.1.1 component: it has no `vat`)."""

    excl_vat: Decimal
    incl_vat: Decimal | None

    def to_ocpi(self) -> dict[str, Decimal]:
        out = {"excl_vat": self.excl_vat}
        if self.incl_vat is not None:
            out["incl_vat"] = self.incl_vat
        return out


@dataclass(frozen=True, slots=True)
class PriceComponent:
    type: str
    price: Decimal
    vat: Decimal | None  # percent; None: 2.2.1 "no VAT applicable" (not 0 %), 2.1.1 unknown
    step_size: int
    # Precomputed (price * (1 + vat/100); the price when no VAT applies; None when unknown, 2.1.1)
    # so the engine does one multiplication per line.
    price_incl_vat: Decimal | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """Times are minutes of the local day; `end_time` 00:00 is stored as 1440 (end of day)."""

    start_time: int | None = None
    end_time: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[int] = frozenset()  # datetime.weekday() numbers, empty = every day
    reservation: str | None = None

    @property
    def uses_power(self) -> bool:
        return self.min_power is not None or self.max_power is not None

    @property
    def uses_current(self) -> bool:
        return self.min_current is not None or self.max_current is not None


@dataclass(frozen=True, slots=True)
class TariffElement:
    index: int
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None

    def component(self, dimension: str) -> PriceComponent | None:
        """First component of that dimension (duplicates are a lint warning, never used)."""
        for comp in self.price_components:
            if comp.type == dimension:
                return comp
        return None


@dataclass(frozen=True, slots=True)
class Tariff:
    id: str
    country_code: str
    party_id: str
    currency: str
    elements: tuple[TariffElement, ...]
    type: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    last_updated: datetime | None = None
    version: str = "2.2.1"
    # dimension -> ((element, component), ...) in tariff order (all elements).
    by_dimension: Mapping[str, tuple[tuple[TariffElement, PriceComponent], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # session kind (None, RESERVATION, RESERVATION_EXPIRES) -> dimension -> first-match scan list,
    # precomputed once so the engine never filters elements per CDR.
    scan: Mapping[str | None, Mapping[str, tuple[tuple[TariffElement, PriceComponent], ...]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    # Whether any element restricts by power/current: the engine derives those measures only then.
    uses_power: bool = field(default=False, compare=False)
    uses_current: bool = field(default=False, compare=False)


def to_decimal(value: Any, path: str) -> Decimal:
    """OCPI number -> Decimal; floats go through str() so 0.1 stays 0.1."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise TariffError(path, "must be a number")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise TariffError(path, "must be a number") from None
    if not result.is_finite():
        raise TariffError(path, "must be a finite number")
    return result


def _opt_decimal(
    data: Mapping[str, Any], key: str, path: str, *, non_negative: bool = True
) -> Decimal | None:
    if data.get(key) is None:
        return None
    value = to_decimal(data[key], f"{path}.{key}")
    if non_negative and value < 0:
        raise TariffError(f"{path}.{key}", "must be >= 0")
    return value


def _int(value: Any, path: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    try:
        number = to_decimal(value, path)
    except TariffError:
        raise TariffError(path, "must be an integer >= 0") from None
    if number != number.to_integral_value() or number < 0:
        raise TariffError(path, "must be an integer >= 0")
    return int(number)


def _str(data: Mapping[str, Any], key: str, path: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise TariffError(f"{path}{key}", "is required")
        return None
    if not isinstance(value, str):
        raise TariffError(f"{path}{key}", "must be a string")
    return value


def _time(value: Any, path: str, *, is_end: bool, v211: bool) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str) or not (_TIME_RE_211 if v211 else _TIME_RE).match(value):
        raise TariffError(path, "must be a time HH:MM (24h, leading zeros)")
    minutes = int(value[:2]) * 60 + int(value[3:])
    if minutes > 1440:
        raise TariffError(path, "must be a time HH:MM (24h, leading zeros)")
    # Spec: "To stop at end of the day use: 00:00" -- so an end_time of 00:00 means 24:00.
    if is_end and minutes == 0:
        return 1440
    if not is_end and minutes == 1440:
        return 0
    return minutes


def _date(value: Any, path: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise TariffError(path, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TariffError(path, "must be a valid calendar date") from None


def _datetime(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TariffError(path, "must be an RFC 3339 timestamp")
    try:
        return parse_utc(value)
    except ValueError:
        raise TariffError(path, "must be an RFC 3339 timestamp") from None


def parse_price(value: Any, path: str) -> Price | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TariffError(path, "must be a Price object")
    if value.get("excl_vat") is None:
        raise TariffError(f"{path}.excl_vat", "is required")
    excl = to_decimal(value["excl_vat"], f"{path}.excl_vat")
    incl = None if value.get("incl_vat") is None else to_decimal(value["incl_vat"], f"{path}.incl_vat")
    return Price(excl, incl)


def _restrictions(data: Any, path: str, *, v211: bool) -> TariffRestrictions | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be an object")
    days: set[int] = set()
    raw_days = data.get("day_of_week") or []
    if not isinstance(raw_days, Sequence) or isinstance(raw_days, str):
        raise TariffError(f"{path}.day_of_week", "must be a list of DayOfWeek")
    for i, day in enumerate(raw_days):
        if day not in DAYS:
            raise TariffError(f"{path}.day_of_week[{i}]", f"unknown DayOfWeek {day!r}")
        days.add(DAYS.index(day))
    reservation = None
    if not v211:
        reservation = data.get("reservation")
        if reservation is not None and reservation not in (RESERVATION, RESERVATION_EXPIRES):
            raise TariffError(f"{path}.reservation", f"unknown ReservationRestrictionType {reservation!r}")
    return TariffRestrictions(
        start_time=_time(data.get("start_time"), f"{path}.start_time", is_end=False, v211=v211),
        end_time=_time(data.get("end_time"), f"{path}.end_time", is_end=True, v211=v211),
        start_date=_date(data.get("start_date"), f"{path}.start_date"),
        end_date=_date(data.get("end_date"), f"{path}.end_date"),
        min_kwh=_opt_decimal(data, "min_kwh", path),
        max_kwh=_opt_decimal(data, "max_kwh", path),
        # 2.1.1 has no current restrictions; ignore them rather than invent semantics.
        min_current=None if v211 else _opt_decimal(data, "min_current", path, non_negative=False),
        max_current=None if v211 else _opt_decimal(data, "max_current", path, non_negative=False),
        min_power=_opt_decimal(data, "min_power", path, non_negative=False),
        max_power=_opt_decimal(data, "max_power", path, non_negative=False),
        min_duration=_int(data.get("min_duration"), f"{path}.min_duration", allow_none=True),
        max_duration=_int(data.get("max_duration"), f"{path}.max_duration", allow_none=True),
        day_of_week=frozenset(days),
        reservation=reservation,
    )


def _component(data: Any, path: str, *, v211: bool) -> PriceComponent:
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be an object")
    ctype = data.get("type")
    if ctype not in DIMENSIONS:
        raise TariffError(f"{path}.type", f"must be one of {', '.join(DIMENSIONS)}")
    if data.get("price") is None:
        raise TariffError(f"{path}.price", "is required")
    price = to_decimal(data["price"], f"{path}.price")
    # 2.1.1 has no VAT field at all: VAT is unknown, never "0 %", and so is the price incl. VAT.
    vat = None if v211 else _opt_decimal(data, "vat", path)
    if data.get("step_size") is None:
        raise TariffError(f"{path}.step_size", "is required")
    step = _int(data["step_size"], f"{path}.step_size")
    assert step is not None
    # 2.2.1 mod_tariffs, PriceComponent class: an omitted `vat` means no VAT is applicable, so the
    # price incl. VAT is the price itself (which still differs from a stated 0 %: `vat` stays None).
    if vat is not None:
        incl: Decimal | None = price * (1 + vat / 100)
    else:
        incl = None if v211 else price
    return PriceComponent(type=ctype, price=price, vat=vat, step_size=step, price_incl_vat=incl)


def _elements(raw: Any, *, v211: bool) -> tuple[TariffElement, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise TariffError("elements", "must be a non-empty list of TariffElement")
    out = []
    for i, el in enumerate(raw):
        path = f"elements[{i}]"
        if not isinstance(el, Mapping):
            raise TariffError(path, "must be an object")
        comps = el.get("price_components")
        if not isinstance(comps, Sequence) or isinstance(comps, str) or not comps:
            raise TariffError(f"{path}.price_components", "must be a non-empty list of PriceComponent")
        parsed = tuple(_component(c, f"{path}.price_components[{j}]", v211=v211) for j, c in enumerate(comps))
        out.append(
            TariffElement(i, parsed, _restrictions(el.get("restrictions"), f"{path}.restrictions", v211=v211))
        )
    return tuple(out)


ScanTable = dict[str, tuple[tuple[TariffElement, PriceComponent], ...]]


def _index(elements: Sequence[TariffElement]) -> ScanTable:
    index: ScanTable = {}
    for dim in DIMENSIONS:
        pairs = []
        for el in elements:
            comp = el.component(dim)
            if comp is not None:
                pairs.append((el, comp))
        index[dim] = tuple(pairs)
    return index


def _reservation_of(el: TariffElement) -> str | None:
    return None if el.restrictions is None else el.restrictions.reservation


def _scan(elements: tuple[TariffElement, ...]) -> dict[str | None, ScanTable]:
    session = [e for e in elements if _reservation_of(e) is None]
    reserved = [e for e in elements if _reservation_of(e) == RESERVATION]
    expires = [e for e in elements if _reservation_of(e) == RESERVATION_EXPIRES]
    # Spec note on ReservationRestrictionType: for an expired reservation the RESERVATION_EXPIRES
    # element wins over a RESERVATION one whatever their order, so scan those first.
    return {
        None: _index(session),
        RESERVATION: _index(reserved),
        RESERVATION_EXPIRES: _index(expires + reserved),
    }


def _build(data: Mapping[str, Any], *, v211: bool, country_code: str, party_id: str) -> Tariff:
    if not isinstance(data, Mapping):
        raise TariffError("tariff", "must be a JSON object")
    currency = _str(data, "currency", "", required=True)
    assert currency is not None
    if len(currency) != 3:
        raise TariffError("currency", "must be an ISO 4217 code of 3 letters")
    ttype = None if v211 else _str(data, "type", "", required=False)
    if ttype is not None and ttype not in TARIFF_TYPES:
        raise TariffError("type", f"unknown TariffType {ttype!r}")
    elements = _elements(data.get("elements"), v211=v211)
    return Tariff(
        id=_str(data, "id", "", required=False) or "",
        country_code=(None if v211 else _str(data, "country_code", "", required=False)) or country_code,
        party_id=(None if v211 else _str(data, "party_id", "", required=False)) or party_id,
        currency=currency,
        elements=elements,
        type=ttype,
        min_price=None if v211 else parse_price(data.get("min_price"), "min_price"),
        max_price=None if v211 else parse_price(data.get("max_price"), "max_price"),
        start_date_time=None if v211 else _datetime(data.get("start_date_time"), "start_date_time"),
        end_date_time=None if v211 else _datetime(data.get("end_date_time"), "end_date_time"),
        last_updated=_datetime(data.get("last_updated"), "last_updated"),
        version="2.1.1" if v211 else "2.2.1",
        by_dimension=_index(elements),
        scan=_scan(elements),
        uses_power=any(e.restrictions is not None and e.restrictions.uses_power for e in elements),
        uses_current=any(e.restrictions is not None and e.restrictions.uses_current for e in elements),
    )


def parse_tariff(data: Mapping[str, Any]) -> Tariff:
    """Parse an OCPI 2.2.1 Tariff object.

    Only what pricing needs is mandatory here (`currency`, `elements`); the other required
    metadata fields (`id`, `country_code`, `party_id`, `last_updated`) are checked by `lint_tariff`,
    so that partial tariffs embedded in test CDRs can still be priced.
    """
    return _build(data, v211=False, country_code="", party_id="")


def parse_tariff_211(data: Mapping[str, Any], *, country_code: str = "", party_id: str = "") -> Tariff:
    """Parse an OCPI 2.1.1 Tariff into the same model (the version adapter).

    Mapping choices:
    - no `vat` in 2.1.1: every component has VAT unknown, so `incl_vat` is never computed;
    - no `country_code`/`party_id` in 2.1.1: taken from the caller (the credentials of the partner);
    - no min/max price, tariff type, validity window, current or reservation restrictions in 2.1.1:
      such keys are ignored (they cannot appear in a conformant 2.1.1 object);
    - "first tariff in the list with matching restrictions" is read per dimension, as in 2.2.1:
      the 2.1.1 complex example (a FLAT element first, TIME elements after) only works that way;
    - restriction times are read as local time at the Location (2.2.1 makes this explicit), and
      the 2.1.1 regex allows "24:00", which is read as end of day.
    """
    return _build(data, v211=True, country_code=country_code, party_id=party_id)
