"""A station back on the other OCPP version (1.6J <-> 2.0.1, e.g. after a firmware update): its
transactions still open in the old version can no longer be stopped (their ids and queued stops belong
to the old version), so the CSMS ends each one at its last evidence and it gets its CDR; a transaction
of the new version that happens to reuse an old id is a transaction of its own. `serve csms` keeps
what the station did across the change."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from csms_boot import BOOT, connect_booted
from run_logs import logs_of
from test_serve_csms import served

from bench.serve_csms_config import CsmsServiceConfig
from simulators.cpo.csms import Csms
from simulators.cpo.events import CsmsEvent, TransactionEnded, TransactionStarted

pytestmark = pytest.mark.xdist_group("sockets")

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=20)


def _send(csms: Csms, uid: str, action: str, payload: dict[str, Any]) -> list[CsmsEvent]:
    out = csms.on_frame("CS-1", json.dumps([2, uid, action, payload]), T0)
    assert json.loads(out.frames[0][1])[:2] == [3, uid]
    return out.events


START16 = {"connectorId": 1, "idTag": "TOKEN-A", "meterStart": 1000, "timestamp": "2026-03-02T07:00:00Z"}
METER16 = {
    "connectorId": 1,
    "transactionId": 1,
    "meterValue": [{"timestamp": "2026-03-02T07:10:00Z", "sampledValue": [{"value": "4000"}]}],
}


def _event201(kind: str, tx: str, seq: int, wh: int) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": "2026-03-02T07:30:00Z",
        "triggerReason": "Authorized" if kind == "Started" else "EVCommunicationLost",
        "seqNo": seq,
        "transactionInfo": {"transactionId": tx},
        "idToken": {"idToken": "TOKEN-B", "type": "ISO14443"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": "2026-03-02T07:30:00Z", "sampledValue": [{"value": wh}]}],
    }


def test_a_station_back_on_201_ends_its_open_16_transaction() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "1.6", T0)
    _send(csms, "s", "StartTransaction", START16)
    _send(csms, "m", "MeterValues", METER16)
    switched = csms.on_connected("CS-1", "2.0.1", T1)
    [ended] = [e for e in switched.events if isinstance(e, TransactionEnded)]
    # At its last evidence (the 07:10 sample), with its last register.
    assert (ended.transaction_id, ended.meter_stop_wh, ended.reason) == ("1", 4000, "Other")
    assert ended.at == T0 + timedelta(minutes=10)
    assert any("2.0.1" in note for note in switched.notes)
    # The 2.0.1 firmware numbers its own transactions: "1" again is a new one, not a repeat.
    _send(csms, "b", "BootNotification", BOOT["2.0.1"])
    events = _send(csms, "t", "TransactionEvent", _event201("Started", "1", 0, 7000))
    events += _send(csms, "u", "TransactionEvent", _event201("Ended", "1", 1, 9000))
    assert [e.token_uid for e in events if isinstance(e, TransactionStarted)] == ["TOKEN-B"]
    assert [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)] == [9000]


def test_a_station_back_on_16_ends_its_open_201_transaction() -> None:
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    _send(csms, "t", "TransactionEvent", _event201("Started", "TX-A", 0, 2000))
    switched = csms.on_connected("CS-1", "1.6", T1)
    [ended] = [e for e in switched.events if isinstance(e, TransactionEnded)]
    assert (ended.transaction_id, ended.meter_stop_wh) == ("TX-A", 2000)


def test_serve_csms_keeps_a_station_record_across_a_version_change() -> None:
    async def main() -> None:
        async with served(CsmsServiceConfig()) as (address, service):
            url = f"ws://{address}/ocpp/CP-FW"
            frames16 = [("BootNotification", BOOT["1.6"]), ("StartTransaction", START16)]
            async with websockets.connect(url, subprotocols=["ocpp1.6"]) as ws:
                for n, (action, payload) in enumerate(frames16):
                    await ws.send(json.dumps([2, f"m{n}", action, payload]))
                    assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:2] == [3, f"m{n}"]
            async with websockets.connect(url, subprotocols=["ocpp2.0.1"]) as ws:
                await ws.send(json.dumps([2, "b", "BootNotification", BOOT["2.0.1"]]))
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:2] == [3, "b"]
                client = httpx.AsyncClient(base_url=f"http://{address}", timeout=10)
                view = (await client.get("/api/v1/stations/CP-FW")).json()
                await client.aclose()
            assert view["version"] == "2.0.1" and view["boots"] == 2
            [tx] = view["transactions"]
            given = str(service.csms._transactions)  # serve csms numbers them from the time it started
            assert (tx["transaction_id"], tx["reason"]) == (given, "Other") and tx["ended_at"] is not None
            assert service.records["CP-FW"].version == "2.0.1"

    asyncio.run(main())


def test_a_round_trip_back_to_201_keeps_one_transaction() -> None:
    # A firmware update to 1.6 rolled back to 2.0.1: the station then sends its queued Ended of the
    # transaction the version change ended. It is a repeat, not a transaction to take up again.
    csms = Csms("cpo-a", authorize=lambda token: True)
    connect_booted(csms, "CS-1", "2.0.1", T0)
    events = _send(csms, "a", "TransactionEvent", _event201("Started", "TX-9", 0, 1000))
    events += _send(csms, "b", "TransactionEvent", _event201("Updated", "TX-9", 1, 3000))
    events += csms.on_connected("CS-1", "1.6", T1).events
    events += csms.on_connected("CS-1", "2.0.1", T1).events
    out = csms.on_frame(
        "CS-1", json.dumps([2, "c", "TransactionEvent", _event201("Ended", "TX-9", 2, 5000)]), T1
    )
    events += out.events
    assert [e.transaction_id for e in events if isinstance(e, TransactionStarted)] == ["TX-9"]
    assert [(e.meter_stop_wh, e.reason) for e in events if isinstance(e, TransactionEnded)] == [
        (3000, "Other")
    ]
    assert out.notes == ["TransactionEvent Ended for transaction TX-9, not in progress: ignored"]


def test_a_round_trip_back_to_16_keeps_a_taken_up_transaction_ended() -> None:
    # 1.6 -> 2.0.1 -> 1.6: a stop for an id this CSMS never gave is taken up once; the same stop
    # resent after the round trip is a repeat.
    csms = Csms("cpo-a", authorize=lambda token: True, first_transaction_id=100)
    connect_booted(csms, "CS-1", "1.6", T0)
    begin = [
        {
            "timestamp": "2026-03-02T06:00:00Z",
            "sampledValue": [{"value": "500", "context": "Transaction.Begin"}],
        }
    ]
    stop = {
        "transactionId": 7,
        "meterStop": 900,
        "timestamp": "2026-03-02T06:30:00Z",
        "transactionData": begin,
    }
    events = _send(csms, "s", "StopTransaction", stop)
    csms.on_connected("CS-1", "2.0.1", T1)
    csms.on_connected("CS-1", "1.6", T1)
    events += _send(csms, "r", "StopTransaction", stop)
    assert [e.transaction_id for e in events if isinstance(e, TransactionStarted)] == ["7"]
    assert [e.meter_stop_wh for e in events if isinstance(e, TransactionEnded)] == [900]


def test_serve_csms_round_trip_logs_its_notes_truthfully() -> None:
    async def main() -> None:
        async with served(CsmsServiceConfig()) as (address, service):
            url = f"ws://{address}/ocpp/CP-RT"

            async def session(subprotocol: str, frames: list[tuple[str, dict[str, Any]]]) -> None:
                async with websockets.connect(url, subprotocols=[subprotocol]) as ws:
                    for n, (action, payload) in enumerate(frames):
                        await ws.send(json.dumps([2, f"m{n}", action, payload]))
                        assert json.loads(await asyncio.wait_for(ws.recv(), 10))[:2] == [3, f"m{n}"]

            boot = ("BootNotification", BOOT["2.0.1"])
            await session("ocpp2.0.1", [boot, ("TransactionEvent", _event201("Started", "TX-9", 0, 1000))])
            await session("ocpp1.6", [("BootNotification", BOOT["1.6"])])
            await session("ocpp2.0.1", [boot, ("TransactionEvent", _event201("Ended", "TX-9", 1, 5000))])
            [tx] = service.records["CP-RT"].transactions.values()
            assert (tx["transaction_id"], tx["reason"]) == ("TX-9", "Other")

    logs = logs_of(main)
    notes = [e["note"] for e in logs if e["event"] == "csms note"]
    assert any("transaction TX-9 (OCPP 2.0.1) ended at" in note for note in notes), notes
    assert "TransactionEvent Ended for transaction TX-9, not in progress: ignored" in notes
    assert not [
        e
        for e in logs
        if e["event"] in ("station message changed nothing", "transaction started again: ignored")
    ]
