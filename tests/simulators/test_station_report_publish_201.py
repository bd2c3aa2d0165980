"""2.0.1 GetReport (B08) and PublishFirmware / UnpublishFirmware (L03, L04) on the virtual station,
through the mock CSMS (in-memory pair)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_station_calls import T0, after, make_pair

SMART = ("Enabled", "RateUnit", "PeriodsPerSchedule", "ProfileStackLevel")
HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}


@pytest.mark.parametrize(
    ("request_extra", "status", "reported"),
    [
        ({"componentVariable": [HEARTBEAT]}, "Accepted", [("OCPPCommCtrlr", "HeartbeatInterval")]),
        (
            {"componentVariable": [{"component": {"name": "SmartChargingCtrlr"}}]},
            "Accepted",
            [("SmartChargingCtrlr", v) for v in SMART],
        ),
        ({"componentVariable": [HEARTBEAT], "componentCriteria": ["Enabled"]}, "Accepted",
         [("OCPPCommCtrlr", "HeartbeatInterval")]),
        ({"componentCriteria": ["Problem"]}, "EmptyResultSet", []),
        ({"componentVariable": [{"component": {"name": "NoSuchCtrlr"}}]}, "EmptyResultSet", []),
    ],
)  # fmt: skip
def test_get_report_reports_what_was_asked(
    request_extra: dict[str, Any], status: str, reported: list[tuple[str, str]]
) -> None:
    pair = make_pair("2.0.1")
    at = T0 + timedelta(minutes=1)
    answer = pair.command("GetReport", {"requestId": 41, **request_extra}, at).payload
    assert answer == {"status": status}
    reports = [m[3] for m in after(pair, at) if m[2] == "NotifyReport"]
    if not reported:
        assert reports == []  # B08: nothing matched, nothing reported
        return
    [report] = reports
    assert report["requestId"] == 41 and report["tbc"] is False
    got = [(d["component"]["name"], d["variable"]["name"]) for d in report["reportData"]]
    assert got == reported


def test_get_report_without_filters_reports_every_variable_like_a_full_inventory() -> None:
    pair = make_pair("2.0.1")
    at = T0 + timedelta(minutes=1)
    pair.command("GetReport", {"requestId": 1}, at)
    pair.command("GetBaseReport", {"requestId": 2, "reportBase": "FullInventory"}, at)
    custom, full = [m[3]["reportData"] for m in after(pair, at) if m[2] == "NotifyReport"]
    assert custom == full


PUBLISH = {"location": "https://fw.example/lc/fw-3.0.bin", "checksum": "0" * 32, "requestId": 12}


def test_publish_firmware_downloads_verifies_publishes_then_unpublishes() -> None:
    pair = make_pair("2.0.1")
    at = T0 + timedelta(minutes=1)
    assert pair.command("PublishFirmware", PUBLISH, at).payload == {"status": "Accepted"}
    # While it downloads, the image cannot be unpublished; a trigger reports where it is.
    unpublish = {"checksum": PUBLISH["checksum"]}
    assert pair.command("UnpublishFirmware", unpublish, at).payload == {"status": "DownloadOngoing"}
    trigger = {"requestedMessage": "PublishFirmwareStatusNotification"}
    assert pair.command("TriggerMessage", trigger, at).payload == {"status": "Accepted"}
    pair.run_until(T0 + timedelta(minutes=3))
    sent = [m[3] for m in after(pair, at) if m[2] == "PublishFirmwareStatusNotification"]
    statuses = [p["status"] for p in sent]
    assert statuses == ["Downloading", "Downloading", "Downloaded", "ChecksumVerified", "Published"]
    assert all(p["requestId"] == 12 for p in sent)
    assert sent[-1]["location"] == ["http://CS-1.local/firmware/fw-3.0"]
    later = T0 + timedelta(minutes=4)
    assert pair.command("UnpublishFirmware", unpublish, later).payload == {"status": "Unpublished"}
    assert pair.command("UnpublishFirmware", unpublish, later).payload == {"status": "NoFirmware"}
    idle = pair.command("TriggerMessage", trigger, later).payload
    assert idle == {"status": "Accepted"}
    [last] = [m[3] for m in after(pair, later) if m[2] == "PublishFirmwareStatusNotification"]
    assert last == {"status": "Idle"}
