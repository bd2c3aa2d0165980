"""A boot answered Pending, then Accepted (a boot the CSMS triggered meanwhile): the Pending
answer's retry is off, so the station does not boot again (a CSMS reads that as a reboot)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from simulators.ocppj import OcppVersion
from simulators.station.base import VirtualStation
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
NOW = "2026-03-02T07:00:00Z"


def boot_answer(status: str, interval: int) -> str:
    return json.dumps({"currentTime": NOW, "interval": interval, "status": status})


def answer_all(station: VirtualStation, frames: list[str], at: datetime, log: list[str]) -> None:
    """Answer every station CALL (boots Accepted), logging the actions sent."""
    while frames:
        message = json.loads(frames.pop(0))
        if message[0] != 2:
            continue
        log.append(message[2])
        result: dict[str, Any] = {}
        if message[2] == "BootNotification":
            result = json.loads(boot_answer("Accepted", 300))
        elif message[2] == "Heartbeat":
            result = {"currentTime": NOW}
        frames += station.on_frame(json.dumps([3, message[1], result]), at)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_accepted_after_pending_cancels_the_boot_retry(version: OcppVersion) -> None:
    cls: type[VirtualStation] = Station16 if version == "1.6" else Station201
    station = cls("CS-1", connectors=1, max_power_kw=Decimal("11"), meter_interval_s=600)
    [boot] = station.on_connected(T0)
    pending = f'[3, "{json.loads(boot)[1]}", {boot_answer("Pending", 5)}]'
    assert station.on_frame(pending, T0) == []
    log: list[str] = []
    trigger = json.dumps([2, "t1", "TriggerMessage", {"requestedMessage": "BootNotification"}])
    at = T0 + timedelta(seconds=2)
    answer_all(station, station.on_frame(trigger, at), at, log)
    assert log.count("BootNotification") == 1 and station.boots == 1

    # Past the Pending answer's 5 s interval: no boot again, only the next heartbeat at +300 s.
    assert station.next_wakeup() == at + timedelta(seconds=300)
    later = T0 + timedelta(seconds=60)
    answer_all(station, station.on_wakeup(later), later, log)
    assert log.count("BootNotification") == 1 and station.boots == 1
