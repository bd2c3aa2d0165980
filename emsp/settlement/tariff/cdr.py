"""CDR-side value types: dimensions, charging periods, meter samples, totals and priced lines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.timeutil import format_utc, parse_utc

from .model import Price, TariffError, to_decimal

# CdrDimensionType values allowed in CDRs (the Session-only ones are accepted and ignored).
CDR_DIMENSIONS = frozenset(
    {
        "CURRENT",
        "ENERGY",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "MAX_CURRENT",
        "MIN_CURRENT",
        "MAX_POWER",
        "MIN_POWER",
        "PARKING_TIME",
        "POWER",
        "RESERVATION_TIME",
        "STATE_OF_CHARGE",
        "TIME",
    }
)


@dataclass(frozen=True, slots=True)
class CdrDimension:
    type: str
    volume: Decimal


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    start_date_time: datetime
    dimensions: tuple[CdrDimension, ...]
    tariff_id: str | None = None

    def volume(self, dimension: str) -> Decimal | None:
        for dim in self.dimensions:
            if dim.type == dimension:
                return dim.volume
        return None

    def to_ocpi(self, decimals: int | None = None) -> dict[str, Any]:
        """CDR JSON form; `decimals` quantizes volumes (OCPI numbers use 4), None keeps them exact."""
        q = None if decimals is None else Decimal(1).scaleb(-decimals)
        out: dict[str, Any] = {
            "start_date_time": format_utc(self.start_date_time),
            "dimensions": [
                {"type": d.type, "volume": d.volume if q is None else d.volume.quantize(q)}
                for d in self.dimensions
            ],
        }
        if self.tariff_id is not None:
            out["tariff_id"] = self.tariff_id
        return out


@dataclass(frozen=True, slots=True)
class MeterSample:
    """Cumulative energy since session start at `timestamp`; power/current when the meter gives them."""

    timestamp: datetime
    energy_kwh: Decimal
    power_kw: Decimal | None = None
    current_a: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CdrTotals:
    """CDR totals. Cost fields are None when no component of that kind applied (absent in the CDR)."""

    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_cost: Price
    total_energy_cost: Price | None = None
    total_time_cost: Price | None = None
    total_parking_cost: Price | None = None
    total_fixed_cost: Price | None = None
    total_reservation_cost: Price | None = None

    def to_ocpi(self, volume_decimals: int | None = 4) -> dict[str, Any]:
        q = None if volume_decimals is None else Decimal(1).scaleb(-volume_decimals)

        def vol(value: Decimal) -> Decimal:
            return value if q is None else value.quantize(q)

        out: dict[str, Any] = {
            "total_cost": self.total_cost.to_ocpi(),
            "total_energy": vol(self.total_energy),
            "total_time": vol(self.total_time),
            "total_parking_time": vol(self.total_parking_time),
        }
        for name in COST_FIELDS[1:]:
            price = getattr(self, name)
            if price is not None:
                out[name] = price.to_ocpi()
        return out


COST_FIELDS = (
    "total_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_fixed_cost",
    "total_reservation_cost",
)
VOLUME_FIELDS = ("total_energy", "total_time", "total_parking_time")


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One row of the breakdown: which element/component priced which volume of which period.

    `category` is the CDR total it feeds: energy, time, parking, fixed or reservation. `element`
    and `component` fields are None when no element matched (the volume is free).
    """

    period_index: int
    start: datetime
    category: str
    dimension: str
    volume: Decimal
    billed_volume: Decimal
    element_index: int | None
    unit_price: Decimal | None
    vat: Decimal | None
    step_size: int | None
    cost: Price | None


@dataclass(frozen=True, slots=True)
class PriceResult:
    totals: CdrTotals
    lines: tuple[PricedLine, ...]
    currency: str
    # min_price/max_price correction included in total_cost (None when the bounds did not bite).
    adjustment: Price | None = None
    warnings: tuple[str, ...] = ()
    policy: str = "default"


def _period_fast(raw: Any) -> ChargingPeriod | None:
    """The common case (Decimals from emsp.wire.loads, valid types) without per-field checks;
    None sends the period through the validating path, which names the faulty field."""
    try:
        dims = []
        for d in raw["dimensions"]:
            volume = d["volume"]
            kind = d["type"]
            if type(volume) is not Decimal or kind not in CDR_DIMENSIONS or not volume.is_finite():
                return None
            dims.append(CdrDimension(kind, volume))
        if not dims:
            return None
        tariff_id = raw.get("tariff_id")
        return ChargingPeriod(
            parse_utc(raw["start_date_time"]), tuple(dims), tariff_id if isinstance(tariff_id, str) else None
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _period(raw: Any, path: str) -> ChargingPeriod:
    fast = _period_fast(raw)
    if fast is not None:
        return fast
    if not isinstance(raw, Mapping):
        raise TariffError(path, "must be a ChargingPeriod object")
    start_raw = raw.get("start_date_time")
    if not isinstance(start_raw, str):
        raise TariffError(f"{path}.start_date_time", "is required (RFC 3339 timestamp)")
    try:
        start = parse_utc(start_raw)
    except ValueError:
        raise TariffError(f"{path}.start_date_time", "must be an RFC 3339 timestamp") from None
    dims_raw = raw.get("dimensions")
    if not isinstance(dims_raw, Sequence) or isinstance(dims_raw, str) or not dims_raw:
        raise TariffError(f"{path}.dimensions", "must be a non-empty list of CdrDimension")
    dims = []
    for i, d in enumerate(dims_raw):
        if not isinstance(d, Mapping) or d.get("type") not in CDR_DIMENSIONS:
            raise TariffError(f"{path}.dimensions[{i}].type", "must be a CdrDimensionType")
        if d.get("volume") is None:
            raise TariffError(f"{path}.dimensions[{i}].volume", "is required")
        dims.append(CdrDimension(d["type"], to_decimal(d["volume"], f"{path}.dimensions[{i}].volume")))
    tariff_id = raw.get("tariff_id")
    return ChargingPeriod(start, tuple(dims), tariff_id if isinstance(tariff_id, str) else None)


def parse_charging_periods(raw: Any) -> list[ChargingPeriod]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise TariffError("charging_periods", "must be a non-empty list of ChargingPeriod")
    return [_period(p, f"charging_periods[{i}]") for i, p in enumerate(raw)]


def parse_cdr_time(cdr: Mapping[str, Any], key: str) -> datetime:
    value = cdr.get(key)
    if not isinstance(value, str):
        raise TariffError(key, "is required (RFC 3339 timestamp)")
    try:
        return parse_utc(value)
    except ValueError:
        raise TariffError(key, "must be an RFC 3339 timestamp") from None
