"""What the mock CSMS takes from a station's upkeep notifications: the status of its firmware update,
firmware publishing (2.0.1 L03), log and diagnostics uploads (`UpkeepStatus`), and the values its
device-model reports list (2.0.1 NotifyReport: `DeviceModelReported`). Each is answered with the
schema's empty response, as before; the events let `serve csms` show where a job stands."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from simulators.cpo.events import CsmsEvent, DeviceModelReported, UpkeepStatus
from simulators.ocppj import OcppVersion, Payload

UpkeepHandler = Callable[[Any, Any, Payload, datetime, list[CsmsEvent]], Payload]


def _status(job: str) -> UpkeepHandler:
    def handle(csms: Any, link: Any, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
        request_id = payload.get("requestId")
        location = tuple(payload.get("location", ()))
        events.append(UpkeepStatus(link.station_id, job, payload["status"], request_id, now, location))
        return {}

    return handle


def _key(item: Payload) -> str:
    variable = item["variable"]
    instance = variable.get("instance")
    return f"{item['component']['name']}/{variable['name']}" + (f"/{instance}" if instance else "")


def _notify_report(csms: Any, link: Any, payload: Payload, now: datetime, events: list[CsmsEvent]) -> Payload:
    values = []
    for item in payload.get("reportData", []):
        actual = next((a for a in item["variableAttribute"] if a.get("type", "Actual") == "Actual"), None)
        if actual is not None and "value" in actual:
            values.append((_key(item), str(actual["value"])))
    more = bool(payload.get("tbc", False))
    events.append(DeviceModelReported(link.station_id, payload["requestId"], tuple(values), more, now))
    return {}


UPKEEP: Mapping[OcppVersion, Mapping[str, UpkeepHandler]] = MappingProxyType(
    {
        "1.6": MappingProxyType(
            {
                "FirmwareStatusNotification": _status("firmware"),
                "SignedFirmwareStatusNotification": _status("firmware"),
                "DiagnosticsStatusNotification": _status("diagnostics"),
                "LogStatusNotification": _status("log"),
            }
        ),
        "2.0.1": MappingProxyType(
            {
                "FirmwareStatusNotification": _status("firmware"),
                "PublishFirmwareStatusNotification": _status("publish"),
                "LogStatusNotification": _status("log"),
                "NotifyReport": _notify_report,
            }
        ),
    }
)
