"""A station connected to the mock CSMS and registered: its BootNotification Accepted, as every
station must be before the CSMS serves its other requests (OCPP 2.0.1 B02/B03, 1.6 §4.2)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from simulators.cpo.csms import Csms
from simulators.ocppj import OcppVersion

BOOT: dict[str, dict[str, Any]] = {
    "1.6": {"chargePointVendor": "v", "chargePointModel": "m"},
    "2.0.1": {"chargingStation": {"model": "m", "vendorName": "v"}, "reason": "PowerUp"},
}


def connect_booted(csms: Csms, station_id: str, version: OcppVersion, now: datetime) -> None:
    csms.on_connected(station_id, version, now)
    out = csms.on_frame(station_id, json.dumps([2, "boot", "BootNotification", BOOT[version]]), now)
    answer = json.loads(out.frames[0][1])
    assert answer[:2] == [3, "boot"] and answer[2]["status"] == "Accepted", answer
