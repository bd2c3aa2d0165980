"""The driver's quote follows the location and tariff we hold now (memos keyed by their JSON)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from emsp_helpers import Client, V, location, tariff

from emsp.core import EmspCore


def _quote(core: EmspCore, cpo: Client) -> Decimal | None:
    return core.quote(
        country_code="DE", party_id="CPA", location_id="LOC1", evse_uid="EVSE1", connector_id="1",
        energy_kwh=Decimal(10), stay=timedelta(hours=1), now=cpo.now,
    )  # fmt: skip


def test_a_changed_location_or_tariff_changes_the_quote(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    assert _quote(core, cpo) == Decimal("3.00")
    dearer = tariff()
    dearer["elements"][0]["price_components"][0]["price"] = Decimal("0.50")
    dearer["last_updated"] = "2025-03-01T08:30:00Z"
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", dearer)
    assert _quote(core, cpo) == Decimal("5.00")
    moved = location()
    moved["evses"][0]["connectors"][0]["tariff_ids"] = ["TAR2"]  # a tariff we do not hold
    moved["last_updated"] = "2025-03-01T08:40:00Z"
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", moved)
    assert _quote(core, cpo) is None
