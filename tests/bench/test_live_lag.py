"""Live says when it fell behind its scenario clock, and never grades the eMSP on timing it could not keep."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import variant

import bench.runner
import bench.runtime.live_lag as live_lag
from bench.expectations import ExpectationResult
from bench.runner import RunOutcome, run_scenario
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_lag import LagFigures, LagProbe
from emsp.core import EmspCore
from emsp.timeutil import parse_utc


def _result(metric: str, passed: bool) -> ExpectationResult:
    return ExpectationResult(metric, metric, "<", "1000", "0", passed)


@pytest.mark.parametrize(
    ("timing_valid", "failed", "exit_code"),
    [
        (True, [], 0),
        (False, [], 0),  # the run kept no time, yet everything held: nothing to blame on anyone
        (True, ["authorizations.latency_ms.p99"], 1),
        (False, ["authorizations.latency_ms.p99"], 3),  # the bench's timing, not the eMSP's
        (False, ["partners.cpo-a.authorizations.latency_ms.p99_vs_first_hour"], 3),
        # Behind its clock, any figure may be the bench's doing (a late answer refused, a session cut
        # at the horizon): nothing is graded as the eMSP's failure.
        (False, ["authorizations.latency_ms.p99", "reconciliation.missing_cdr"], 3),
        (False, ["reconciliation.wrongly_refused"], 3),
        (True, ["reconciliation.wrongly_refused"], 1),
    ],
)
def test_a_run_that_lost_its_timing_is_not_graded_on_timing(
    timing_valid: bool, failed: list[str], exit_code: int
) -> None:
    results = [_result("sessions.started", True), *(_result(m, False) for m in failed)]
    outcome = RunOutcome(Path("."), {}, results, {}, None, timing_valid)  # type: ignore[arg-type]
    assert outcome.exit_code == exit_code


@pytest.mark.parametrize(
    ("p99_ms", "valid"), [(0.0, True), (live_lag.INVALID_MS, True), (live_lag.INVALID_MS + 1, False)]
)
def test_the_summary_says_whether_the_timing_holds(p99_ms: float, valid: bool) -> None:
    figures = LagFigures(samples=10, p99_ms=p99_ms, max_ms=p99_ms * 2, max_wall_ms=1.0)
    summary = figures.summary()
    assert summary["valid"] is valid
    assert ("note" in summary) is (not valid)
    assert figures.performance()["timing_valid"] is valid
    assert figures.performance()["lag_ms"] == {"p99": round(p99_ms, 1), "max": round(p99_ms * 2, 1)}


def test_the_probe_sees_a_stalled_event_loop_in_scenario_time() -> None:
    clock = ScaledClock(parse_utc("2026-03-02T07:00:00Z"), speed=100)

    async def stall() -> LagFigures:
        probe = LagProbe(clock)
        task = asyncio.ensure_future(probe.run())
        await asyncio.sleep(0.05)
        time.sleep(0.1)  # the loop is blocked: every timer due meanwhile fires late
        await asyncio.sleep(0.05)
        task.cancel()
        return probe.figures()

    figures = asyncio.run(stall())
    assert figures.samples >= 2
    # At least the 0.1 s stall minus one probe period, times speed 100, in scenario ms.
    assert figures.max_ms >= (0.1 - live_lag.PERIOD_S) * 100 * 1000
    assert figures.max_wall_ms >= (0.1 - live_lag.PERIOD_S) * 1000


@pytest.mark.parametrize(("machine_s", "machine_ms"), [(0.0, 0.0), (0.03, 30.0)])
def test_the_probe_weighs_only_the_machines_part_of_a_stall(machine_s: float, machine_ms: float) -> None:
    """The loop held 0.1 s; of that, the thread waited `machine_s` for a CPU (the rest it ran or
    blocked: the eMSP's own doing, which must never excuse a latency)."""
    clock = ScaledClock(parse_utc("2026-03-02T07:00:00Z"), speed=100)
    waited = [0.0]

    async def stall() -> LagFigures:
        probe = LagProbe(clock, cpu_wait=lambda: waited[0])
        task = asyncio.ensure_future(probe.run())
        await asyncio.sleep(0.05)
        waited[0] += machine_s
        time.sleep(0.1)
        await asyncio.sleep(0.05)
        task.cancel()
        return probe.figures()

    figures = asyncio.run(stall())
    assert figures.max_wall_ms >= (0.1 - live_lag.PERIOD_S) * 1000
    assert figures.max_machine_ms == pytest.approx(machine_ms)
    assert figures.summary()["loop_stall_ms"]["machine_max"] == f"{machine_ms:.1f}"


def test_the_cpu_wait_counter_only_grows() -> None:
    counter = live_lag.CpuWait()
    try:
        first = counter()
        sum(range(200_000))  # some work between the reads
        assert 0 <= first <= counter()
    finally:
        counter.close()


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_a_live_run_behind_its_clock_says_so_and_is_a_bench_fault_for_its_latency_expectation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stall of the event loop (the eMSP blocking it once for 0.2 s) puts the run far behind its
    # clock; the invalidity threshold is lowered so this run counts as one whose timing is lost.
    original = EmspCore.handle
    stalled = {"done": False}

    def stalling(self: EmspCore, *args: Any, **kwargs: Any) -> Any:
        if not stalled["done"] and "/sessions" in args[0].url:
            stalled["done"] = True
            time.sleep(0.2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EmspCore, "handle", stalling)
    monkeypatch.setattr(live_lag, "INVALID_MS", 0.0)
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)

    def short(data: dict[str, Any]) -> None:
        data["duration_minutes"] = 30
        data["expectations"] = [
            {"name": "impossible latency", "metric": "authorizations.latency_ms.p99", "op": "<", "value": 1}
        ]

    path = variant(tmp_path, "smoke", short)
    outcome = run_scenario(str(path), runtime="live", seed=3, out=tmp_path / "run", speed=600)
    assert stalled["done"]
    timing = outcome.summary["timing"]
    assert timing["valid"] is False and "fell behind" in timing["note"]
    assert outcome.performance["timing_valid"] is False
    assert outcome.performance["lag_ms"]["max"] >= 0.15 * 600 * 1000  # the stall, in scenario ms
    assert outcome.exit_code == 3  # its only failure is a latency: the bench's, not the eMSP's
    logs = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any(
        e["event"] == "live runtime behind its scenario clock" and e["level"] == "warning" for e in logs
    )


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_a_live_latency_miss_the_machines_stall_explains_is_inconclusive_and_exits_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The machine is made to have kept the loop waiting 10 s for a CPU once (timing still valid):
    # an impossible latency bound then misses by less than that; a count never is excused.
    stalled = LagFigures(samples=100, p99_ms=0.0, max_ms=0.0, max_wall_ms=10_000.0, max_machine_ms=10_000.0)
    monkeypatch.setattr(LagProbe, "figures", lambda self: stalled)
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    p99 = {"name": "impossible latency", "metric": "authorizations.latency_ms.p99", "op": "<=", "value": 1}
    count = {"name": "impossible count", "metric": "sessions.started", "op": ">", "value": 100_000}

    def run(expectations: list[dict[str, Any]], name: str) -> RunOutcome:
        def short(data: dict[str, Any]) -> None:
            data["duration_minutes"] = 30
            data["expectations"] = expectations

        (tmp_path / name).mkdir()
        path = variant(tmp_path / name, "smoke", short)
        return run_scenario(str(path), runtime="live", seed=3, out=tmp_path / name / "run", speed=600)

    only = run([p99], "only")
    assert only.summary["timing"]["valid"] is True
    assert only.summary["timing"]["loop_stall_ms"]["machine_max"] == "10000.0"
    (graded,) = [e for e in only.summary["expectations"] if e["name"] == "impossible latency"]
    assert graded["passed"] is False and graded["inconclusive"].startswith("bench timing: missed by")
    assert only.exit_code == 3 and "impossible latency" in only.fault_reason
    both = run([p99, count], "both")
    assert both.exit_code == 1 and both.fault_reason == ""


def test_the_console_says_when_a_run_lost_its_timing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A reader of the console (a CI log), not only of summary.json, learns why a live run exits 3."""
    from typer.testing import CliRunner

    from bench.cli import app

    real = bench.runner.run_scenario

    def behind(*args: Any, **kwargs: Any) -> RunOutcome:
        outcome = real(*args, **kwargs)
        note = "the bench fell behind its scenario clock (p99 678.5 s > 30 s of scenario time): lower --speed"
        outcome.summary["timing"] = {"valid": False, "note": note}
        return dataclasses.replace(outcome, timing_valid=False)

    monkeypatch.setattr(bench.runner, "run_scenario", behind)
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    args = ["run", "smoke", "--seed", "3", "--out", str(tmp_path), "--no-progress", "--trace", "off"]
    result = CliRunner().invoke(app, args)
    assert "timing not valid: the bench fell behind its scenario clock" in result.output
