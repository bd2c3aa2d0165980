"""`--trace ocpi` in the live runtime: real sockets, the same counting, OCPI lines only."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.runner
from bench.runner import run_scenario
from reports import iter_trace

# Live runs share one xdist worker: two at once would stretch each other's real timing.
pytestmark = pytest.mark.xdist_group("live")


@pytest.mark.slow
def test_live_run_with_ocpi_trace_counts_everything_and_writes_ocpi_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    outcome = run_scenario("smoke", runtime="live", seed=7, out=tmp_path, speed=3000, trace_mode="ocpi")
    protos = {msg["proto"] for msg in iter_trace(tmp_path / "trace.jsonl")}
    assert protos == {"ocpi2.2.1"}
    messages = outcome.summary["messages"]
    assert messages["ocpp1.6"] > 0 and messages["ocpp2.0.1"] > 0
    assert sum(1 for _ in iter_trace(tmp_path / "trace.jsonl")) == messages["ocpi2.2.1"]
