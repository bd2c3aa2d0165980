"""The mock CSMS remembers a station's ended 2.0.1 transactions only as long as a repeat of their
messages can come (ENDED_KEPT): a long run must not keep an id per transaction for good, and a
repeated Ended must still never be taken for a transaction whose Started was lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from csms_boot import connect_booted

from simulators.cpo.csms import Csms
from simulators.cpo.events import TransactionEnded, TransactionStarted

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _event(kind: str, tx: str, seq: int, minutes: int, wh: int) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "eventType": kind,
        "timestamp": at,
        "triggerReason": "Authorized" if kind == "Started" else "EVCommunicationLost",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx},
        "idToken": {"idToken": "AA11", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": at, "sampledValue": [{"value": wh}]}],
    }


def _send(csms: Csms, payload: dict[str, Any]) -> tuple[list[Any], list[str]]:
    out = csms.on_frame("CS1", json.dumps([2, "m", "TransactionEvent", payload]), T0)
    assert json.loads(out.frames[0][1])[:2] == [3, "m"]  # answered
    return out.events, out.notes


def _session(csms: Csms, n: int) -> dict[str, Any]:
    """Transaction TX-n, started and ended; returns its Ended (for a repeat)."""
    _send(csms, _event("Started", f"TX-{n}", 0, n * 60, n * 1000))
    ended = _event("Ended", f"TX-{n}", 1, n * 60 + 30, n * 1000 + 500)
    [end] = [e for e in _send(csms, ended)[0] if isinstance(e, TransactionEnded)]
    assert end.transaction_id == f"TX-{n}"
    return ended


def test_a_station_record_does_not_grow_with_every_transaction_it_had() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS1", "2.0.1", T0)
    for n in range(200):
        _session(csms, n)
    link = csms._links["CS1"]
    assert len(link.ended) <= 16  # a few ids per station, whatever the number of its transactions
    assert not (link.begun or link.last_energy or link.sampled_at or link.evse_of or link.charging)


def test_a_repeated_ended_is_still_a_repeat_after_later_transactions() -> None:
    # A station resends an Ended whose answer it lost before its later transaction messages; a few
    # later ones in between (another EVSE's, a station out of order) still leave it a repeat.
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS1", "2.0.1", T0)
    first = _session(csms, 0)
    for n in range(1, 5):
        _session(csms, n)
    events, notes = _send(csms, first)
    assert not [e for e in events if isinstance(e, TransactionStarted | TransactionEnded)]
    assert len(notes) == 1 and "not in progress" in notes[0]
