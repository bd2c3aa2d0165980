"""lint_tariff: every spec-equivalent fixture is valid; warnings for what trips partners."""

from __future__ import annotations

from typing import Any

import pytest
from tariff_cases import fixture, fixture_names

from emsp.settlement.tariff import lint_tariff


def _tariff(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data = {
        "country_code": "NL",
        "party_id": "EXB",
        "id": "x",
        "currency": "EUR",
        "last_updated": "2024-01-01T00:00:00Z",
        "elements": list(elements),
    }
    data.update(extra)
    return data


def _el(
    kind: str, price: float = 1, step: int = 1, vat: float | None = 21, **restrictions: Any
) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        comp["vat"] = vat
    out: dict[str, Any] = {"price_components": [comp]}
    if restrictions:
        out["restrictions"] = restrictions
    return out


@pytest.mark.parametrize("name", fixture_names())
def test_fixtures_have_no_errors(name: str) -> None:
    assert lint_tariff(fixture(name)).errors == []


def test_clean_tariff_has_no_warnings() -> None:
    report = lint_tariff(_tariff(_el("ENERGY", start_time="07:00", end_time="20:00"), _el("ENERGY")))
    assert report.ok and report.warnings == []


def test_structural_error_and_missing_metadata() -> None:
    assert lint_tariff({"currency": "EUR", "elements": []}).errors == [
        "elements: must be a non-empty list of TariffElement"
    ]
    report = lint_tariff({"currency": "EUR", "elements": [_el("ENERGY")]})
    assert report.errors == [f"{k}: is required" for k in ("country_code", "party_id", "id", "last_updated")]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_tariff(_el("TIME", max_power=16)), "TIME: no element without restrictions"),
        (
            _tariff(_el("TIME"), _el("TIME", max_power=16)),
            "elements[1]: TIME is unreachable, shadowed by elements[0]",
        ),
        (
            _tariff(
                _el("TIME", day_of_week=["MONDAY", "TUESDAY"]),
                _el("TIME", day_of_week=["MONDAY"]),
                _el("TIME"),
            ),
            "elements[1]: TIME is unreachable",
        ),
        (
            _tariff(
                _el("TIME", start_time="08:00", end_time="18:00"),
                _el("TIME", start_time="12:00", end_time="20:00"),
                _el("TIME"),
            ),
            "elements[1]: TIME restrictions overlap elements[0] partially",
        ),
        (_tariff(_el("ENERGY", vat=None)), "vat: missing"),
        (_tariff(_el("ENERGY", step=0)), "step_size: 0"),
        (_tariff(_el("ENERGY", min_kwh=10, max_kwh=5), _el("ENERGY")), "min_kwh >= max_kwh"),
        (
            _tariff(_el("ENERGY", start_time="10:00", end_time="10:00"), _el("ENERGY")),
            "start_time equals end_time",
        ),
        (
            _tariff(_el("ENERGY", reservation="RESERVATION"), _el("ENERGY")),
            "reservation element can only have",
        ),
        (_tariff(_el("ENERGY"), min_price={"excl_vat": 5}, max_price={"excl_vat": 1}), "min_price"),
    ],
)
def test_warnings(data: dict[str, Any], needle: str) -> None:
    report = lint_tariff(data)
    assert report.ok
    assert any(needle in w for w in report.warnings), report.warnings


def test_adjacent_ranges_and_later_supersets_are_not_overlaps() -> None:
    # tariff_7 / max_duration / max_power examples: ordered, adjacent or nested restrictions are intended
    for name in ("t07_first_hour_kwh_free", "t20_max_power", "t21_max_duration", "t14_step_size_switching"):
        assert not [w for w in lint_tariff(fixture(name)).warnings if "overlap" in w or "unreachable" in w], (
            name
        )
