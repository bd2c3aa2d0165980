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
from types import MappingProxyType
from typing import Any

from emsp.timeutil import format_utc
from simulators.ocppj.codec import OcppVersion, Payload

ENERGY = "Energy.Active.Import.Register"
# SampledValue.location (1.6 Location, 2.0.1 LocationEnumType), "Outlet" when absent: what went
# out to the EV is measured at the outlet; an Inlet register counts the station's own draw as well.
OUTLET = "Outlet"
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


# A sample's `phase` (1.6 §7.45 Phase, 2.0.1 PhaseEnumType): when absent, the value is the overall
# one. Per-phase energy/power is measured line to neutral: L1 and L1-N name the same phase. N (the
# neutral conductor) and line-to-line values (L1-L2, ...) are no part of a sum over the phases.
_PHASE_OF = MappingProxyType({"L1": 1, "L2": 2, "L3": 3, "L1-N": 1, "L2-N": 2, "L3-N": 3})


def read_sample(version: OcppVersion, value: Mapping[str, Any]) -> tuple[int | None, Decimal | None]:
    """(energy register in whole Wh, active import power in W) of one MeterValue, when present: the
    overall sample (no `phase`), else the sum of the per-phase ones (a charger may send only those).
    Only Outlet samples count: delivered energy is what left the outlet, never an Inlet reading."""
    totals: dict[str, Decimal] = {}
    phases: dict[str, dict[int, Decimal]] = {}
    for sample in value.get("sampledValue", []):
        measurand = sample.get("measurand", ENERGY)
        if measurand != ENERGY and measurand != POWER:
            continue
        if sample.get("location", OUTLET) != OUTLET:
            continue  # the grid side (Inlet), the EV's own or the station's (Body) reading: not delivered
        phase = sample.get("phase")
        if phase is None:
            if measurand not in totals:
                reading = _scaled(version, sample, "Wh" if measurand == ENERGY else "W")
                if reading is not None:
                    totals[measurand] = reading
        elif (line := _PHASE_OF.get(phase)) is not None:
            per_line = phases.setdefault(measurand, {})
            if line not in per_line:
                reading = _scaled(version, sample, "Wh" if measurand == ENERGY else "W")
                if reading is not None:
                    per_line[line] = reading
    for measurand, per_line in phases.items():
        if measurand not in totals:
            totals[measurand] = sum(per_line.values(), Decimal(0))
    wh = totals.get(ENERGY)
    energy = None if wh is None else int(wh.to_integral_value(rounding=ROUND_FLOOR))
    return energy, totals.get(POWER)


def off_outlet_energy(value: Mapping[str, Any]) -> str | None:
    """The location of the energy register read_sample leaves out of this MeterValue when it holds no
    Outlet one (a station metering only at its Inlet): None if an Outlet register is there, or none
    at all. Lets the CSMS say why such a transaction counts no energy."""
    other = None
    for sample in value.get("sampledValue", []):
        if sample.get("measurand", ENERGY) != ENERGY:
            continue
        location = sample.get("location", OUTLET)
        if location == OUTLET:
            return None
        other = other or location
    return other
