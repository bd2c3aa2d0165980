"""A scenario's tariff files checked at load with the eMSP's own rules (no second validator).

A tariff the eMSP would refuse (or could never turn into a CDR it accepts) is invalid input of the
scenario: it must stop the run at load (exit 2, naming the file and field), not crash the mock CPO
mid-build (exit 3) nor fail every CDR and be blamed on the eMSP (exit 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from emsp.model import PartyRef
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.versions import ADAPTERS
from emsp.settlement.settle import TariffEnginePricer
from emsp.settlement.tariff import TariffError, parse_tariff
from emsp.wire import loads
from simulators.cpo.versions import wire_for

# Identity the bench writes into every tariff it publishes (bench.world.load_tariffs, publish_tariff):
# a file need not carry it, so it is filled in before the check as it is before the PUT.
_PLACEHOLDER_UPDATED = "2026-01-01T00:00:00Z"


def read_tariff_file(path: Path, rel: str) -> tuple[dict[str, Any] | None, str | None]:
    """The file's JSON object, or None and why not."""
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        return None, f"{rel} is not valid JSON: {exc}"
    if not isinstance(data, dict):
        return None, f"{rel} must hold one OCPI Tariff object"
    return data, None


def tariff_problem(
    data: Mapping[str, Any], version: str, country_code: str, party_id: str, tariff_id: str
) -> str | None:
    """None if the eMSP would accept this tariff in `version` and price CDRs it accepts, else why not.

    The same steps as a PUT to the eMSP's tariffs module: the CPO's wire form of the version, the
    version adapter's schema, then the tariff engine's parse (`check_tariff`).
    """
    doc = dict(data) | {"country_code": country_code, "party_id": party_id, "id": tariff_id}
    doc.setdefault("last_updated", _PLACEHOLDER_UPDATED)
    # The engine's parse of the internal (2.2.1) form first: the CPO converts and prices from it,
    # and its error names the tariff's own field (`elements[0].price_components[0].price`).
    try:
        parsed = parse_tariff(doc)
    except TariffError as exc:
        return str(exc)
    # A negative price: the costs it gives are negative and a CDR's costs must not be, so the eMSP
    # refuses such a tariff at its door (2001). Said here first, naming the tariff's own field.
    for element in parsed.elements:
        for j, comp in enumerate(element.price_components):
            if comp.price < 0:
                where = f"elements[{element.index}].price_components[{j}].price"
                return f"{where}: must not be negative (a CDR's costs may not be: the eMSP refuses it)"
    for name, price in (("min_price", parsed.min_price), ("max_price", parsed.max_price)):
        if price is not None and price.excl_vat < 0:
            return f"{name}.excl_vat: must not be negative (a CDR's costs may not be)"
    try:
        mapped = ADAPTERS[version].tariff(wire_for(version).tariff(doc), PartyRef(country_code, party_id))
    except OcpiError as exc:
        return f"the eMSP refuses it in OCPI {version}: {exc}"
    problem = TariffEnginePricer.check(mapped.doc)
    if problem is not None:
        return f"the eMSP refuses it in OCPI {version}: {problem}"
    return None
