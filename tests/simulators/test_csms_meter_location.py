"""SampledValue.location: delivered energy is the Outlet register (the default when `location` is
absent), in both OCPP versions. An Inlet register (what the station drew from the grid, its own use
included), the EV's or the station body's reading is never taken for it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from csms_boot import connect_booted

from simulators.cpo.csms import Csms
from simulators.cpo.events import CsmsEvent, MeterSampled, TransactionEnded, TransactionStarted
from simulators.ocppj import OcppVersion
from simulators.ocppj.meter import off_outlet_energy, read_sample

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _sampled(version: OcppVersion, readings: list[tuple[str | None, int]]) -> list[dict[str, Any]]:
    out = []
    for location, wh in readings:
        value: dict[str, Any] = {"value": str(wh) if version == "1.6" else wh}
        out.append(value | ({"location": location} if location is not None else {}))
    return out


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize(
    ("readings", "energy"),
    [
        ([("Inlet", 99000), ("Outlet", 2000)], 2000),
        ([("Inlet", 99000), (None, 2000)], 2000),  # absent: Outlet
        ([("Body", 5), ("EV", 7), ("Cable", 8)], None),
        ([("Inlet", 99000)], None),
    ],
)
def test_only_the_outlet_register_is_delivered_energy(
    version: OcppVersion, readings: list[tuple[str | None, int]], energy: int | None
) -> None:
    value = {"timestamp": "2026-03-02T07:10:00Z", "sampledValue": _sampled(version, readings)}
    assert read_sample(version, value)[0] == energy


def _send(csms: Csms, uid: str, action: str, payload: dict[str, Any]) -> list[CsmsEvent]:
    out = csms.on_frame("CS-1", json.dumps([2, uid, action, payload]), T0)
    assert json.loads(out.frames[0][1])[:2] == [3, uid]
    return out.events


def test_v16_an_inlet_register_is_not_the_session_energy() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    _send(csms, "s", "StartTransaction", start)
    inlet_first = _sampled("1.6", [("Inlet", 250000), ("Outlet", 4000)])
    value = {"timestamp": "2026-03-02T07:10:00Z", "sampledValue": inlet_first}
    events = _send(csms, "m", "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [value]})
    assert [e.energy_wh for e in events if isinstance(e, MeterSampled)] == [4000]


def _transaction_event(
    kind: str, seq: int, at: str, readings: list[dict[str, Any]], trigger: str
) -> dict[str, Any]:
    """TransactionEvent `kind` of T1 (TOKEN-A, EVSE 1) with one meter value of `readings`;
    `trigger`: the triggerReason of an event other than Started."""
    return {
        "eventType": kind,
        "timestamp": at,
        "triggerReason": "Authorized" if kind == "Started" else trigger,
        "seqNo": seq,
        "transactionInfo": {"transactionId": "T1"},
        "idToken": {"idToken": "TOKEN-A", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": at, "sampledValue": readings}],
    }


def test_v201_inlet_registers_neither_start_nor_stop_a_transaction() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)

    def event(kind: str, seq: int, at: str, inlet: int, outlet: int) -> dict[str, Any]:
        readings = _sampled("2.0.1", [("Inlet", inlet), ("Outlet", outlet)])
        return _transaction_event(kind, seq, at, readings, "EVCommunicationLost")

    events = _send(csms, "a", "TransactionEvent", event("Started", 0, "2026-03-02T07:00:00Z", 500000, 1000))
    events += _send(csms, "b", "TransactionEvent", event("Ended", 1, "2026-03-02T07:30:00Z", 520000, 9000))
    [started] = [e for e in events if isinstance(e, TransactionStarted)]
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    assert (started.meter_start_wh, ended.meter_stop_wh) == (1000, 9000)


def test_v201_an_inlet_only_station_is_noted_not_counted() -> None:
    # Its transaction counts no energy (only Outlet energy is delivered), and the notes say why.
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    notes: list[str] = []
    events: list[CsmsEvent] = []
    for seq, (kind, wh) in enumerate([("Started", 1000), ("Updated", 3000), ("Ended", 5000)]):
        at = f"2026-03-02T07:{seq}0:00Z"
        readings = _sampled("2.0.1", [("Inlet", wh)])
        payload = _transaction_event(kind, seq, at, readings, "MeterValuePeriodic")
        out = csms.on_frame("CS-1", json.dumps([2, f"m{seq}", "TransactionEvent", payload]), T0)
        events += out.events
        notes += out.notes
    [started] = [e for e in events if isinstance(e, TransactionStarted)]
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    assert (started.meter_start_wh, ended.meter_stop_wh) == (0, 0)
    assert notes == [
        f"TransactionEvent {kind} for transaction T1: its energy register is at Inlet, not at the Outlet:"
        " not counted as delivered energy"
        for kind in ("Started", "Updated", "Ended")
    ]


def test_v16_inlet_only_meter_values_are_noted() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    _send(csms, "s", "StartTransaction", start)
    value = {"timestamp": "2026-03-02T07:10:00Z", "sampledValue": _sampled("1.6", [("Inlet", 250000)])}
    payload = {"connectorId": 1, "transactionId": 1, "meterValue": [value]}
    out = csms.on_frame("CS-1", json.dumps([2, "m", "MeterValues", payload]), T0)
    assert not [e for e in out.events if isinstance(e, MeterSampled)]
    assert [n for n in out.notes if "at Inlet, not at the Outlet" in n] == [
        "MeterValues for transaction 1: its energy register is at Inlet, not at the Outlet: not counted as"
        " delivered energy"
    ]


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_an_outlet_register_beside_an_inlet_one_is_no_note(version: OcppVersion) -> None:
    both = {"sampledValue": _sampled(version, [("Inlet", 99000), (None, 2000)])}
    assert off_outlet_energy(both) is None
    assert off_outlet_energy({"sampledValue": _sampled(version, [("Body", 5)])}) == "Body"
