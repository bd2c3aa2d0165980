"""A CDR whose charging periods switch tariffs (mod_cdrs ChargingPeriod.tariff_id)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from emsp.settlement.tariff import TariffError, parse_tariff, price_cdr


def _tariff(
    tariff_id: str, energy: str, step: int = 1, *, currency: str = "EUR", flat: str | None = None
) -> Any:
    components: list[dict[str, Any]] = [{"type": "ENERGY", "price": energy, "vat": "10", "step_size": step}]
    if flat is not None:
        components.append({"type": "FLAT", "price": flat, "vat": "10", "step_size": 1})
    return parse_tariff(
        {"country_code": "DE", "party_id": "CPA", "id": tariff_id, "currency": currency,
         "elements": [{"price_components": components}], "last_updated": "2026-01-01T00:00:00Z"}
    )  # fmt: skip


def _cdr(*periods: tuple[str, str | None, str]) -> dict[str, Any]:
    return {
        "start_date_time": "2026-03-02T16:00:00Z",
        "end_date_time": "2026-03-02T18:00:00Z",
        "currency": "EUR",
        "charging_periods": [
            {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": Decimal(kwh)}]}
            | ({"tariff_id": tid} if tid else {})
            for start, tid, kwh in periods
        ],
    }


A, B = _tariff("A", "0.20", 500, flat="1.00"), _tariff("B", "0.27", 500, flat="2.00")


def test_each_period_is_priced_with_its_tariff_and_the_last_step_rounds_the_total() -> None:
    # mod_cdrs step_size example, with the price change as a tariff switch at 17:00: 4.3 kWh under A,
    # 1.1 kWh under B; 5.4 kWh rounds up to 5.5 with B's 500 Wh step, the extra 0.1 billed at B:
    # 4.3 x 0.20 + 1.2 x 0.27 = 0.86 + 0.324 = 1.184 energy, plus A's start fee 1.00 (FLAT once).
    cdr = _cdr(("2026-03-02T16:00:00Z", "A", "4.3"), ("2026-03-02T17:00:00Z", "B", "1.1"))
    totals = price_cdr({"A": A, "B": B}, cdr, tz="UTC").totals
    assert totals.total_energy_cost is not None and totals.total_energy_cost.excl_vat == Decimal("1.184")
    assert totals.total_fixed_cost is not None and totals.total_fixed_cost.excl_vat == Decimal("1.00")
    assert totals.total_cost is not None and totals.total_cost.excl_vat == Decimal("2.184")
    assert totals.total_cost.incl_vat == Decimal("2.4024")


def test_a_period_without_tariff_id_keeps_the_tariff_before_it() -> None:
    cdr = _cdr(
        ("2026-03-02T16:00:00Z", "A", "1"),
        ("2026-03-02T17:00:00Z", "B", "1"),
        ("2026-03-02T17:30:00Z", None, "1"),
    )
    totals = price_cdr({"A": A, "B": B}, cdr, tz="UTC").totals
    # 1 x 0.20 + 2 x 0.27 = 0.74 energy (3 kWh: a whole number of 500 Wh steps) + 1.00 start fee
    assert totals.total_cost is not None and totals.total_cost.excl_vat == Decimal("1.74")


def test_a_tariff_named_but_not_given_is_an_error_naming_the_period() -> None:
    cdr = _cdr(("2026-03-02T16:00:00Z", "A", "1"), ("2026-03-02T17:00:00Z", "Z", "1"))
    with pytest.raises(TariffError) as caught:
        price_cdr({"A": A, "B": B}, cdr, tz="UTC")
    assert caught.value.field == "charging_periods[1].tariff_id"


def test_tariffs_of_one_cdr_share_a_currency() -> None:
    cdr = _cdr(("2026-03-02T16:00:00Z", "A", "1"), ("2026-03-02T17:00:00Z", "C", "1"))
    with pytest.raises(TariffError):
        price_cdr({"A": A, "C": _tariff("C", "0.30", currency="CHF")}, cdr, tz="UTC")


def test_one_tariff_given_still_prices_everything_and_warns() -> None:
    cdr = _cdr(("2026-03-02T16:00:00Z", "A", "4.3"), ("2026-03-02T17:00:00Z", "B", "1.1"))
    result = price_cdr(A, cdr, tz="UTC")
    assert result.totals.total_energy_cost is not None
    assert result.totals.total_energy_cost.excl_vat == Decimal("1.10")  # 5.5 x 0.20
    assert any("tariff_id" in w for w in result.warnings)


def test_cli_price_takes_one_tariff_file_per_tariff_of_the_cdr(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from bench.cli_tariff import tariff_app

    def write(name: str, data: dict[str, Any]) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data, default=str))
        return str(path)

    def raw(tariff_id: str, price: str) -> dict[str, Any]:
        component = {"type": "ENERGY", "price": price, "vat": "10", "step_size": 500}
        return {
            "country_code": "DE",
            "party_id": "CPA",
            "id": tariff_id,
            "currency": "EUR",
            "elements": [{"price_components": [component]}],
            "last_updated": "2026-01-01T00:00:00Z",
        }

    cdr = _cdr(("2026-03-02T16:00:00Z", "A", "4.3"), ("2026-03-02T17:00:00Z", "B", "1.1"))
    cdr["total_cost"] = {"excl_vat": "1.184", "incl_vat": "1.3024"}
    args = [
        "price",
        "--tariff",
        write("a.json", raw("A", "0.20")),
        "--tariff",
        write("b.json", raw("B", "0.27")),
    ]
    result = CliRunner().invoke(tariff_app, [*args, "--cdr", write("c.json", cdr), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total_cost"] == {"excl_vat": 1.184, "incl_vat": 1.3024}
