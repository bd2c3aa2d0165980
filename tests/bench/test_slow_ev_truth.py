"""Slow EVs: the mock CPO and the ground truth agree on TIME vs PARKING_TIME from the same physics, and
a disagreement of the bench with itself aborts the run instead of grading the eMSP (review r7 K6)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from world_helpers import simulated_world

import simulators.cpo.ocpi_cpo
from bench.overrides import parse_set
from bench.runner import run_scenario
from bench.runtime.sim import SimRuntime
from bench.spec_guard import disagreement
from bench.trace import WireTrace
from bench.truth import BenchDisagreement, truth_sessions
from bench.world import World

SLOW = [parse_set("demand.ev_power_kw.min=0.1"), parse_set("demand.ev_power_kw.max=0.2")]


def test_slow_evs_reconcile(tmp_path: Path) -> None:
    # 0.1-0.2 kW: a Wh every 18-36 s, so the seconds between the last tick and the unplug read flat.
    outcome = run_scenario("smoke", out=tmp_path / "run", overrides=SLOW, report=False, trace_mode="off")
    s = outcome.summary
    assert outcome.exit_code == 0, s["expectations"]
    assert s["reconciliation"]["price_mismatch"] == 0
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"] > 0


def test_a_cpo_that_disagrees_with_the_truth_is_a_bench_fault_not_the_emsps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CPO as it was: periods cut where the register did not tick. Its CDR is billed faithfully by
    # the eMSP; the bench must not call that the eMSP's price_mismatch.
    monkeypatch.setattr(simulators.cpo.ocpi_cpo, "pricing_samples", lambda samples: samples)
    with pytest.raises(BenchDisagreement, match="cpo-a"):
        run_scenario("smoke", out=tmp_path / "run", overrides=SLOW, report=False, trace_mode="off")


def test_the_guard_keeps_nothing_for_a_session_that_agrees() -> None:
    # Issue 7: the comparison is made as the CPO prices, so an agreeing session leaves no cost behind
    # (the CPO's truth used to keep a Decimal and a dict entry per session for the end of the run).
    world = _ran(simulated_world("smoke", SLOW))
    truths = [cpo.ocpi.truth for cpo in world.cpos.values()]
    priced = [s for s in truth_sessions(world) if s.cost_excl_vat is not None]
    assert sum(t.spec_checked for t in truths) == len(priced) > 0  # every charge compared
    assert all(t.disagreements == [] for t in truths)
    assert not any(hasattr(t, "spec_costs") for t in truths)


def test_a_disagreement_is_kept_and_aborts_the_truth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulators.cpo.ocpi_cpo, "pricing_samples", lambda samples: samples)
    world = _ran(simulated_world("smoke", SLOW))
    kept = [d for cpo in world.cpos.values() for d in cpo.ocpi.truth.disagreements]
    assert kept and all("read the physics differently" in d for d in kept)
    with pytest.raises(BenchDisagreement, match=r"excl\. VAT, the ground truth at"):
        truth_sessions(world)


def test_agreement_is_within_the_reconciliation_tolerance() -> None:
    truth = Decimal("0.8467")
    assert disagreement("cpo", "S1", None, truth) is None  # a CPO reading its tariffs otherwise
    assert disagreement("cpo", "S1", Decimal("0.8470"), truth) is None
    assert "S1" in (disagreement("cpo", "S1", Decimal("0.8070"), truth) or "")


def _ran(world: World) -> World:
    SimRuntime(world, WireTrace(None, "off")).run()
    world.emsp.db.engine.dispose()
    return world
