"""Settlement through the core with a fake pricer (the real engine is wired by the lead)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from emsp_helpers import Client, FakePricer, V, cdr, location, period, register, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.settlement.settle import PricedTotal


def test_one_line_per_distinct_cdr(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    for cdr_id, kwh in (("C1", "10"), ("C2", "20"), ("C1", "10")):
        cpo.call("POST", f"{V}/cdrs", cdr(cdr_id, total_energy=Decimal(kwh)))
    lines = core.records().invoice_lines
    assert [(ln.cdr_id, ln.amount_excl_vat, ln.delta_excl_vat) for ln in lines] == [
        ("C1", Decimal("3.00"), Decimal("-0.15")),
        ("C2", Decimal("6.00"), Decimal("2.85")),
    ]
    assert all(ln.currency == "EUR" and ln.contract_id == "NL-EMS-C00000001-X" for ln in lines)


def test_tariff_from_connector_when_cdr_names_none(core: EmspCore, cpo: Client, pricer: FakePricer) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    plain = dict(period("2025-03-01T09:00:00Z", "10.5"))
    del plain["tariff_id"]
    cpo.call("POST", f"{V}/cdrs", cdr(charging_periods=[plain]))
    assert pricer.calls == [("TAR1", "CDR1", "Europe/Berlin")]


def test_stored_tariff_preferred_over_embedded(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    embedded = dict(tariff(), currency="USD")
    cpo.call("POST", f"{V}/cdrs", cdr(tariffs=[embedded]))
    (line,) = core.records().invoice_lines
    assert line.amount_excl_vat == Decimal("3.15")
    assert "differs" in line.note and "UTC" in line.note  # no location stored: UTC, and said so


def test_unpriceable_cdr_still_gets_exactly_one_line() -> None:
    class Broken:
        def price(
            self, tariffs: Mapping[str, Mapping[str, Any]], cdr: Mapping[str, Any], *, tz: str
        ) -> PricedTotal:
            raise ValueError("no")

    core = EmspCore(EmspSettings(), pricer=Broken())
    cpo = register(core)
    cpo.call("POST", f"{V}/cdrs", cdr("X1"))  # tariff unknown
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    cpo.call("POST", f"{V}/cdrs", cdr("X2"))  # pricer fails
    lines = core.records().invoice_lines
    assert [(ln.cdr_id, ln.amount_excl_vat) for ln in lines] == [("X1", None), ("X2", None)]
    assert "unknown" in lines[0].note and "pricing failed" in lines[1].note


def test_credit_cdr_is_negated(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    cpo.call(
        "POST",
        f"{V}/cdrs",
        cdr("CDR1-C", credit=True, credit_reference_id="CDR1", total_cost={"excl_vat": Decimal("-3.15")}),
    )
    (line,) = core.records().invoice_lines
    assert line.amount_excl_vat == Decimal("-3.15") and line.delta_excl_vat == Decimal("0.00")


def test_a_cdr_switching_tariffs_is_repriced_with_each_tariff() -> None:
    """Mid-session tariff change: each charging period names its tariff (mod_cdrs ChargingPeriod)."""
    core = EmspCore(EmspSettings())  # the real tariff engine
    cpo = register(core)
    cheap, dear = tariff("TAR1"), tariff("TAR2")
    dear["elements"][0]["price_components"][0]["price"] = Decimal("0.50")
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", cheap)
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR2", dear)
    second = period("2025-03-01T09:30:00Z", "4") | {"tariff_id": "TAR2"}
    body = cdr(charging_periods=[period("2025-03-01T09:00:00Z", "6"), second])
    body |= {"total_energy": Decimal(10), "total_cost": {"excl_vat": Decimal("3.80")}}
    assert cpo.call("POST", f"{V}/cdrs", body).status == 201
    (line,) = core.records().invoice_lines
    assert line.amount_excl_vat == Decimal("3.80")  # 6 x 0.30 + 4 x 0.50
    assert line.delta_excl_vat == Decimal(0) and "switch tariffs" in line.note
