"""Slow EVs: the mock CPO and the ground truth agree on TIME vs PARKING_TIME from the same physics, and
a disagreement of the bench with itself aborts the run instead of grading the eMSP (review r7 K6)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import simulators.cpo.ocpi_cpo
from bench.overrides import parse_set
from bench.runner import run_scenario
from bench.truth import BenchDisagreement, _check_agreement

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


def test_agreement_is_within_the_reconciliation_tolerance() -> None:
    truth = Decimal("0.8467")
    _check_agreement("cpo", "S1", None, truth)  # a CPO reading its tariffs otherwise: not compared
    _check_agreement("cpo", "S1", Decimal("0.8470"), truth)
    with pytest.raises(BenchDisagreement, match="S1"):
        _check_agreement("cpo", "S1", Decimal("0.8070"), truth)
