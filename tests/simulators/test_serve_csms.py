"""Acceptance: `serve csms` (in-process, port 0) against chargers we did not write — the `ocpp` package's
ChargePoint classes, which validate every message they send and receive — for both versions: boot,
authorize, a transaction with meter values, and every CSMS-initiated call of the 1.6 Core profile
(+ Remote Trigger, Smart Charging) and of 2.0.1 blocks B, F and K sent through the control API."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets
from ocpp.exceptions import SecurityError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from bench.serve_csms import CsmsService, run_csms_service
from bench.serve_csms_config import CsmsServiceConfig

pytestmark = pytest.mark.xdist_group("sockets")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@asynccontextmanager
async def served(
    config: CsmsServiceConfig, *, exercise: bool = False
) -> AsyncIterator[tuple[str, CsmsService]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    service = CsmsService(config, exercise=exercise)
    ready = asyncio.Event()
    task = asyncio.ensure_future(run_csms_service(service, sock, on_ready=ready.set))
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sock.close()


@asynccontextmanager
async def charger(kind: type[Any], address: str, station_id: str, subprotocol: str) -> AsyncIterator[Any]:
    ws = await websockets.connect(f"ws://{address}/ocpp/{station_id}", subprotocols=[subprotocol])
    cp = kind(station_id, ws)
    cp.release, cp.answered_late = asyncio.Event(), asyncio.Event()
    task = asyncio.ensure_future(cp.start())
    try:
        yield cp
    finally:
        await ws.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Charger16(ChargePoint16):
    """A 1.6 charger that answers every Core, Remote Trigger and Smart Charging call."""

    @on("ChangeAvailability")
    def on_change_availability(self, **kw: Any) -> Any:
        return result16.ChangeAvailability(status="Accepted")

    @on("ChangeConfiguration")
    def on_change_configuration(self, **kw: Any) -> Any:
        return result16.ChangeConfiguration(status="Accepted")

    @on("ClearCache")
    def on_clear_cache(self, **kw: Any) -> Any:
        return result16.ClearCache(status="Accepted")

    release: asyncio.Event
    answered_late: asyncio.Event

    @on("DataTransfer")
    async def on_data_transfer(self, **kw: Any) -> Any:
        if kw.get("message_id") == "slow":
            await self.release.wait()  # held until the CSMS has given up (its call timeout)
            self.answered_late.set()
        return result16.DataTransfer(status="Accepted", data="pong")

    @on("GetConfiguration")
    def on_get_configuration(self, **kw: Any) -> Any:
        return result16.GetConfiguration(
            configuration_key=[{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        )

    @on("RemoteStartTransaction")
    def on_remote_start(self, **kw: Any) -> Any:
        return result16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, **kw: Any) -> Any:
        return result16.RemoteStopTransaction(status="Accepted")

    @on("Reset")
    def on_reset(self, **kw: Any) -> Any:
        return result16.Reset(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, **kw: Any) -> Any:
        return result16.UnlockConnector(status="Unlocked")

    @on("TriggerMessage")
    def on_trigger(self, **kw: Any) -> Any:
        return result16.TriggerMessage(status="Accepted")

    @on("SetChargingProfile")
    def on_set_profile(self, **kw: Any) -> Any:
        return result16.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(self, **kw: Any) -> Any:
        return result16.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    def on_composite(self, **kw: Any) -> Any:
        return result16.GetCompositeSchedule(status="Rejected")


_SCHEDULE16 = {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 3700.5}]}
CALLS16: list[tuple[str, dict[str, Any], str]] = [
    ("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, "status"),
    ("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}, "status"),
    ("ClearCache", {}, "status"),
    ("DataTransfer", {"vendorId": "com.example", "messageId": "ping"}, "status"),
    ("GetConfiguration", {"key": ["HeartbeatInterval"]}, "configurationKey"),
    ("RemoteStartTransaction", {"idTag": "TOKEN-1", "connectorId": 2}, "status"),
    ("RemoteStopTransaction", {"transactionId": 1}, "status"),
    ("Reset", {"type": "Soft"}, "status"),
    ("UnlockConnector", {"connectorId": 2}, "status"),
    ("TriggerMessage", {"requestedMessage": "Heartbeat"}, "status"),
    (
        "SetChargingProfile",
        {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": _SCHEDULE16,
            },
        },
        "status",
    ),
    ("ClearChargingProfile", {"id": 1}, "status"),
    ("GetCompositeSchedule", {"connectorId": 1, "duration": 600}, "status"),
]


async def _all_calls(
    client: httpx.AsyncClient, station: str, calls: list[tuple[str, dict[str, Any], str]]
) -> None:
    for action, payload, key in calls:
        response = await client.post(f"/api/v1/stations/{station}/calls/{action}", json=payload)
        assert response.status_code == 200, (action, response.text)
        body = response.json()
        assert body["action"] == action and key in body["result"], body


async def _transaction16(cp: Any) -> None:
    boot = await cp.call(call16.BootNotification(charge_point_model="m", charge_point_vendor="v"))
    assert boot.status == "Accepted"
    auth = await cp.call(call16.Authorize(id_tag="TOKEN-1"))
    assert auth.id_tag_info["status"] == "Accepted"
    await cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Charging"))
    start = await cp.call(
        call16.StartTransaction(connector_id=1, id_tag="TOKEN-1", meter_start=1000, timestamp=now())
    )
    assert start.id_tag_info["status"] == "Accepted"
    sample = {"timestamp": now(), "sampledValue": [{"value": "2.5", "unit": "kWh"}]}
    await cp.call(
        call16.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[sample])
    )
    return start.transaction_id


async def _stop16(cp: Any, transaction_id: int) -> None:
    await cp.call(call16.StopTransaction(meter_stop=4500, timestamp=now(), transaction_id=transaction_id))


@pytest.mark.slow
def test_ocpp16_charger_against_serve_csms() -> None:
    async def main() -> None:
        config = CsmsServiceConfig(call_timeout_s=2)
        async with (
            served(config) as (address, _service),
            charger(Charger16, address, "CP-16", "ocpp1.6") as cp,
        ):
            client = httpx.AsyncClient(base_url=f"http://{address}", timeout=10)
            tx = await _transaction16(cp)
            await _all_calls(client, "CP-16", CALLS16)
            await _stop16(cp, tx)
            # A call the charger answers too late: 504, and the line is free again afterwards.
            slow = await client.post(
                "/api/v1/stations/CP-16/calls/DataTransfer", json={"vendorId": "x", "messageId": "slow"}
            )
            assert slow.status_code == 504, slow.text
            cp.release.set()  # now the charger answers, too late: the CSMS drops it
            await cp.answered_late.wait()
            again = await client.post("/api/v1/stations/CP-16/calls/ClearCache", json={})
            assert again.json()["result"] == {"status": "Accepted"}
            # Bad requests: unknown station, invalid payload, unknown action.
            assert (
                await client.post("/api/v1/stations/NOPE/calls/Reset", json={"type": "Soft"})
            ).status_code == 404
            bad = await client.post("/api/v1/stations/CP-16/calls/Reset", json={"type": "Sideways"})
            assert bad.status_code == 422 and "Reset" in bad.json()["detail"]
            assert (await client.post("/api/v1/stations/CP-16/calls/Teleport", json={})).status_code == 422
            huge = await client.post("/api/v1/stations/CP-16/calls/DataTransfer", content=b" " * (2 << 20))
            assert huge.status_code == 413
            deep = b"[" * 200_000 + b"]" * 200_000  # under the size limit, past the parser's stack
            nested = await client.post("/api/v1/stations/CP-16/calls/DataTransfer", content=deep)
            assert nested.status_code == 422, nested.text
            view = (await client.get("/api/v1/stations/CP-16")).json()
            await client.aclose()
        assert view["version"] == "1.6" and view["boots"] == 1
        [transaction] = view["transactions"]
        # Start 1000 Wh, a sample of 2.5 kWh, stop 4500 Wh: the CSMS saw 3.5 kWh.
        assert (transaction["token_uid"], transaction["energy_wh"], transaction["reason"]) == (
            "TOKEN-1",
            3500,
            "Local",
        )
        answered = [c["action"] for c in view["calls"] if "result" in c]
        assert answered[: len(CALLS16)] == [a for a, _p, _k in CALLS16]
        assert [c["error"]["code"] for c in view["calls"] if "error" in c] == ["Timeout"]
        assert view["calls"][-1]["result"] == {"status": "Accepted"}  # the late answer was dropped

    asyncio.run(main())


class Charger201(ChargePoint201):
    """A 2.0.1 charger answering every call of blocks B, F and K."""

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        return result201.GetVariables(
            get_variable_result=[
                {"attribute_status": "Accepted", "attribute_value": "300", "component": d["component"],
                 "variable": d["variable"]}
                for d in get_variable_data
            ]
        )  # fmt: skip

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kw: Any) -> Any:
        return result201.SetVariables(
            set_variable_result=[
                {"attribute_status": "Accepted", "component": d["component"], "variable": d["variable"]}
                for d in set_variable_data
            ]
        )

    @on("GetBaseReport")
    def on_get_base_report(self, **kw: Any) -> Any:
        return result201.GetBaseReport(status="Accepted")

    @on("Reset")
    def on_reset(self, **kw: Any) -> Any:
        return result201.Reset(status="Accepted")

    @on("RequestStartTransaction")
    def on_request_start(self, **kw: Any) -> Any:
        return result201.RequestStartTransaction(status="Accepted", transaction_id="TX-R")

    @on("RequestStopTransaction")
    def on_request_stop(self, **kw: Any) -> Any:
        return result201.RequestStopTransaction(status="Accepted")

    @on("TriggerMessage")
    def on_trigger(self, **kw: Any) -> Any:
        return result201.TriggerMessage(status="Accepted")

    @on("UnlockConnector")
    def on_unlock(self, **kw: Any) -> Any:
        return result201.UnlockConnector(status="Unlocked")

    @on("SetChargingProfile")
    def on_set_profile(self, **kw: Any) -> Any:
        return result201.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_profile(self, **kw: Any) -> Any:
        return result201.ClearChargingProfile(status="Accepted")

    @on("GetCompositeSchedule")
    def on_composite(self, **kw: Any) -> Any:
        return result201.GetCompositeSchedule(status="Rejected")

    @on("GetChargingProfiles")
    def on_get_profiles(self, **kw: Any) -> Any:
        return result201.GetChargingProfiles(status="NoProfiles")


_TOKEN = {"idToken": "TOKEN-1", "type": "ISO14443"}
_EVSE = {"id": 1, "connectorId": 1}
_PERIODS = [{"startPeriod": 0, "limit": 16}]
_VAR = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
CALLS201: list[tuple[str, dict[str, Any], str]] = [
    ("GetVariables", {"getVariableData": [_VAR]}, "getVariableResult"),
    ("SetVariables", {"setVariableData": [{**_VAR, "attributeValue": "60"}]}, "setVariableResult"),
    ("GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"}, "status"),
    ("RequestStartTransaction", {"idToken": _TOKEN, "remoteStartId": 7}, "status"),
    ("RequestStopTransaction", {"transactionId": "TX-R"}, "status"),
    ("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": _EVSE}, "status"),
    ("UnlockConnector", {"evseId": 1, "connectorId": 1}, "status"),
    (
        "SetChargingProfile",
        {
            "evseId": 1,
            "chargingProfile": {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": [
                    {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": _PERIODS}
                ],
            },
        },
        "status",
    ),
    ("GetChargingProfiles", {"requestId": 2, "chargingProfile": {"stackLevel": 0}}, "status"),
    ("GetCompositeSchedule", {"evseId": 1, "duration": 600}, "status"),
    ("ClearChargingProfile", {"chargingProfileId": 1}, "status"),
    ("Reset", {"type": "OnIdle"}, "status"),
]  # fmt: skip


def _event(kind: str, trigger: str, seq: int, wh: float, **extra: Any) -> Any:
    value = [{"timestamp": now(), "sampled_value": [{"value": wh}]}]
    return call201.TransactionEvent(
        event_type=kind, timestamp=now(), trigger_reason=trigger, seq_no=seq,
        transaction_info={"transaction_id": "TX-1", **extra.pop("info", {})}, meter_value=value, **extra,
    )  # fmt: skip


@pytest.mark.slow
def test_ocpp201_charger_against_serve_csms() -> None:
    async def main() -> None:
        config = CsmsServiceConfig.model_validate(
            {"authorization": {"mode": "local_list", "tokens": ["TOKEN-1"]}}
        )
        async with (
            served(config) as (address, _service),
            charger(Charger201, address, "CS-201", "ocpp2.0.1") as cp,
        ):
            client = httpx.AsyncClient(base_url=f"http://{address}", timeout=10)
            boot = await cp.call(
                call201.BootNotification(
                    charging_station={"model": "m", "vendor_name": "v"}, reason="PowerUp"
                )
            )
            assert boot.status == "Accepted"
            refused = await cp.call(call201.Authorize(id_token={"id_token": "STRANGER", "type": "ISO14443"}))
            assert refused.id_token_info["status"] == "Invalid"  # not on the local list
            # E03: the transaction starts at plug-in, before any token; the token comes with an update.
            await cp.call(_event("Started", "CablePluggedIn", 0, 1000, evse={"id": 1, "connector_id": 1}))
            auth = await cp.call(call201.Authorize(id_token={"id_token": "TOKEN-1", "type": "ISO14443"}))
            assert auth.id_token_info["status"] == "Accepted"
            token = {"id_token": "TOKEN-1", "type": "ISO14443"}
            answer = await cp.call(_event("Updated", "Authorized", 1, 1000, id_token=token))
            assert answer.id_token_info["status"] == "Accepted"
            await cp.call(
                _event("Updated", "MeterValuePeriodic", 2, 2500, info={"charging_state": "Charging"})
            )
            await _all_calls(client, "CS-201", CALLS201)
            await cp.call(
                _event("Ended", "EVCommunicationLost", 3, 4000, info={"stopped_reason": "EVDisconnected"})
            )
            view = (await client.get("/api/v1/stations/CS-201")).json()
            listing = (await client.get("/api/v1/stations")).json()
            await client.aclose()
        assert [s["id"] for s in listing] == ["CS-201"]
        [transaction] = view["transactions"]
        assert (transaction["token_uid"], transaction["energy_wh"], transaction["reason"]) == (
            "TOKEN-1",
            3000,
            "EVDisconnected",
        )
        assert [c["action"] for c in view["calls"]] == [a for a, _p, _k in CALLS201]

    asyncio.run(main())


def test_unknown_station_policy_and_subprotocols() -> None:
    async def main() -> None:
        config = CsmsServiceConfig.model_validate({"stations": {"unknown": "reject", "listed": ["CP-OK"]}})
        async with served(config) as (address, _service):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(f"ws://{address}/ocpp/CP-STRANGER", subprotocols=["ocpp1.6"])
            assert refused.value.response.status_code == 403
            async with websockets.connect(f"ws://{address}/ocpp/CP-OK", subprotocols=["ocpp9"]) as ws:
                assert ws.subprotocol is None
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1002
        listed = CsmsServiceConfig.model_validate(
            {"stations": {"unknown": "accept_listed", "listed": ["CP-OK"]}}
        )
        async with served(listed) as (address, service):
            for station, status in (("CP-OK", "Accepted"), ("CP-OTHER", "Rejected")):
                async with charger(Charger16, address, station, "ocpp1.6") as cp:
                    boot = await cp.call(
                        call16.BootNotification(charge_point_model="m", charge_point_vendor="v")
                    )
                    assert boot.status == status
                    start = call16.StartTransaction(
                        connector_id=1, id_tag="T1", meter_start=0, timestamp=now()
                    )
                    if status == "Rejected":  # admission is not skipped by going on (review4 G5)
                        with pytest.raises(SecurityError):
                            await cp.call(start, suppress=False)
                    else:
                        # serve csms numbers transactions from the time it started (restarts)
                        assert (await cp.call(start)).transaction_id == service.csms._transactions
            assert [len(service.records[s].transactions) for s in ("CP-OK", "CP-OTHER")] == [1, 0]

    asyncio.run(main())


@pytest.mark.parametrize("subprotocol", ["ocpp1.6", "ocpp2.0.1"])
def test_serve_csms_answers_unparseable_frames_with_a_callerror(subprotocol: str) -> None:
    """The live path (a raw client, no OCPP library): each frame gets its CALLERROR, with messageId
    "-1" when none could be read (OCPP 2.0.1 part 4 §4.2.3), and the connection stays usable."""
    from csms_boot import BOOT

    from simulators.ocppj import ERROR_CODES, OcppVersion

    version: OcppVersion = "1.6" if subprotocol == "ocpp1.6" else "2.0.1"
    codes = ERROR_CODES[version]
    frames = [
        ("not json", "-1", codes["rpc"]),
        ("{}", "-1", codes["rpc"]),
        ("[2]", "-1", codes["rpc"]),
        ('[9,"x","A",{}]', "x", codes["message_type"]),
        ('[2,"id","Unknown",{}]', "id", codes["not_implemented"]),
        ('[2, 5, "Heartbeat", {}]', "-1", codes["rpc"]),
    ]

    async def main() -> None:
        async with served(CsmsServiceConfig()) as (address, _service):
            url = f"ws://{address}/ocpp/CP-RAW"
            async with websockets.connect(url, subprotocols=[subprotocol]) as ws:
                for frame, message_id, code in frames:
                    await ws.send(frame)
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert answer[:3] == [4, message_id, code], (frame, answer)
                boot = json.dumps([2, "boot", "BootNotification", BOOT[version]])
                for frame in (boot, '[2,"hb","Heartbeat",{}]'):
                    await ws.send(frame)
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    assert answer[:2] == [3, json.loads(frame)[1]] and "currentTime" in answer[2]

    asyncio.run(main())
