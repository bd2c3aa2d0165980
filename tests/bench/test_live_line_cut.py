"""Live: a station whose connection is cut under it (a network blip, the CSMS's end reset)
reconnects and boots again, as a real charger does; the run loses nothing and grades as without the
cut (before, the station stayed deaf and its missed sessions were graded as the eMSP's failures)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from test_live_timeline import LIVE_SPEED, _nothing_lost, _short_smoke, run_live
from timeline_helpers import trace

from bench.runtime.live import LiveRuntime

pytestmark = [pytest.mark.xdist_group("live"), pytest.mark.slow]

CUT_AFTER_S = 2.0  # wall seconds after a station's first connection: mid-run at LIVE_SPEED


def test_a_cut_connection_is_reopened_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    connections: dict[str, int] = {}
    original = LiveRuntime.csms_connection

    def cutting(self: LiveRuntime, cpo_id: str, end: Any, request: Any) -> None:
        station = request.path.rsplit("/", 1)[-1]
        connections[station] = connections.get(station, 0) + 1
        original(self, cpo_id, end, request)
        if connections[station] == 1:  # the CSMS's end is reset: the TCP connection is gone
            asyncio.get_running_loop().call_later(CUT_AFTER_S, end.abort)

    monkeypatch.setattr(LiveRuntime, "csms_connection", cutting)
    outcome = run_live(monkeypatch, _short_smoke(tmp_path, []), 7, tmp_path / "out", speed=LIVE_SPEED)
    assert outcome.exit_code == 0, outcome.summary["expectations"]
    assert connections and all(n == 2 for n in connections.values()), connections
    boots: dict[str, int] = {}
    for record in trace(tmp_path / "out"):
        if "frame" in record:
            message = json.loads(record["frame"])
            if message[0] == 2 and message[2] == "BootNotification":
                boots[record["src"]] = boots.get(record["src"], 0) + 1
    assert boots == dict.fromkeys(connections, 2)  # a new OCPP-J session starts with its boot
    _nothing_lost(outcome.summary)
    logged = [json.loads(line) for line in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    lost = [e["station_id"] for e in logged if e["event"] == "station connection lost: reconnecting"]
    assert sorted(lost) == sorted(connections)  # the run's log says so: not silent
