"""What the mock CSMS notes of a station's imperfect messages (a repeat ignored, a transaction taken
up, a frame refused) reaches the run's log through the mock CPO, as serve csms logs it: sim and live
runs dropped it, so their user never saw it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from csms_boot import BOOT
from structlog.testing import capture_logs
from test_ocpi_cpo import _world

from simulators.cpo.csms import Csms
from simulators.cpo.mock_cpo import MockCpo

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def test_the_csms_notes_and_refusals_are_logged_with_their_station_and_run_time() -> None:
    cpo, _emsp = _world()
    mock = MockCpo(Csms("cpo-a", authorize=lambda token: True), cpo)
    with capture_logs() as logs:
        mock.on_station_connected("CS1", "1.6", T0)
        mock.on_station_frame("CS1", json.dumps([2, "b", "BootNotification", BOOT["1.6"]]), T0)
        stop = {"transactionId": 77, "meterStop": 100, "timestamp": "2026-03-02T06:00:00Z"}
        out = mock.on_station_frame("CS1", json.dumps([2, "s", "StopTransaction", stop]), T0)
        mock.on_station_frame("CS1", json.dumps([2, "x", "Heartbeat", {"extra": 1}]), T0)
    assert json.loads(out.frames[0][1]) == [3, "s", {}]  # answered as before
    [note] = [entry for entry in logs if entry["event"] == "csms note"]
    assert (note["cpo_id"], note["station_id"], note["at"]) == ("cpo-a", "CS1", "2026-03-02T07:00:00Z")
    assert "transaction 77" in note["note"] and note["log_level"] == "warning"
    [invalid] = [entry for entry in logs if entry["event"] == "invalid frame from station"]
    assert invalid["station_id"] == "CS1"
