"""Meter values in OCPP-J wire form, written by stations and read by the CSMS, for both versions.

1.6 SampledValue.value is a string with `unit`; 2.0.1 value is a number with unitOfMeasure {unit,
multiplier}. An absent measurand means Energy.Active.Import.Register and an absent unit Wh in both
(1.6 §7.45 / 2.0.1 SampledValueType). Energy stays an integer Wh count here (design principle 7:
conversion to kWh happens at the OCPI adapter).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj.codec import OcppVersion, Payload

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
_MAX_EXP = 24
_MAX_VALUE = Decimal(10) ** 18  # no meter reads an exawatt-hour; beyond it a value is noise
_SCALE = {"Wh": Decimal(1), "kWh": Decimal(1000), "W": Decimal(1), "kW": Decimal(1000)}


def wire_number(value: Decimal) -> int | Decimal:
    """An exact JSON number: integral values as int, so 7400 W is written 7400 and not 7.4E+3."""
    return int(value) if value == value.to_integral_value() else value.normalize()


def meter_value(
    version: OcppVersion, at: datetime, energy_wh: int, power_w: Decimal | None, context: str
) -> Payload:
    samples = [(ENERGY, "Wh", Decimal(energy_wh))]
    if power_w is not None:
        samples.append((POWER, "W", power_w))
    sampled: list[Payload] = []
    for measurand, unit, value in samples:
        if version == "1.6":
            sampled.append(
                {"value": str(wire_number(value)), "context": context, "measurand": measurand, "unit": unit}
            )
        else:
            sampled.append(
                {
                    "value": wire_number(value),
                    "context": context,
                    "measurand": measurand,
                    "unitOfMeasure": {"unit": unit},
                }
            )
    return {"timestamp": format_utc(at), "sampledValue": sampled}


def _scaled(version: OcppVersion, sample: Mapping[str, Any], base_unit: str) -> Decimal | None:
    try:
        value = Decimal(str(sample["value"]))
    except (InvalidOperation, KeyError):
        return None
    if version == "1.6":
        unit, multiplier = sample.get("unit", base_unit), 0
    else:
        uom = sample.get("unitOfMeasure", {})
        unit, multiplier = uom.get("unit", base_unit), uom.get("multiplier", 0)
    scale = _SCALE.get(unit)
    # The schema bounds no multiplier (1,000,000 is schema-valid); a real meter uses a handful.
    if (
        scale is None
        or not value.is_finite()
        or not isinstance(multiplier, int)
        or abs(multiplier) > _MAX_EXP
    ):
        return None
    scaled = value * scale * Decimal(10) ** multiplier
    return scaled if abs(scaled) < _MAX_VALUE else None


def read_sample(version: OcppVersion, value: Mapping[str, Any]) -> tuple[int | None, Decimal | None]:
    """(energy register in whole Wh, active import power in W) of one MeterValue, when present."""
    energy: int | None = None
    power: Decimal | None = None
    for sample in value.get("sampledValue", []):
        measurand = sample.get("measurand", ENERGY)
        if measurand == ENERGY and energy is None:
            wh = _scaled(version, sample, "Wh")
            energy = None if wh is None else int(wh.to_integral_value(rounding=ROUND_FLOOR))
        elif measurand == POWER and power is None:
            power = _scaled(version, sample, "W")
    return energy, power
