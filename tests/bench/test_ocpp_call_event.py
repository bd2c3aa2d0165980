"""`ocpp_call` timeline events: the mock CSMS sends a CSMS-initiated CALL at a scenario instant; the
stations act on it (a firmware update, a local list) and the summary counts what they answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import run_sim, trace, variant

from bench.scenario import ScenarioError, load_scenario

FIRMWARE_16 = {"location": "https://fw.example/cs/fw-3.0.bin", "retrieveDate": "2026-03-02T07:10:00Z"}
FIRMWARE_201 = {
    "requestId": 11,
    "firmware": {"location": "https://fw.example/cs/fw-3.0.bin", "retrieveDateTime": "2026-03-02T07:10:00Z"},
}
LOCAL_LIST_16 = {
    "listVersion": 2,
    "updateType": "Full",
    "localAuthorizationList": [{"idTag": "ANY-TOKEN", "idTagInfo": {"status": "Accepted"}}],
}


def _smoke_with(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    def change(data: dict[str, Any]) -> None:
        data["duration_minutes"] = 60
        data["events"] = events
        data["expectations"] = [
            {"metric": "ocpp_calls.UpdateFirmware.accepted", "op": "==", "value": 2},
            {"metric": "ocpp_calls.SendLocalList.accepted", "op": "==", "value": 1},
        ]

    return variant(tmp_path, "smoke", change)


AT, LATER = "2026-03-02T07:05:00Z", "2026-03-02T07:06:00Z"
EVENTS = [
    {
        "type": "ocpp_call",
        "at": AT,
        "stations": ["CS-A-16-1"],
        "action": "UpdateFirmware",
        "payload": FIRMWARE_16,
    },
    {
        "type": "ocpp_call",
        "at": AT,
        "stations": ["CS-A-201-1"],
        "action": "UpdateFirmware",
        "payload": FIRMWARE_201,
    },
    {
        "type": "ocpp_call",
        "at": LATER,
        "stations": ["CS-A-16-2"],
        "action": "SendLocalList",
        "payload": LOCAL_LIST_16,
    },
]


def test_a_firmware_update_from_the_timeline_runs_to_a_reboot_in_sim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outcome = run_sim(monkeypatch, _smoke_with(tmp_path, EVENTS), 3, tmp_path / "run")
    assert outcome.exit_code == 0, outcome.summary["expectations"]
    calls = outcome.summary["ocpp_calls"]
    assert calls["UpdateFirmware"] == {"sent": 2, "answered": 2, "accepted": 2, "refused": 0, "errors": 0}
    assert calls["SendLocalList"]["accepted"] == 1
    frames = [r for r in trace(outcome.run_dir) if r.get("proto", "").startswith("ocpp")]

    def sent_by(station: str, action: str) -> list[dict[str, Any]]:
        messages = [json.loads(r["frame"]) for r in frames if r["src"] == station]
        return [m[3] for m in messages if m[0] == 2 and m[2] == action]

    statuses = [p["status"] for p in sent_by("CS-A-201-1", "FirmwareStatusNotification")]
    assert statuses[:2] == ["Downloading", "Downloaded"] and statuses[-1] == "Installed"
    boots = sent_by("CS-A-16-1", "BootNotification")
    assert boots[-1]["firmwareVersion"] == "fw-3.0"  # rebooted into the new image
    assert outcome.world.stations["CS-A-16-2"].upkeep.local_list.version == 2
    # Sessions on the updated stations were never cut short: everything reconciles.
    counts = outcome.summary["reconciliation"]
    assert counts["missing_cdr"] == counts["orphan_cdr"] == 0


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"stations": ["NO-SUCH"], "action": "Reset", "payload": {"type": "Soft"}}, "unknown station"),
        ({"stations": ["CS-A-16-1"], "action": "Reset", "payload": {"type": "Sideways"}}, "Reset"),
        ({"stations": ["CS-A-16-1"], "action": "BootNotification", "payload": {}}, "sent by stations"),
        ({"stations": ["CS-A-201-1"], "action": "UpdateFirmware", "payload": FIRMWARE_16}, "OCPP 2.0.1"),
        ({"stations": ["CS-A-16-1"], "action": "NoSuchAction", "payload": {}}, "no action"),
    ],
)
def test_an_ocpp_call_the_station_could_not_take_is_invalid_input(
    tmp_path: Path, event: dict[str, Any], reason: str
) -> None:
    path = _smoke_with(tmp_path, [{"type": "ocpp_call", "at": "2026-03-02T07:05:00Z", **event}])
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert "events[0]" in caught.value.field and reason in str(caught.value)


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_a_firmware_update_from_the_timeline_in_live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import bench.runner
    from bench.runner import run_scenario

    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    path = _smoke_with(tmp_path, EVENTS)
    outcome = run_scenario(str(path), runtime="live", seed=3, out=tmp_path / "live", speed=1200)
    assert outcome.summary["ocpp_calls"]["UpdateFirmware"]["accepted"] == 2
    assert outcome.world.stations["CS-A-16-1"].upkeep.firmware_version == "fw-3.0"
