"""A sim run validates each OCPP frame once, when written (simulators/ocppj/vouched.py): the reader
in the same run trusts frames of ours, so no frame of smoke is checked a second time on reading."""

from __future__ import annotations

from typing import Any

import pytest

from bench.logs import logs_dropped
from bench.runtime.sim import SimRuntime
from bench.scenario import load_scenario
from bench.trace import WireTrace
from bench.world import build_world
from simulators.ocppj.codec import Codec


def test_smoke_frames_are_validated_when_written_and_not_again_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = {"written": 0, "read": 0}
    check_local, check_remote = Codec._check_local, Codec._check_remote

    def counted_local(self: Codec, *args: Any, **kwargs: Any) -> Any:
        checks["written"] += 1
        return check_local(self, *args, **kwargs)

    def counted_remote(self: Codec, *args: Any, **kwargs: Any) -> Any:
        checks["read"] += 1
        return check_remote(self, *args, **kwargs)

    monkeypatch.setattr(Codec, "_check_local", counted_local)
    monkeypatch.setattr(Codec, "_check_remote", counted_remote)
    scenario, base = load_scenario("smoke")
    trace = WireTrace(None, "off")
    with logs_dropped():
        world = build_world(
            scenario,
            base,
            emsp_base_url="http://emsp.local/ocpi",
            cpo_base_urls={c.id: f"http://{c.id}.cpo.local/ocpi" for c in scenario.cpos},
        )
        SimRuntime(world, trace).run()
    ocpp_frames = sum(n for kind, n in trace.counts.items() if kind.startswith("ocpp"))
    assert ocpp_frames > 1000, trace.counts
    # Every frame checked exactly once (smoke has no CALLERROR, which carries no payload schema).
    assert checks == {"written": ocpp_frames, "read": 0}, trace.counts
