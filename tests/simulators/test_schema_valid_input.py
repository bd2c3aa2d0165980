"""Schema-valid input never raises, in either model, in either version (payloads drawn from the `ocpp`
package's official schemas). Every CALL gets exactly one answer frame."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp_pair import Pair
from schema_strategies import from_schema

from simulators.cpo.csms import Csms
from simulators.ocppj import OcppVersion
from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
EV = EvProfile(power_kw=Decimal("11"), energy_kwh=Decimal("10"))

# Messages a station sends (everything else in the schema folder is sent by the CSMS).
FROM_STATION: dict[OcppVersion, set[str]] = {
    "1.6": {
        "Authorize", "BootNotification", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification",
        "StopTransaction", "SecurityEventNotification", "SignCertificate", "LogStatusNotification",
        "SignedFirmwareStatusNotification",
    },
    "2.0.1": {
        "Authorize", "BootNotification", "ClearedChargingLimit", "DataTransfer", "FirmwareStatusNotification",
        "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
        "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
        "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
        "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
    },
}  # fmt: skip
# DataTransfer goes both ways.
BOTH_WAYS = {"DataTransfer"}


def _actions(version: OcppVersion) -> list[str]:
    folder = resources.files("ocpp") / ("v16" if version == "1.6" else "v201") / "schemas"
    names = sorted(e.name[: -len(".json")] for e in folder.iterdir() if e.name.endswith(".json"))
    requests = [n for n in names if not n.endswith("Response")]
    return [n.removesuffix("Request") if version == "2.0.1" else n for n in requests]


def _schema(version: OcppVersion, action: str) -> dict[str, Any]:
    folder = resources.files("ocpp") / ("v16" if version == "1.6" else "v201") / "schemas"
    name = action if version == "1.6" else f"{action}Request"
    schema = json.loads((folder / f"{name}.json").read_text(encoding="utf-8-sig"))
    schema.pop("$schema", None)  # draft-06 markers: hypothesis-jsonschema reads the keywords alike
    schema.pop("$id", None)
    return schema


def _charging_pair(version: OcppVersion) -> Pair:
    cls = Station16 if version == "1.6" else Station201
    station = cls("CS-1", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=600, call_timeout_s=30)
    pair = Pair(station, Csms("CPO", heartbeat_interval_s=900))
    pair.connect(T0)
    pair.plug_in(1, "TOKEN-A", EV, T0 + timedelta(minutes=1))
    return pair


CASES = [
    (v, a, side)
    for v in ("1.6", "2.0.1")
    for a in _actions(v)  # type: ignore[arg-type]
    for side in ("station", "csms")
    if (side == "csms") == (a in FROM_STATION[v]) or a in BOTH_WAYS  # type: ignore[index]
]


def _one_answer(frames: list[str], uid: str) -> None:
    answers = [m for m in map(json.loads, frames) if m[0] in (3, 4) and m[1] == uid]
    assert len(answers) == 1, frames


@pytest.mark.slow
@pytest.mark.parametrize(("version", "action", "side"), CASES)
def test_schema_valid_call_never_raises(version: OcppVersion, action: str, side: str) -> None:
    strategy = from_schema(_schema(version, action))

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(payload=strategy, offset=st.integers(0, 7200))
    def check(payload: dict[str, Any], offset: int) -> None:
        pair = _charging_pair(version)
        now = T0 + timedelta(minutes=2, seconds=offset)
        frame = json.dumps([2, "fuzz-1", action, payload], default=str)
        if side == "station":
            pair.run_until(now)
            out = pair.station.on_frame(frame, now)
            _one_answer(out, "fuzz-1")
            pair.station.on_wakeup(now + timedelta(hours=3))  # what it scheduled runs too
        else:
            output = pair.csms.on_frame(pair.sid, frame, now)
            held = [e for e in output.events if type(e).__name__ == "AuthorizationRequested"]
            frames = [f for _sid, f in output.frames]
            for event in held:
                frames += [f for _sid, f in pair.csms.on_authorization(event.ref, True, now).frames]  # type: ignore[attr-defined]
            _one_answer(frames, "fuzz-1")

    check()


RESPONSES = {
    "1.6": ["BootNotification", "Authorize", "StartTransaction", "Heartbeat", "StopTransaction"],
    "2.0.1": ["BootNotification", "Authorize", "TransactionEvent", "Heartbeat", "StatusNotification"],
}


@pytest.mark.slow
@pytest.mark.parametrize(("version", "action"), [(v, a) for v, acts in RESPONSES.items() for a in acts])
def test_schema_valid_answers_never_raise_in_the_station(version: OcppVersion, action: str) -> None:
    """Whatever schema-valid answer a CSMS gives to the station's CALLs, the station carries on."""
    folder = resources.files("ocpp") / ("v16" if version == "1.6" else "v201") / "schemas"
    schema = json.loads((folder / f"{action}Response.json").read_text(encoding="utf-8-sig"))
    schema.pop("$schema", None)
    schema.pop("$id", None)

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(payload=from_schema(schema))
    def check(payload: dict[str, Any]) -> None:
        cls = Station16 if version == "1.6" else Station201
        station = cls("CS-1", connectors=1, max_power_kw=Decimal("7.4"), call_timeout_s=30)
        out = station.on_connected(T0)
        if action != "BootNotification":
            boot = {"currentTime": "2024-05-01T08:00:00Z", "interval": 60, "status": "Accepted"}
            out = station.on_frame(json.dumps([3, json.loads(out[0])[1], boot]), T0)
            out += station.plug_in(1, token_uid="T", ev=EV, now=T0 + timedelta(seconds=1))
        # Answer every CALL the station sends with the generated payload where it fits, else "{}".
        now = T0 + timedelta(seconds=2)
        for _ in range(12):
            if not out:
                out = station.on_wakeup(now := now + timedelta(seconds=60))
                continue
            call = json.loads(out.pop(0))
            reply = payload if call[2] == action else _minimal(version, call[2])
            out += station.on_frame(json.dumps([3, call[1], reply], default=str), now)

    check()


def _minimal(version: OcppVersion, action: str) -> dict[str, Any]:
    info = {"status": "Accepted"}
    return {
        "BootNotification": {"currentTime": "2024-05-01T08:00:00Z", "interval": 60, "status": "Accepted"},
        "Heartbeat": {"currentTime": "2024-05-01T08:00:00Z"},
        "Authorize": {"idTagInfo": info} if version == "1.6" else {"idTokenInfo": info},
        "StartTransaction": {"idTagInfo": info, "transactionId": 1},
    }.get(action, {})
