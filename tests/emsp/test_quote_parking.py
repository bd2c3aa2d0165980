"""The driver's quote covers the parking after a fast charge (review9 M2): an unchanged tariff with
a blocking fee billed visits above a quote that spread the energy over the whole stay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from emsp_helpers import Client, V, location, tariff

from emsp.core import EmspCore


def _quote(core: EmspCore, cpo: Client) -> Decimal | None:
    return core.quote(
        country_code="DE", party_id="CPA", location_id="LOC1", evse_uid="EVSE1", connector_id="1",
        energy_kwh=Decimal(10), stay=timedelta(hours=1), now=cpo.now,
    )  # fmt: skip


def _blocking() -> dict[str, Any]:
    body = tariff()
    body["elements"][0]["price_components"] = [
        {"type": "ENERGY", "price": Decimal("0.35"), "step_size": 1},
        {"type": "PARKING_TIME", "price": Decimal("12.00"), "step_size": 60},
    ]
    return body


def test_the_quote_prices_the_parking_after_charging_at_the_connectors_power(
    core: EmspCore, cpo: Client
) -> None:
    # 3 x 230 V x 32 A = 22.08 kW: 10 kWh in 27.2 min, then 32.8 min parked (33 billed) at 12.00/h.
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", _blocking())
    fast_then_park = Decimal("3.50") + Decimal("6.60")
    assert _quote(core, cpo) == fast_then_park


def test_max_electric_power_is_the_connectors_power(core: EmspCore, cpo: Client) -> None:
    slow = location()
    slow["evses"][0]["connectors"][0]["max_electric_power"] = 3700  # 10 kWh: 162 min > the stay
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", slow)
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", _blocking())
    assert _quote(core, cpo) == Decimal("3.50")  # charging all the hour: never parked
