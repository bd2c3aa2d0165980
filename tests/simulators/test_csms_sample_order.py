"""A meter sample older than one already received (an offline replay out of order, a resend)
changes nothing: the mock CSMS's register and the CPO's session kWh never go back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from csms_boot import connect_booted
from test_csms_late_messages import _send
from test_ocpi_cpo import _pump, _world

from simulators.cpo.csms import Csms
from simulators.cpo.events import (
    AuthorizationRequested,
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _value16(at: str, wh: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [{"timestamp": at, "sampledValue": [{"value": str(wh)}]}],
    }


def test_v16_an_older_meter_value_is_ignored_and_noted() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    _send(csms, "s", "StartTransaction", start)
    newer, quiet = _send(csms, "m1", "MeterValues", _value16("2026-03-02T07:20:00Z", 9000))
    older, noted = _send(csms, "m2", "MeterValues", _value16("2026-03-02T07:10:00Z", 5000))
    assert [e.energy_wh for e in newer if isinstance(e, MeterSampled)] == [9000] and quiet == []
    assert older == [] and len(noted) == 1
    same, _ = _send(csms, "m3", "MeterValues", _value16("2026-03-02T07:20:00Z", 9000))
    assert [e.energy_wh for e in same if isinstance(e, MeterSampled)] == [9000]  # the same instant: kept


TRIGGER = {"Started": "Authorized", "Ended": "EVCommunicationLost"}


def _event201(kind: str, seq: int, at: str | None, wh: int | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": "2026-03-02T07:30:00Z" if kind == "Ended" else "2026-03-02T07:00:00Z",
        "triggerReason": {"Started": "Authorized", "Ended": "EVCommunicationLost"}.get(
            kind, "MeterValuePeriodic"
        ),
        "seqNo": seq,
        "transactionInfo": {"transactionId": "TX-1"},
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "TOKEN-A", "type": "ISO14443"},
    }
    if at is not None:
        payload["meterValue"] = [{"timestamp": at, "sampledValue": [{"value": wh}]}]
    return payload


def test_v201_a_late_older_update_does_not_move_the_register_back() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    sent = [
        _event201("Started", 0, "2026-03-02T07:00:00Z", 1000),
        _event201("Updated", 2, "2026-03-02T07:20:00Z", 9000),
        _event201("Updated", 1, "2026-03-02T07:10:00Z", 5000),  # seqNo 1 arrives after seqNo 2
        _event201("Ended", 3, None, None),  # no meter value: the stop is the last register
    ]
    events: list[CsmsEvent] = []
    for n, payload in enumerate(sent):
        events += _send(csms, f"t{n}", "TransactionEvent", payload)[0]
    assert [e.energy_wh for e in events if isinstance(e, MeterSampled)] == [9000]
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    assert ended.meter_stop_wh == 9000


def test_the_cpo_session_kwh_never_goes_back() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    for minutes, wh in ((20, 9000), (10, 5000)):  # the older sample last
        at = T0 + timedelta(minutes=20)  # received now, whatever its timestamp
        event = MeterSampled("CS1", "7", T0 + timedelta(minutes=minutes), wh, Decimal(11000))
        _pump(cpo, emsp, cpo.on_event(event, at), at)
    [session] = emsp.records().sessions
    assert session.kwh == Decimal(8)
