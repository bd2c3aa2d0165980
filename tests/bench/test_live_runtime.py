"""The live runtime under stress and faults: nothing queued is dropped, bench faults abort the run."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.runner import run_scenario
from bench.runtime.live import LiveRuntime, LiveRuntimeError
from emsp.timeutil import parse_utc
from simulators.cpo.mock_cpo import MockCpo

# Live runs share one xdist worker: two at once would stretch each other's real latency (scaled
# into scenario time) and make the timing-sensitive comparisons flaky.
pytestmark = pytest.mark.xdist_group("live")

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_calls_still_queued_at_the_horizon_are_delivered_not_dropped(tmp_path: Path) -> None:
    # A 30 s OCPI link keeps the CPO's ordered stream holding several calls at once (a backlog
    # that no longer depends on the machine being too slow for 3000x); whatever is still queued
    # at the horizon must be delivered before grading, or the eMSP would be blamed for CDRs the
    # bench never sent.
    shutil.copytree(SCENARIOS / "tariffs", tmp_path / "tariffs")
    scenario = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    scenario["cpos"][0]["ocpi_link"] = {"latency_ms": 30_000, "jitter_ms": 0}
    (tmp_path / "slow.yaml").write_text(yaml.safe_dump(scenario))
    outcome = run_scenario(
        str(tmp_path / "slow.yaml"), runtime="live", seed=7, out=tmp_path / "run", speed=1200
    )
    s = outcome.summary
    assert outcome.performance["ocpi_backlog_max"] > 1
    assert s["reconciliation"]["missing_cdr"] == 0
    # A CDR above its quote still arrived: at 1200x on a loaded machine a driver's departure lands
    # late (the run's lag), and the longer stay's time cost can exceed the quote made at plug-in
    # (found now that live files each quote under the plug-in instant; see summary `timing`).
    counts = s["reconciliation"]
    assert counts["matched"] + counts["quote_exceeded"] == s["sessions"]["completed"] > 0


def test_a_fault_in_a_simulated_party_aborts_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = MockCpo.on_ocpi_response
    calls = {"n": 0}

    def failing(self: MockCpo, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 20:
            raise RuntimeError("boom in the mock CPO")
        return original(self, *args)

    monkeypatch.setattr(MockCpo, "on_ocpi_response", failing)
    with pytest.raises(LiveRuntimeError, match="boom in the mock CPO"):
        run_scenario("smoke", runtime="live", seed=7, out=tmp_path, speed=3000)


def test_the_clock_starts_once_every_cpo_registered_however_long_its_handshake_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a loaded machine a CPO's handshake can outlast the stations' boots. The scenario clock
    # used to start then: a driver arriving before the handshake ended waited UNLINKED_WAIT and was
    # refused as UNREACHABLE with a latency of 30 s and more (partner-latency's flaky "the other
    # partners stay under 2 s"). Here the eMSP sees the credentials only after every station booted.
    original = LiveRuntime._at_emsp

    async def late_credentials(self: LiveRuntime, cpo_id: str, outbound: Any) -> Any:
        if outbound.request.method == "POST" and outbound.request.url.endswith("/credentials"):
            while self._booted_count < len(self._booted):
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)  # 10 scenario minutes at 1200x, had the clock been running
        return await original(self, cpo_id, outbound)

    monkeypatch.setattr(LiveRuntime, "_at_emsp", late_credentials)
    shutil.copytree(SCENARIOS / "tariffs", tmp_path / "tariffs")
    scenario = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    scenario.update(duration_minutes=30, expectations=[])
    scenario["demand"]["arrivals_per_hour"] = 40
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(scenario))
    outcome = run_scenario(
        str(tmp_path / "late.yaml"), runtime="live", seed=7, out=tmp_path / "run", speed=1200
    )
    start = parse_utc("2026-03-02T07:00:00Z")
    assert outcome.world.cpos["cpo-a"].ocpi.truth.registered_at == start  # while the clock stood still
    authorizations = outcome.world.cpos["cpo-a"].ocpi.truth.authorizations
    assert authorizations and all(a.result != "UNREACHABLE" for a in authorizations)
