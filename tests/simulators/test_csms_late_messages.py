"""Messages about a transaction that is no longer (in 1.6: or never) in progress, at the mock CSMS: an ended
transaction's stop is final, so late meter samples change nothing; a repeated 2.0.1 Started keeps
the first start. Each is answered and noted. The control API's record of `serve csms` keeps the same
rule for a station that reuses an ended transaction's id."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from csms_boot import connect_booted

from bench.serve_csms import CsmsService, StationRecord
from bench.serve_csms_config import CsmsServiceConfig
from simulators.cpo.csms import Csms
from simulators.cpo.events import (
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _send(csms: Csms, uid: str, action: str, payload: dict[str, Any]) -> tuple[list[CsmsEvent], list[str]]:
    out = csms.on_frame("CS-1", json.dumps([2, uid, action, payload]), T0)
    [(_sid, text)] = out.frames
    assert json.loads(text)[:2] == [3, uid], text  # always answered
    return out.events, out.notes


def _meter16(tx: int | None, wh: int) -> dict[str, Any]:
    sample = {"timestamp": "2026-03-02T07:40:00Z", "sampledValue": [{"value": str(wh)}]}
    return {"connectorId": 1, "meterValue": [sample]} | ({"transactionId": tx} if tx is not None else {})


def test_v16_meter_values_after_stop_are_ignored_and_noted() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    _send(csms, "s", "StartTransaction", start)
    during, quiet = _send(csms, "m1", "MeterValues", _meter16(1, 1500))
    assert [e.energy_wh for e in during if isinstance(e, MeterSampled)] == [1500] and quiet == []
    stop = {"transactionId": 1, "meterStop": 2000, "timestamp": "2026-03-02T07:30:00Z"}
    _send(csms, "x", "StopTransaction", stop)
    for n, (tx, wh) in enumerate([(1, 90000), (None, 91000), (77, 5)]):  # ended, by connector, unknown
        events, notes = _send(csms, f"m{n + 2}", "MeterValues", _meter16(tx, wh))
        assert events == []
        assert len(notes) == (0 if tx is None else 1)  # by connector: no transaction there any more


def _event201(kind: str, tx: str, seq: int, wh: int, token: str | None = "TOKEN-A") -> dict[str, Any]:
    payload: dict[str, Any] = {
        "eventType": kind,
        "timestamp": "2026-03-02T07:00:00Z",
        "triggerReason": "Authorized" if kind == "Started" else "MeterValuePeriodic",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": "2026-03-02T07:05:00Z", "sampledValue": [{"value": wh}]}],
    }
    return payload | ({"idToken": {"idToken": token, "type": "ISO14443"}} if token else {})


def _run201(messages: list[dict[str, Any]]) -> tuple[list[CsmsEvent], list[str]]:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    events: list[CsmsEvent] = []
    notes: list[str] = []
    for n, payload in enumerate(messages):
        more, noted = _send(csms, f"t{n}", "TransactionEvent", payload)
        events += more
        notes += noted
    return events, notes


def test_v201_updated_after_ended_is_ignored_and_noted() -> None:
    events, notes = _run201(
        [
            _event201("Started", "T1", 0, 0),
            _event201("Updated", "T1", 1, 7000),
            _event201("Ended", "T1", 2, 9000),
            _event201("Updated", "T1", 3, 99000),
        ]
    )
    assert [e.energy_wh for e in events if isinstance(e, MeterSampled)] == [7000]
    assert [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)] == [9000]
    assert len(notes) == 1


def test_v201_repeated_started_keeps_the_first_start() -> None:
    events, notes = _run201(
        [
            _event201("Started", "T1", 0, 1000),
            _event201("Updated", "T1", 1, 3000),
            _event201("Started", "T1", 2, 0, token="TOKEN-B"),
            _event201("Ended", "T1", 3, 5000),
        ]
    )
    started = [e for e in events if isinstance(e, TransactionStarted)]
    assert [(e.token_uid, e.meter_start_wh) for e in started] == [("TOKEN-A", 1000)]
    assert [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)] == [5000]
    assert len(notes) == 1


def test_v201_repeated_started_still_identifies_a_start_at_plug_in() -> None:
    events, notes = _run201([_event201("Started", "T1", 0, 0, token=None), _event201("Started", "T1", 1, 0)])
    assert [e.token_uid for e in events if isinstance(e, TransactionStarted)] == ["TOKEN-A"]
    assert len(notes) == 1


def test_serve_csms_record_of_an_ended_transaction_stays() -> None:
    service = CsmsService(CsmsServiceConfig(heartbeat_interval_s=300, call_timeout_s=30))
    record = service.records["CS-1"] = StationRecord("CS-1", "2.0.1")
    later = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for event in [
        TransactionStarted("CS-1", 1, "T1", "TOKEN-A", 1000, T0),
        TransactionEnded("CS-1", "T1", T0, 2000, "Local", ()),
        MeterSampled("CS-1", "T1", later, 90000, None),
        TransactionStarted("CS-1", 1, "T1", "TOKEN-B", 0, later),  # a station reusing the id
    ]:
        service._note(event)
    tx = record.transactions["T1"]
    assert (tx["token_uid"], tx["energy_wh"], tx["meter_last_wh"]) == ("TOKEN-A", 1000, 2000)
    assert tx["ended_at"] is not None


def test_v201_a_free_vend_start_is_reported_when_it_starts() -> None:
    # idToken type NoAuthorization carries an empty idToken: identified, nothing more will come.
    free = _event201("Started", "T1", 0, 0) | {"idToken": {"idToken": "", "type": "NoAuthorization"}}
    events, _notes = _run201([free])
    assert [e.token_uid for e in events if isinstance(e, TransactionStarted)] == [""]


def test_v201_a_start_on_evse_0_is_reported_and_noted() -> None:
    on_station = _event201("Started", "T1", 0, 0) | {"evse": {"id": 0}}  # EVSEType.id: > 0
    events, notes = _run201([on_station])
    assert [e.transaction_id for e in events if isinstance(e, TransactionStarted)] == ["T1"]
    assert len(notes) == 1
