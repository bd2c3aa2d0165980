"""`emsp-bench tariff price --json` agrees, to 4 decimals, with an independent reference pricer.

The reference below is written straight from the OCPI 2.2.1 text for restriction-free tariffs, in
the plainest possible way (totals first, then step_size, then money), sharing no code with the
engine. It covers ENERGY, TIME, PARKING_TIME and FLAT components, step_size, VAT absent (no VAT
applies, 2.2.1) or present, and min_price/max_price, over random CDRs of charging and parking periods.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.cli_tariff import tariff_app

Q = Decimal("0.0001")
START = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _ceil_to(value: Decimal, step: int) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def _half_up(amount: Fraction) -> Decimal:
    """Round an exact amount half up to 4 decimals (amounts here are never negative)."""
    units = math.floor(amount * 10_000 + Fraction(1, 2))
    return Decimal(units) / 10_000


def reference_price(tariff: dict[str, Any], cdr: dict[str, Any]) -> dict[str, Decimal | None]:
    """Totals of a CDR under a one-element tariff without restrictions (default policy choices:
    4 decimals half-up per total_*_cost; with parking priced, step_size rounds only parking)."""
    comps = {c["type"]: c for c in tariff["elements"][0]["price_components"]}
    energy = time = parking = Decimal(0)
    for period in cdr["charging_periods"]:
        for dim in period["dimensions"]:
            volume = Decimal(str(dim["volume"]))
            if dim["type"] == "ENERGY":
                energy += volume
            elif dim["type"] == "TIME":
                time += volume
            elif dim["type"] == "PARKING_TIME":
                parking += volume
    # Billed volumes as exact fractions (120 s is 1/30 h, not a finite decimal).
    billed: dict[str, tuple[str, Fraction]] = {}  # cost field -> (component type, billed volume)
    if "ENERGY" in comps and energy:
        wh = _ceil_to(energy * 1000, comps["ENERGY"]["step_size"])
        billed["total_energy_cost"] = ("ENERGY", Fraction(wh) / 1000)
    parking_priced = "PARKING_TIME" in comps and parking > 0
    if "TIME" in comps and time:
        seconds = time * 3600
        if not parking_priced:  # mod_cdrs step_size: with parking, only the parking time is rounded
            seconds = _ceil_to(seconds, comps["TIME"]["step_size"])
        billed["total_time_cost"] = ("TIME", Fraction(seconds) / 3600)
    if parking_priced:
        parked = _ceil_to(parking * 3600, comps["PARKING_TIME"]["step_size"])
        billed["total_parking_cost"] = ("PARKING_TIME", Fraction(parked) / 3600)
    if "FLAT" in comps:
        billed["total_fixed_cost"] = ("FLAT", Fraction(1))
    out: dict[str, Decimal | None] = {}
    total_excl, total_incl = Decimal(0), Decimal(0)
    incl_known = True  # stays so: in 2.2.1 every component's incl. VAT is known
    for field, (kind, volume) in billed.items():
        price = Fraction(str(comps[kind]["price"]))
        excl = _half_up(volume * price)
        # 2.2.1 mod_tariffs, PriceComponent: an omitted vat means no VAT applies (incl = excl).
        # (This reference used to leave incl_vat unknown then, which only a 2.1.1 tariff does.)
        vat = Fraction(str(comps[kind].get("vat", 0)))
        incl: Decimal | None = _half_up(volume * price * (1 + vat / 100))
        out[f"{field}.excl_vat"], out[f"{field}.incl_vat"] = excl, incl
        total_excl += excl
        if incl is None:
            incl_known = False
        else:
            total_incl += incl
    result_incl: Decimal | None = total_incl if incl_known else None
    for bound, pick in (("min_price", max), ("max_price", min)):
        if bound in tariff:
            moved = pick(total_excl, Decimal(str(tariff[bound]["excl_vat"])))
            if result_incl is not None:
                if "incl_vat" in tariff[bound]:
                    result_incl = pick(result_incl, Decimal(str(tariff[bound]["incl_vat"])))
                elif moved != total_excl:
                    result_incl = None
            total_excl = moved
    out["total_cost.excl_vat"], out["total_cost.incl_vat"] = total_excl, result_incl
    # mod_cdrs, CDR object: total_time is the session's duration, start to end (charging or not).
    span = datetime.fromisoformat(cdr["end_date_time"]) - datetime.fromisoformat(cdr["start_date_time"])
    out["total_energy"], out["total_parking_time"] = energy, parking
    out["total_time"] = Decimal(int(span.total_seconds())) / 3600
    return out


prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("5"), places=2)
vats = st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal(19), Decimal("21"), Decimal("5.5")]))


@st.composite
def tariffs(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.sets(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1))
    steps = {"ENERGY": [1, 100, 500, 1000], "TIME": [1, 60, 300, 900], "PARKING_TIME": [1, 60, 300, 900],
             "FLAT": [1]}  # fmt: skip
    components = []
    for kind in sorted(kinds):
        comp: dict[str, Any] = {
            "type": kind,
            "price": draw(prices),
            "step_size": draw(st.sampled_from(steps[kind])),
        }
        vat = draw(vats)
        if vat is not None:
            comp["vat"] = vat
        components.append(comp)
    tariff: dict[str, Any] = {
        "country_code": "DE", "party_id": "CPA", "id": "REF", "currency": "EUR",
        "elements": [{"price_components": components}], "last_updated": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    if draw(st.booleans()):
        tariff["min_price"] = {"excl_vat": draw(prices)}
        if draw(st.booleans()):
            tariff["min_price"]["incl_vat"] = tariff["min_price"]["excl_vat"] * Decimal("1.19")
    if draw(st.booleans()):
        tariff["max_price"] = {"excl_vat": draw(prices) * 10}
    return tariff


@st.composite
def cdrs(draw: st.DrawFn) -> dict[str, Any]:
    periods, at = [], START
    for index in range(draw(st.integers(1, 4))):
        # Durations in whole 0.01 h (36 s): exactly representable in OCPI's 4 decimals.
        hours = Decimal(draw(st.integers(1, 300))) / 100
        parked = index > 0 and draw(st.booleans())
        if parked:
            dims = [{"type": "PARKING_TIME", "volume": hours}]
        else:
            kwh = Decimal(draw(st.integers(0, 40_000))) / 1000
            dims = [{"type": "ENERGY", "volume": kwh}, {"type": "TIME", "volume": hours}]
        periods.append({"start_date_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "dimensions": dims})
        at += timedelta(hours=float(hours))
    return {
        "start_date_time": START.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_date_time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "currency": "EUR",
        "charging_periods": periods,
    }


def _flatten(data: dict[str, Any]) -> dict[str, Decimal | None]:
    flat: dict[str, Decimal | None] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for part in ("excl_vat", "incl_vat"):
                flat[f"{key}.{part}"] = Decimal(str(value[part])) if part in value else None
        else:
            flat[key] = Decimal(str(value))
    return flat


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, default=str))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tariff=tariffs(), cdr=cdrs())
def test_cli_recomputes_reference_priced_cdrs_exactly(
    tmp_path: Path, tariff: dict[str, Any], cdr: dict[str, Any]
) -> None:
    expected = reference_price(tariff, cdr)
    _dump(tmp_path / "t.json", tariff)
    _dump(tmp_path / "c.json", cdr)
    result = CliRunner().invoke(tariff_app, ["price", "--tariff", str(tmp_path / "t.json"),
                                             "--cdr", str(tmp_path / "c.json"), "--json"])  # fmt: skip
    assert result.exit_code in (0, 1), result.output  # 1: the CDR carries no totals to agree with
    got = _flatten(json.loads(result.stdout))
    for key, value in expected.items():
        if key.startswith("total_") and "." not in key:
            assert got[key].quantize(Q) == value.quantize(Q), key  # type: ignore[union-attr]
        else:
            assert got.get(key) == value, (key, got.get(key), value, tariff, cdr)
