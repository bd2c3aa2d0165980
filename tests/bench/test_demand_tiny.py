"""Demand ranges that cannot describe a charging visit are invalid input naming the field; tiny but
real ones (10 Wh top-ups, EVs that want nothing) run to the end (review r7 K1, K2)."""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bench.demand import make_drivers, plan_arrivals
from bench.overrides import parse_set
from bench.runner import run_scenario
from bench.scenario import DemandSpec, Range, ScenarioError, load_scenario

START = datetime(2026, 3, 2, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sets", "field"),
    [
        # an EV whose power over the shortest stay reaches no whole Wh (review r12 R3: 0 kWh a visit)
        (["demand.ev_power_kw.min=0.0001"], "demand.ev_power_kw.min"),  # 0.025 Wh in 15 minutes
        (["demand.stay_minutes.min=0.1", "demand.ev_power_kw.min=0.5"], "demand.ev_power_kw.min"),
        (["demand.energy_kwh.min=-1", "demand.energy_kwh.max=1"], "demand.energy_kwh.min"),
        (["demand.energy_kwh.min=0"], "demand.energy_kwh.min"),
        (["demand.ev_power_kw.min=0"], "demand.ev_power_kw.min"),
        (["demand.ev_power_kw.min=-7.4"], "demand.ev_power_kw.min"),
        (["demand.stay_minutes.min=0", "demand.stay_minutes.max=0"], "demand.stay_minutes.min"),
        (["demand.stay_minutes.min=0.05"], "demand.stay_minutes.min"),
        (
            ["demand.energy_kwh.min=5", "demand.energy_kwh.max=1"],
            "demand.energy_kwh.max",
        ),  # a --set changed it
    ],
)
def test_a_range_no_visit_can_have_is_refused_naming_its_field(sets: list[str], field: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("smoke", [parse_set(s) for s in sets])
    assert caught.value.field == field, caught.value


@pytest.mark.parametrize(
    ("set_to", "reason"),
    [  # peak-hour's fleet: SoC 10-60% at arrival, 70-100% targets, stays of 20 minutes and more
        ("demand.ev_models[0].battery_kwh=0.5", "(10%) is less than the 0.1 kWh steps"),  # 0.05 kWh: 0
        ("demand.ev_models[0].battery_kwh=0.99", "(10%) is less than the 0.1 kWh steps"),
        ("demand.ev_models[1].ac_max_kw=0.0001", "over the shortest stay (20 minutes) is less than the 1 Wh"),
        ("demand.ev_models[2].dc_max_kw=0.001", "over the shortest stay (20 minutes) is less than the 1 Wh"),
    ],
)
def test_an_ev_model_that_cannot_charge_is_refused_naming_its_field(set_to: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("peak-hour", [parse_set(set_to)])
    assert (caught.value.field, reason in caught.value.reason) == (set_to.split("=")[0], True), caught.value


@pytest.mark.parametrize(
    "set_to",
    [
        "demand.ev_models[0].battery_kwh=1",
        "demand.ev_models[1].ac_max_kw=0.003",
        "demand.ev_power_kw.min=0.004",
    ],
)
def test_the_least_ev_that_charges_loads(set_to: str) -> None:
    # 1 kWh x 10% is 0.1 kWh; 0.003 kW x 20 minutes and 0.004 kW x 15 minutes are 1 Wh
    load_scenario("smoke" if "ev_power" in set_to else "peak-hour", [parse_set(set_to)])


def test_tiny_energies_are_drawn_inside_their_range() -> None:
    # Drawn in tenths of a kWh, 0.01-0.02 was always 0 kWh: an EV that wanted nothing.
    spec = DemandSpec(drivers=10, energy_kwh=Range(min=Decimal("0.01"), max=Decimal("0.02")))
    rng = random.Random(3)
    plan = plan_arrivals(spec, make_drivers(spec, rng, "NL", "EMS"), START, START + timedelta(hours=2), rng)
    assert plan
    assert {a.energy_kwh for a in plan} <= {Decimal("0.01"), Decimal("0.02")}


@pytest.mark.parametrize(
    ("low", "high", "truth_kwh"),
    [
        ("0.01", "0.02", None),  # 10-20 Wh top-ups
        ("0.0001", "0.0002", Decimal(0)),  # less than a Wh: the EV is full the instant it starts
    ],
)
def test_tiny_demand_runs_and_reconciles(
    tmp_path: Path, low: str, high: str, truth_kwh: Decimal | None
) -> None:
    sets = [f"demand.energy_kwh.min={low}", f"demand.energy_kwh.max={high}"]
    outcome = run_scenario(
        "smoke", out=tmp_path / "run", overrides=[parse_set(s) for s in sets], report=False, trace_mode="off"
    )
    s = outcome.summary
    assert outcome.exit_code == 0, s["expectations"]
    assert s["sessions"]["started"] > 0
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"] == s["sessions"]["started"]
    energy = Decimal(s["energy_kwh"]["truth"])
    if truth_kwh is None:
        assert (
            Decimal("0.01") * s["sessions"]["started"] <= energy <= Decimal("0.02") * s["sessions"]["started"]
        )
    else:
        assert energy == truth_kwh


def test_a_driver_who_leaves_before_the_allowed_answer_is_not_the_emsps_failure(tmp_path: Path) -> None:
    # 6-second stays and an eMSP 10 s away (there and back): every driver unplugs before the ALLOWED
    # comes back. The eMSP allowed each one in time for the CPO; it did not refuse anyone.
    sets = [
        "demand.stay_minutes.min=0.1",
        "demand.stay_minutes.max=0.1",
        "cpos[0].ocpi_link.latency_ms=5000",
        "cpos[0].ocpi_link.jitter_ms=0",
    ]
    outcome = run_scenario(
        "smoke", out=tmp_path / "run", overrides=[parse_set(s) for s in sets], report=False
    )
    s = outcome.summary
    assert s["sessions"]["started"] == 0
    assert s["authorizations"]["accepted"] > 0
    assert s["reconciliation"]["wrongly_refused"] == 0
    rows = list(csv.DictReader((outcome.run_dir / "reconciliation.csv").open(encoding="utf-8")))
    left = [r for r in rows if r["class"] == "refused_at_station"]
    assert len(left) == s["authorizations"]["accepted"]
    assert {r["detail"].split(", ")[0] for r in left} == {"driver_left: unplugged after 6 s"}
    assert all(
        r["detail"].startswith("driver_left") and "ALLOWED reached the CPO after 10" in r["detail"]
        for r in left
    )
