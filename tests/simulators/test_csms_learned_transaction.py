"""OCPP 2.0.1 transactions whose Started the mock CSMS never saw (lost, or sent before the CSMS ran):
taken up from their next TransactionEvent, so the session, its energy and its CDR are not lost. And
a meter sample timestamped before its transaction's start is no energy of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from csms_boot import connect_booted
from test_ocpi_cpo import _pump, _world

from bench.serve_csms import CsmsService, StationRecord
from bench.serve_csms_config import CsmsServiceConfig
from simulators.cpo.csms import Csms
from simulators.cpo.events import (
    AuthorizationRequested,
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(minutes: int, wh: int, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {"timestamp": _at(minutes), "sampledValue": [{"value": wh, "context": context}]}


def _event(kind: str, seq: int, minutes: int, values: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    info = {"transactionId": "TX-9"} | ({"stoppedReason": "EVDisconnected"} if kind == "Ended" else {})
    trigger = {"Started": "Authorized", "Ended": "EVCommunicationLost"}.get(kind, "MeterValuePeriodic")
    payload = {
        "eventType": kind,
        "timestamp": _at(minutes),
        "triggerReason": trigger,
        "seqNo": seq,
        "transactionInfo": info,
        **more,
    }
    return payload | ({"meterValue": values} if values else {})


def _run(station: str, messages: list[dict[str, Any]]) -> tuple[list[CsmsEvent], list[str]]:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, station, "2.0.1", T0)
    events: list[CsmsEvent] = []
    notes: list[str] = []
    for n, payload in enumerate(messages):
        out = csms.on_frame(station, json.dumps([2, f"t{n}", "TransactionEvent", payload]), T0)
        assert json.loads(out.frames[0][1])[:2] == [3, f"t{n}"]  # answered
        events += out.events
        notes += out.notes
    return events, notes


TOKEN = {"idToken": {"idToken": "AA11", "type": "ISO14443"}}
# The Started (seqNo 0, with the idToken and the EVSE) was lost: the CSMS hears of TX-9 first here.
LOST_START = [
    _event("Updated", 1, 10, [_value(10, 3000)], **TOKEN),
    _event("Updated", 2, 20, [_value(20, 6000)]),
    _event("Ended", 3, 30, [_value(30, 9000, "Transaction.End")]),
]


def test_v201_a_transaction_is_taken_up_from_an_updated_whose_started_was_lost() -> None:
    events, notes = _run("CS1", LOST_START)
    [started] = [e for e in events if isinstance(e, TransactionStarted)]
    assert (started.transaction_id, started.token_uid, started.meter_start_wh) == ("TX-9", "AA11", 3000)
    assert started.at == T0 + timedelta(minutes=10)
    assert [e.energy_wh for e in events if isinstance(e, MeterSampled)] == [3000, 6000]
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    assert (ended.meter_stop_wh, ended.reason) == (9000, "EVDisconnected")
    assert len(notes) == 1 and "never came" in notes[0]


def test_v201_an_ended_with_the_transaction_samples_gives_its_whole_energy() -> None:
    # All the transaction's samples in its Ended (SampledDataTxEndedMeasurands): its Begin reading is
    # the start; no idToken ever came, so it is reported without one, as an E03 start never identified.
    values = [_value(0, 1000, "Transaction.Begin"), _value(15, 4000), _value(30, 9000, "Transaction.End")]
    events, _notes = _run("CS1", [_event("Ended", 5, 30, values)])
    [started] = [e for e in events if isinstance(e, TransactionStarted)]
    assert (started.meter_start_wh, started.at, started.token_uid) == (1000, T0, "")
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    assert ended.meter_stop_wh - started.meter_start_wh == 8000


def test_v201_an_updated_without_a_register_waits_for_one() -> None:
    events, notes = _run("CS1", [_event("Updated", 1, 5, [], **TOKEN), *LOST_START])
    assert [e.meter_start_wh for e in events if isinstance(e, TransactionStarted)] == [3000]
    assert len(notes) == 2


def test_v201_the_cdr_of_a_transaction_whose_started_was_lost_reaches_the_emsp() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    events, _notes = _run("CS1", LOST_START)  # no EVSE named: the station's first one
    for event in events:
        _pump(cpo, emsp, cpo.on_event(event, event.at), event.at)
    [cdr] = emsp.records().cdrs
    assert cdr.total_energy_kwh == Decimal(6)


def test_serve_csms_records_a_transaction_whose_started_was_lost() -> None:
    service = CsmsService(CsmsServiceConfig(heartbeat_interval_s=300, call_timeout_s=30))
    record = service.records["CS1"] = StationRecord("CS1", "2.0.1")
    events, _notes = _run("CS1", LOST_START)
    for event in events:
        service._note(event)
    tx = record.transactions["TX-9"]
    assert (tx["energy_wh"], tx["reason"]) == (6000, "EVDisconnected")


def test_v201_a_sample_before_the_start_is_not_counted() -> None:
    started = _event("Started", 0, 10, [_value(10, 5000, "Transaction.Begin")], evse={"id": 1}, **TOKEN)
    before = _event("Updated", 1, 12, [_value(5, 4000)])  # sampled five minutes before the start
    ended = _event("Ended", 2, 40, [_value(40, 8000, "Transaction.End")])
    events, notes = _run("CS1", [started, before, ended])
    assert [e for e in events if isinstance(e, MeterSampled)] == []
    assert len(notes) == 1 and "before its start" in notes[0]
    service = CsmsService(CsmsServiceConfig(heartbeat_interval_s=300, call_timeout_s=30))
    record = service.records["CS1"] = StationRecord("CS1", "2.0.1")
    for event in events:
        service._note(event)
        assert record.transactions["TX-9"]["energy_wh"] >= 0  # never a reading from before the start


def test_the_cdr_does_not_start_before_the_session() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    started = _event("Started", 0, 10, [_value(10, 5000, "Transaction.Begin")], evse={"id": 1}, **TOKEN)
    before = _event("Updated", 1, 12, [_value(5, 4000)])
    ended = _event("Ended", 2, 40, [_value(40, 8000, "Transaction.End")])
    events, _notes = _run("CS1", [started, before, ended])
    for event in events:
        _pump(cpo, emsp, cpo.on_event(event, event.at), event.at)
    [cdr] = emsp.records().cdrs
    assert cdr.start == T0 + timedelta(minutes=10) and cdr.total_energy_kwh == Decimal(3)
