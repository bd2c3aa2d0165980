"""The live runtime at a moderate scale: hundreds of stations connect, boot, carry real sessions,
and the run reconciles. Correctness only: how fast it goes is bench.perf.live's business."""

from __future__ import annotations

import resource
from datetime import datetime
from pathlib import Path

import pytest

from bench.perf.live import sized, traffic
from bench.runtime.live import LiveRuntimeError
from bench.runtime.live_run import raise_fd_limit, run_live
from bench.scenario import LinkSpec
from bench.trace import WireTrace
from emsp.wire import HttpRequest, HttpResponse

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


class _CountingTrace(WireTrace):
    """Counts OCPI calls not answered yet, and OCPP frames."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.unanswered = self.ocpi_calls = self.ocpp_frames = 0

    def ocpp(self, t: datetime, proto: str, src: str, dst: str, frame: str) -> None:
        self.ocpp_frames += 1
        super().ocpp(t, proto, src, dst, frame)

    def ocpi_request(self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest) -> None:
        self.unanswered += 1
        self.ocpi_calls += 1
        super().ocpi_request(t, proto, src, dst, request)

    def ocpi_response(
        self, t: datetime, proto: str, src: str, dst: str, request: HttpRequest, response: HttpResponse
    ) -> None:
        self.unanswered -= 1
        super().ocpi_response(t, proto, src, dst, request, response)


@pytest.mark.parametrize("ocpi_latency_ms", [0.0, 20_000.0])  # 20 s: 0.5 wall s per hop at 40x
def test_the_benchmark_milestones_come_when_no_ocpi_call_is_in_flight(
    tmp_path: Path, ocpi_latency_ms: float
) -> None:
    # bench.perf.live reads a connection's cost between the two milestones: an OCPI body in flight
    # at either (the opening location exchange, what the boots caused) would be counted as the
    # connections' or hidden from them.
    scenario, base = sized(8, minutes=1, arrivals_per_hour=60)
    link = LinkSpec(latency_ms=ocpi_latency_ms)
    scenario = scenario.model_copy(
        update={"cpos": [cpo.model_copy(update={"ocpi_link": link}) for cpo in scenario.cpos]}
    )
    trace = _CountingTrace(tmp_path / "trace.jsonl")
    seen: list[tuple[str, int, int, int]] = []

    def milestone(name: str) -> None:
        seen.append((name, trace.unanswered, trace.ocpi_calls, trace.ocpp_frames))

    try:
        run_live(scenario, base, trace, speed=40, milestone=milestone)
    finally:
        trace.close()
    assert [(name, unanswered) for name, unanswered, _, _ in seen] == [("connecting", 0), ("booted", 0)]
    (_, _, calls_at_connecting, frames_at_connecting), (_, _, _, frames_at_booted) = seen
    assert calls_at_connecting > 0  # the opening exchange came first, and is over
    assert frames_at_connecting == 0  # no station has connected yet
    assert frames_at_booted >= 2 * len(scenario.station_ids())  # every BootNotification and its answer
