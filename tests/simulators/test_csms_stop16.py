"""OCPP 1.6 StopTransaction at the mock CSMS: a transaction ends once, with its first stop; a repeat
(a station retrying after a lost answer) or an unknown id is answered and changes nothing, noted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from csms_boot import connect_booted

from simulators.cpo.csms import Csms
from simulators.cpo.events import TransactionEnded

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _send(csms: Csms, uid: str, action: str, payload: dict[str, Any]) -> tuple[Any, list[Any], list[str]]:
    out = csms.on_frame("CS-1", json.dumps([2, uid, action, payload]), T0)
    [(_sid, text)] = out.frames
    message = json.loads(text)
    assert message[:2] == [3, uid], message
    return message[2], out.events, out.notes


def _stop(tx: int, meter: int, id_tag: str | None = "TOKEN-A") -> dict[str, Any]:
    payload: dict[str, Any] = {"transactionId": tx, "meterStop": meter, "timestamp": "2026-03-02T07:30:00Z"}
    return payload | ({"idTag": id_tag} if id_tag else {})


@pytest.mark.parametrize(
    ("stops", "ended", "noted"),
    [
        ([_stop(1, 5000)], [5000], 0),  # the usual stop
        ([_stop(1, 5000), _stop(1, 10)], [5000], 1),  # a repeat keeps the first stop
        ([_stop(1, 5000), _stop(1, 5000, None)], [5000], 1),  # an identical repeat, no idTag
        ([_stop(999, 5000), _stop(1, 4000)], [4000], 1),  # an unknown id changes nothing
        ([_stop(1, 10)], [1000], 1),  # a register below meterStart: no energy, never negative
    ],
)
def test_stop_applies_once_and_answers_every_time(
    stops: list[dict[str, Any]], ended: list[int], noted: int
) -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    start = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
    answer, _events, _notes = _send(csms, "s", "StartTransaction", start)
    assert answer["transactionId"] == 1
    stopped: list[int] = []
    notes: list[str] = []
    for n, stop in enumerate(stops):
        answer, events, more = _send(csms, f"x{n}", "StopTransaction", stop)
        assert ("idTagInfo" in answer) == ("idTag" in stop)  # answered, repeat or not
        stopped += [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)]
        notes += more
    assert stopped == ended
    assert len(notes) == noted


def _event201(kind: str, tx: str, seq: int, wh: float) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": "2026-03-02T07:00:00Z",
        "triggerReason": "Authorized" if kind == "Started" else "StopAuthorized",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx},
        "idToken": {"idToken": "TOKEN-A", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": "2026-03-02T07:00:00Z", "sampledValue": [{"value": wh}]}],
    }


@pytest.mark.parametrize(
    ("ends", "ended", "noted"),
    [
        ([("T1", 5000)], [5000], 0),
        ([("T1", 5000), ("T1", 10)], [5000], 1),  # a repeated Ended keeps the first
        # A transaction whose Started never came is taken up (test_csms_learned_transaction.py)
        # without touching the others; a repeated Ended of it keeps its first.
        ([("NOPE", 5000), ("T1", 4000), ("NOPE", 9)], [5000, 4000], 2),
    ],
)
def test_v201_ended_applies_once(ends: list[tuple[str, int]], ended: list[int], noted: int) -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    _send(csms, "s", "TransactionEvent", _event201("Started", "T1", 0, 1000))
    stopped: list[int] = []
    notes: list[str] = []
    for n, (tx, wh) in enumerate(ends):
        answer, events, more = _send(csms, f"x{n}", "TransactionEvent", _event201("Ended", tx, n + 1, wh))
        assert "idTokenInfo" in answer  # answered, repeat or not
        stopped += [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)]
        notes += more
    assert stopped == ended
    assert len(notes) == noted


def _start_and_end(version: str, end_wh: int, end_at: str) -> tuple[TransactionEnded, list[str]]:
    """A transaction started at 07:00 on register 1000 Wh, ended with `end_wh` at `end_at`."""
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6" if version == "1.6" else "2.0.1", T0)
    if version == "1.6":
        start = {
            "connectorId": 1,
            "idTag": "TOKEN-A",
            "meterStart": 1000,
            "timestamp": "2026-03-02T07:00:00Z",
        }
        _send(csms, "s", "StartTransaction", start)
        _answer, events, notes = _send(csms, "e", "StopTransaction", _stop(1, end_wh) | {"timestamp": end_at})
    else:
        _send(csms, "s", "TransactionEvent", _event201("Started", "T1", 0, 1000))
        end = _event201("Ended", "T1", 1, end_wh) | {"timestamp": end_at}
        end["meterValue"][0]["timestamp"] = end_at
        _answer, events, notes = _send(csms, "e", "TransactionEvent", end)
    [ended] = [e for e in events if isinstance(e, TransactionEnded)]
    return ended, notes


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize(
    ("end_wh", "end_at", "recorded_wh", "recorded_at", "noted"),
    [
        (5000, "2026-03-02T07:30:00Z", 5000, T0.replace(minute=30), 0),  # the usual end
        (1000, "2026-03-02T07:00:00Z", 1000, T0, 0),  # nothing charged, at once: not odd
        (10, "2026-03-02T07:30:00Z", 1000, T0.replace(minute=30), 1),  # register ran back
        (5000, "2026-03-02T06:00:00Z", 5000, T0, 1),  # ends before it began
        (10, "2026-03-02T06:00:00Z", 1000, T0, 2),  # both
    ],
)
def test_an_end_below_the_start_register_or_before_the_start_is_noted_and_taken_as_the_start(
    version: str, end_wh: int, end_at: str, recorded_wh: int, recorded_at: datetime, noted: int
) -> None:
    # Never a negative energy or an end before the start in the record, in either version.
    ended, notes = _start_and_end(version, end_wh, end_at)
    assert (ended.meter_stop_wh, ended.at, len(notes)) == (recorded_wh, recorded_at, noted)


@pytest.mark.parametrize(
    ("connectors", "noted"),
    [([1, 2], 0), ([0], 1), ([1, 1], 1)],  # two connectors; connector 0 (1.6 §6.45: > 0); one busy
)
def test_a_start_on_connector_0_or_on_a_busy_connector_is_accepted_and_noted(
    connectors: list[int], noted: int
) -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    notes: list[str] = []
    for n, cid in enumerate(connectors):
        start = {"connectorId": cid, "idTag": "TOKEN-A", "meterStart": 0, "timestamp": "2026-03-02T07:00:00Z"}
        answer, _events, more = _send(csms, f"s{n}", "StartTransaction", start)
        assert answer["idTagInfo"]["status"] == "Accepted"
        notes += more
    assert len(notes) == noted
