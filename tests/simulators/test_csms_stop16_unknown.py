"""OCPP 1.6 StopTransaction for a transactionId the mock CSMS never gave (it restarted since, or the
StartTransaction or its answer was lost): answered and noted; with a start reading in its
transactionData the session is taken up, so it gets its CDR. And a restarted serve csms does not give
again the ids its previous run gave, so two transactions never merge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from csms_boot import connect_booted
from test_ocpi_cpo import _pump, _world

from bench.serve_csms import CsmsService, first_transaction_id
from bench.serve_csms_config import CsmsServiceConfig
from simulators.cpo.csms import Csms
from simulators.cpo.events import AuthorizationRequested, CsmsEvent, TransactionEnded, TransactionStarted

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send(csms: Csms, action: str, payload: dict[str, Any]) -> tuple[Any, list[CsmsEvent], list[str]]:
    out = csms.on_frame("CS1", json.dumps([2, "m", action, payload]), T0)
    [(_sid, text)] = out.frames
    message = json.loads(text)
    assert message[:2] == [3, "m"], message  # answered, never a CALLERROR
    return message[2], out.events, out.notes


def _value(minutes: int, wh: int, context: str) -> dict[str, Any]:
    return {"timestamp": _at(minutes), "sampledValue": [{"value": str(wh), "context": context}]}


# A transaction of 9 kWh from 07:10 to 07:40, its readings in the stop (StopTxnSampledData).
STOP = {
    "transactionId": 41,
    "idTag": "AA11",
    "meterStop": 12000,
    "timestamp": _at(40),
    "reason": "EVDisconnected",
    "transactionData": [_value(10, 3000, "Transaction.Begin"), _value(40, 12000, "Transaction.End")],
}


def _csms() -> Csms:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS1", "1.6", T0)
    return csms


def test_an_unknown_stop_with_its_start_reading_is_taken_up_once() -> None:
    csms = _csms()
    answer, events, notes = _send(csms, "StopTransaction", STOP)
    assert answer == {"idTagInfo": {"status": "Accepted"}}
    started, ended = events
    assert isinstance(started, TransactionStarted) and isinstance(ended, TransactionEnded)
    assert (started.transaction_id, started.token_uid, started.meter_start_wh) == ("41", "AA11", 3000)
    assert started.at == T0 + timedelta(minutes=10)
    assert (ended.transaction_id, ended.meter_stop_wh, ended.reason) == ("41", 12000, "EVDisconnected")
    assert ended.at == T0 + timedelta(minutes=40)
    assert len(notes) == 1 and "unknown here" in notes[0]
    # The station retries the stop (its answer lost): answered, no second session.
    answer, events, notes = _send(csms, "StopTransaction", STOP)
    assert answer == {"idTagInfo": {"status": "Accepted"}} and events == []
    assert len(notes) == 1 and "not in progress" in notes[0]


def test_an_unknown_stop_without_a_start_reading_is_answered_and_noted() -> None:
    csms = _csms()
    bare = {k: v for k, v in STOP.items() if k not in ("transactionData", "idTag")}
    answer, events, notes = _send(csms, "StopTransaction", bare)
    assert answer == {} and events == []
    assert len(notes) == 1 and "unknown here" in notes[0] and "no session" in notes[0]


def test_the_cdr_of_a_transaction_the_csms_never_started_reaches_the_emsp() -> None:
    cpo, emsp = _world()
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    _answer, events, _notes = _send(_csms(), "StopTransaction", STOP)
    for event in events:
        _pump(cpo, emsp, cpo.on_event(event, event.at), event.at)
    [cdr] = emsp.records().cdrs
    assert cdr.total_energy_kwh == Decimal(9) and cdr.start == T0 + timedelta(minutes=10)


def test_a_restarted_csms_does_not_merge_an_old_transaction_into_a_new_one() -> None:
    # Run 1 gave transaction 1..n; the service restarts a minute later and a station starts anew
    # while another's stop of run 1 is still queued.
    before = Csms("cpo-a", authorize=lambda t: True, first_transaction_id=first_transaction_id(T0))
    connect_booted(before, "CS1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "AA11", "meterStart": 1000, "timestamp": _at(0)}
    old = _send(before, "StartTransaction", start)[0]["transactionId"]
    later = T0 + timedelta(minutes=1)
    after = Csms("cpo-a", authorize=lambda t: True, first_transaction_id=first_transaction_id(later))
    connect_booted(after, "CS1", "1.6", later)
    new = _send(after, "StartTransaction", start | {"connectorId": 2})[0]["transactionId"]
    assert new > old
    stop = STOP | {"transactionId": old}
    _answer, events, _notes = _send(after, "StopTransaction", stop)
    assert [e.transaction_id for e in events if isinstance(e, TransactionEnded)] == [str(old)]
    assert after._links["CS1"].begun.keys() == {str(new)}  # the new transaction goes on


def test_serve_csms_gives_ids_above_those_of_its_previous_run() -> None:
    assert first_transaction_id(T0 + timedelta(seconds=1)) >= first_transaction_id(T0) + 10
    assert 1 <= first_transaction_id(datetime(2090, 1, 1, tzinfo=UTC)) < 2**31  # a 32-bit integer
    service = CsmsService(CsmsServiceConfig(heartbeat_interval_s=300, call_timeout_s=30))
    assert service.csms._transactions > 1_000_000  # seeded from the time, not from 1
