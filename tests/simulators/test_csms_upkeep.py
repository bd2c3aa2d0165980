"""The mock CSMS turns a station's upkeep notifications into events (job status, device-model values):
in-memory pair, the virtual station doing the jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_station_calls import T0, make_pair

from simulators.cpo.events import DeviceModelReported, UpkeepStatus
from simulators.ocppj import OcppVersion

FIRMWARE_16 = {"location": "https://fw.example/fw-2.bin", "retrieveDate": "2024-05-01T08:01:00Z"}
LOG_201 = {"logType": "DiagnosticsLog", "requestId": 5, "log": {"remoteLocation": "https://l.example/"}}
PUBLISH = {"location": "https://fw.example/lc/fw-3.bin", "checksum": "0" * 32, "requestId": 9}
JOBS: list[tuple[OcppVersion, str, dict[str, Any], str, list[str]]] = [
    (
        "1.6",
        "UpdateFirmware",
        FIRMWARE_16,
        "firmware",
        ["Downloading", "Downloaded", "Installing", "Installed"],
    ),
    ("1.6", "GetDiagnostics", {"location": "ftp://logs.example/"}, "diagnostics", ["Uploading", "Uploaded"]),
    ("2.0.1", "GetLog", LOG_201, "log", ["Uploading", "Uploaded"]),
    (
        "2.0.1",
        "PublishFirmware",
        PUBLISH,
        "publish",
        ["Downloading", "Downloaded", "ChecksumVerified", "Published"],
    ),
]


@pytest.mark.parametrize(("version", "action", "payload", "job", "statuses"), JOBS)
def test_each_upkeep_notification_becomes_a_job_status(
    version: OcppVersion, action: str, payload: dict[str, Any], job: str, statuses: list[str]
) -> None:
    pair = make_pair(version)
    pair.command(action, payload, T0 + timedelta(minutes=1))
    pair.run_until(T0 + timedelta(minutes=10))
    seen = [e for e in pair.events if isinstance(e, UpkeepStatus)]
    assert {e.job for e in seen} == {job}
    assert [e.status for e in seen] == statuses
    if job == "publish":
        assert seen[-1].location == ("http://CS-1.local/firmware/fw-3",) and seen[-1].request_id == 9


def test_a_report_becomes_device_model_values() -> None:
    pair = make_pair("2.0.1")
    wanted = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    pair.command("GetReport", {"requestId": 3, "componentVariable": [wanted]}, T0 + timedelta(minutes=1))
    [report] = [e for e in pair.events if isinstance(e, DeviceModelReported)]
    assert report.request_id == 3 and not report.more
    assert report.values == (("OCPPCommCtrlr/HeartbeatInterval", "900"),)  # the CSMS's boot interval
