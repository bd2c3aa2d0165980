"""A CSMS configuring an interval past a week (heartbeat, meter values, message timeout) is answered
Rejected and changes nothing: the station would otherwise schedule past the datetime range and the
run die with an OverflowError, a bench fault, for a CSMS's odd value (review3 F1, by ocpp_call)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from simulators.station import v16_calls, v201_calls
from simulators.station.control import MAX_INTERVAL_S
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

NOW = datetime(2026, 3, 2, 7, tzinfo=UTC)
TOO_LONG = [str(MAX_INTERVAL_S + 1), "300000000000", "100000000000000"]


@pytest.mark.parametrize("value", TOO_LONG)
@pytest.mark.parametrize("key", ["MeterValueSampleInterval", "HeartbeatInterval"])
def test_16_rejects_an_interval_past_a_week(key: str, value: str) -> None:
    station = Station16("CS-1", connectors=1, max_power_kw=Decimal(11), meter_interval_s=300)
    before = (station.meter_interval, station._heartbeat)
    answer = v16_calls.change_configuration(station, {"key": key, "value": value}, NOW)
    assert answer == {"status": "Rejected"}
    assert (station.meter_interval, station._heartbeat) == before


def test_16_accepts_a_week() -> None:
    station = Station16("CS-1", connectors=1, max_power_kw=Decimal(11), meter_interval_s=300)
    payload = {"key": "MeterValueSampleInterval", "value": str(MAX_INTERVAL_S)}
    assert v16_calls.change_configuration(station, payload, NOW) == {"status": "Accepted"}
    assert station.meter_interval == timedelta(weeks=1)


@pytest.mark.parametrize("value", TOO_LONG)
@pytest.mark.parametrize(
    ("component", "variable", "instance"),
    [
        ("SampledDataCtrlr", "TxUpdatedInterval", None),
        ("OCPPCommCtrlr", "HeartbeatInterval", None),
        ("OCPPCommCtrlr", "MessageTimeout", "Default"),
    ],
)
def test_201_rejects_an_interval_past_a_week(
    component: str, variable: str, instance: str | None, value: str
) -> None:
    station = Station201("CS-2", connectors=1, max_power_kw=Decimal(11), meter_interval_s=300)
    before = (station.meter_interval, station._heartbeat, station.call_timeout)
    var: dict[str, str] = {"name": variable} | ({"instance": instance} if instance else {})
    item = {"component": {"name": component}, "variable": var, "attributeValue": value}
    answer = v201_calls.set_variables(station, {"setVariableData": [item]}, NOW)
    assert answer["setVariableResult"][0]["attributeStatus"] == "Rejected"
    assert (station.meter_interval, station._heartbeat, station.call_timeout) == before
