"""The live runtime at a moderate scale: hundreds of stations connect, boot, carry real sessions,
and the run reconciles. Correctness only: how fast it goes is bench.perf.live's business."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from bench.perf.live import sized, traffic
from bench.runtime.live import LiveRuntimeError
from bench.runtime.live_run import raise_fd_limit, run_live
from bench.trace import WireTrace

pytestmark = pytest.mark.xdist_group("live")


@pytest.mark.slow
def test_two_hundred_stations_connect_boot_charge_and_reconcile(tmp_path: Path) -> None:
    # 240 stations booting at once overflowed asyncio's default accept backlog and timed out their
    # handshakes; short stays keep the run under a minute at 40x even on a loaded machine.
    scenario, base = sized(240, minutes=3, arrivals_per_hour=160)
    assert len(scenario.station_ids()) == 240
    trace = WireTrace(tmp_path / "trace.jsonl")
    milestones: list[str] = []
    try:
        result = run_live(scenario, base, trace, speed=40, milestone=milestones.append)
    finally:
        trace.close()
    flowed = traffic(result.world, sum(trace.counts.values()))
    assert milestones == ["connecting", "booted"]
    assert flowed["booted"] == 240
    assert flowed["sessions_completed"] > 0
    assert flowed["cdrs"] == flowed["sessions_completed"]
    assert flowed["reconciliation"]["matched"] == flowed["sessions_completed"]
    assert flowed["reconciled"], flowed["reconciliation"]


def test_the_open_files_limit_is_raised_to_the_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = {"now": (1024, 65536)}
    monkeypatch.setattr(resource, "getrlimit", lambda _which: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _which, value: limits.update(now=value))
    assert raise_fd_limit(2000) == 65536
    assert limits["now"] == (65536, 65536)


def test_a_hard_open_files_limit_too_low_is_a_clear_bench_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 2048))
    with pytest.raises(
        LiveRuntimeError, match=r"2000 stations need about 4512 open files.*hard limit is 2048"
    ):
        raise_fd_limit(2000)
