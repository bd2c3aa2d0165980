"""Cloned tokens in the demand model (demand.clones) and pinned visits in the allocator."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import run_sim, variant

from bench.demand import make_drivers, plan_arrivals, plan_clones
from bench.runtime.allocation import ConnectorAllocator
from bench.scenario import load_scenario
from bench.world import StationPlace


def _plan(seed: int) -> tuple[list, list]:  # type: ignore[type-arg]
    scenario, _ = load_scenario("fraud-burst")
    clones = scenario.demand.clones
    assert clones is not None
    rng = random.Random(seed)
    drivers = make_drivers(scenario.demand, rng, "NL", "EMS")
    honest = plan_arrivals(scenario.demand, drivers, scenario.start, scenario.end, rng)
    skim = scenario.stations_at(clones.skim_location)
    targets = [scenario.stations_at(name) for name in clones.locations]
    planned = plan_clones(
        clones, scenario.demand, honest, skim, targets, scenario.end, random.Random(f"clones-{seed}")
    )
    return honest, planned


def test_clones_are_deterministic_and_leave_the_honest_plan_alone() -> None:
    for seed in (1, 2, 3):
        honest, planned = _plan(seed)
        assert planned == _plan(seed)[1]
        fraud = [a for a in planned if a.fraud]
        pinned = [a for a in planned if not a.fraud and a.stations]
        assert len(pinned) == 5 and 2 * 5 <= len(fraud) <= 4 * 5
        assert {a.stations for a in pinned} == {("CS-A-SKIM-1", "CS-A-SKIM-2")}
        assert all(a.token_of == "cpo-a" for a in fraud)
        assert {a.stations for a in fraud} <= {("CS-A-MUC-1", "CS-A-MUC-2"), ("CS-B-BER-1", "CS-B-BER-2")}
        # Every honest visit is still there, the skimmed ones only pinned to the skim location.
        assert sorted((a.at, a.driver.token_uid) for a in honest) == sorted(
            (a.at, a.driver.token_uid) for a in planned if not a.fraud
        )
        assert [replace(a, stations=()) for a in planned if not a.fraud] == sorted(
            honest, key=lambda a: (a.at, a.driver.token_uid, a.fraud)
        )
        # A fraudster comes after the victim's skimmed visit.
        skimmed = {a.driver.token_uid: a.at for a in pinned}
        assert all(a.at > skimmed[a.driver.token_uid] for a in fraud)


def test_reserved_stations_are_taken_only_by_visits_pinned_to_them() -> None:
    places = [StationPlace("OPEN", "c", 2), StationPlace("SKIM", "c", 1)]
    allocator = ConnectorAllocator(places, reserved={"SKIM"})
    assert [allocator.take(choice) for choice in (0, 2**31, 2**32 - 1)] == [("OPEN", 1), ("OPEN", 2), None]
    assert allocator.take(0, ("SKIM",)) == ("SKIM", 1)
    assert allocator.take(0, ("SKIM",)) is None  # full
    allocator.release(("SKIM", 1))
    assert allocator.take(0) is None  # still not for everyone
    assert allocator.take(5, ("SKIM",)) == ("SKIM", 1)


def test_token_block_under_federated_identity_blocks_every_token_of_the_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """fraud-burst with driver 0 blocked at 08:00: all of their per-partner tokens are blocked (and
    pushed), later visits are refused as expected, and the run still holds."""

    def mutate(data: dict[str, Any]) -> None:
        data["events"] = [{"type": "token_block", "at": "2026-03-02T08:00:00Z", "driver": 0}]

    outcome = run_sim(monkeypatch, variant(tmp_path, "fraud-burst", mutate), 1, tmp_path / "run")
    assert outcome.exit_code == 0, [e for e in outcome.expectations if not e.passed]
    driver = next(d for d in outcome.world.drivers if d.known)
    assert sorted(outcome.world.blocked) == sorted(uid for _p, uid in driver.partner_tokens)
    assert all(not row.valid for row in outcome.world.emsp.driver_tokens(driver.driver_id))
