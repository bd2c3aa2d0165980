"""Energy fed back to the grid (V2G) in a CDR, and how the eMSP bills it.

OCPI 2.2.1 and 2.3.0 (mod_cdrs, CdrDimensionType ENERGY): a negative ENERGY volume means more energy
went from the EV into the grid than into the EV during that period. A Tariff prices what a driver
takes (mod_tariffs PriceComponent: price per unit); it has no feed-in price. So an import tariff
applied to a negative volume would pay the driver at the import price, which no one agreed to.

Billing rule: a period's negative ENERGY is priced as 0 kWh (what was charged, and the time and flat
components, are priced as usual); the kWh fed back are named on the invoice line, and the CDR is a
finding (`negative_energy_cdr`), so a person decides whether the driver is owed anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


def _energy_volumes(cdr: Mapping[str, Any]) -> list[Decimal]:
    volumes: list[Decimal] = []
    periods = cdr.get("charging_periods")
    for period in periods if isinstance(periods, list) else []:
        dimensions = period.get("dimensions") if isinstance(period, Mapping) else None
        for dimension in dimensions if isinstance(dimensions, list) else []:
            if isinstance(dimension, Mapping) and dimension.get("type") == "ENERGY":
                volume = dimension.get("volume")
                if isinstance(volume, int | Decimal) and not isinstance(volume, bool):
                    volumes.append(Decimal(volume))
    return volumes


def fed_back_kwh(cdr: Mapping[str, Any]) -> Decimal:
    """The kWh of the CDR's periods with a negative ENERGY volume, as a positive number (0: none)."""
    return -sum((v for v in _energy_volumes(cdr) if v < 0), ZERO)


def import_only(cdr: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `cdr` whose negative ENERGY volumes are 0 (the form the tariff is applied to)."""
    out = dict(cdr)
    periods = []
    for period in cdr.get("charging_periods") or []:
        if not isinstance(period, Mapping):
            periods.append(period)
            continue
        dimensions = [
            {**d, "volume": ZERO} if _negative_energy(d) else d for d in period.get("dimensions") or []
        ]
        periods.append({**period, "dimensions": dimensions})
    out["charging_periods"] = periods
    return out


def _negative_energy(dimension: Any) -> bool:
    if not isinstance(dimension, Mapping) or dimension.get("type") != "ENERGY":
        return False
    volume = dimension.get("volume")
    return isinstance(volume, int | Decimal) and not isinstance(volume, bool) and volume < 0
