"""End to end in sim: a CPO that drops the pushes an outage refused (dialect push_retry: drop) loses
them for an eMSP that only listens; the eMSP's catch-up pull after the outage recovers every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.overrides import parse_set
from bench.runner import run_scenario

DROP = parse_set("cpos[1].dialect=drop-failed-pushes")
NO_CATCH_UP = parse_set("emsp.pull.after_outage=false")


@pytest.mark.slow
def test_pull_recovers_what_a_dropping_cpo_lost(tmp_path: Path) -> None:
    outcome = run_scenario(
        "partner-outage", seed=1, out=tmp_path / "pull", trace_mode="off", overrides=[DROP], report=False
    )
    cpo_b = outcome.summary["partners"]["cpo-b"]
    assert cpo_b["pushes_dropped"] > 0
    assert cpo_b["pull"]["objects"] > 0
    assert cpo_b["pull"]["failed"] == 0
    assert cpo_b["reconciliation"]["missing_cdr"] == 0
    assert cpo_b["reconciliation"]["duplicate_cdr"] == 0
    assert cpo_b["cdrs"] == cpo_b["sessions"]["completed"]
    assert cpo_b["energy_kwh"]["invoiced"] == cpo_b["energy_kwh"]["truth"]
    assert outcome.exit_code == 0, [e for e in outcome.expectations if not e.passed]

    without = run_scenario(
        "partner-outage",
        seed=1,
        out=tmp_path / "listen",
        trace_mode="off",
        overrides=[DROP, NO_CATCH_UP],
        report=False,
    )
    lost = without.summary["partners"]["cpo-b"]
    assert lost["pushes_dropped"] > 0
    assert lost["reconciliation"]["missing_cdr"] + lost["reconciliation"]["open_session"] > 0
    assert without.exit_code == 1
