"""The reverse of test_serve_csms: the bench's own virtual stations (over `StationLink`) against a CSMS
we did not write — the `ocpp` package's ChargePoint on the server side, which validates every message —
for both versions: boot, authorize, a transaction with meter values, and the CSMS's calls (1.6 Core,
Remote Trigger, Smart Charging; 2.0.1 B, F, K), the station acting on them (a Reset reconnects and
boots again, a charging profile lowers the metered power)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

from bench.station_link import StationLink
from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

pytestmark = [pytest.mark.xdist_group("sockets"), pytest.mark.slow]
EV = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(40))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Seen:
    """What the third-party CSMS received, by action."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    def add(self, action: str, **kw: Any) -> None:
        self.messages.append((action, kw))
        self.arrived.set()

    def of(self, action: str) -> list[dict[str, Any]]:
        return [kw for a, kw in self.messages if a == action]

    async def wait(self, action: str, count: int = 1, seconds: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(seconds):
            while len(self.of(action)) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(action)


class Csms16(ChargePoint16):
    seen: Seen

    @on("BootNotification")
    def on_boot(self, **kw: Any) -> Any:
        self.seen.add("BootNotification", **kw)
        return result16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        self.seen.add("Heartbeat", **kw)
        return result16.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **kw: Any) -> Any:
        self.seen.add("StatusNotification", **kw)
        return result16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **kw: Any) -> Any:
        self.seen.add("Authorize", **kw)
        return result16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    def on_start(self, **kw: Any) -> Any:
        self.seen.add("StartTransaction", **kw)
        return result16.StartTransaction(transaction_id=40 + len(self.seen.of("StartTransaction")),
                                         id_tag_info={"status": "Accepted"})  # fmt: skip

    @on("MeterValues")
    def on_meter(self, **kw: Any) -> Any:
        self.seen.add("MeterValues", **kw)
        return result16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **kw: Any) -> Any:
        self.seen.add("StopTransaction", **kw)
        return result16.StopTransaction()


@asynccontextmanager
async def third_party_csms(
    kind: type[Any], subprotocol: str
) -> AsyncIterator[tuple[str, Seen, dict[str, Any]]]:
    seen, current = Seen(), {}

    async def handler(ws: Any) -> None:
        cp = kind(ws.request.path.rsplit("/", 1)[-1], ws)
        cp.seen = seen
        current["cp"] = cp
        await cp.start()

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=[subprotocol]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp", seen, current


@asynccontextmanager
async def linked(station: Any, url: str) -> AsyncIterator[StationLink]:
    link = StationLink(station, f"{url}/{station.station_id}")
    stop = asyncio.Event()
    task = asyncio.ensure_future(link.run(stop, backoff_s=0.2))
    try:
        await asyncio.wait_for(link.booted.wait(), 10)
        yield link
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def test_virtual_16_station_against_an_ocpp_package_central_system() -> None:
    async def main() -> None:
        station = Station16(
            "VS-16", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=1, call_timeout_s=10
        )
        async with third_party_csms(Csms16, "ocpp1.6") as (url, seen, current), linked(station, url) as link:
            cs = current["cp"]
            await link.act(lambda t: station.plug_in(1, token_uid="TOKEN-1", ev=EV, now=t))
            [start] = await seen.wait("StartTransaction")
            assert (start["id_tag"], start["connector_id"]) == ("TOKEN-1", 1)
            await seen.wait("MeterValues", 2)
            config = await cs.call(call16.GetConfiguration(key=["MeterValueSampleInterval"]))
            assert config.configuration_key == [
                {"key": "MeterValueSampleInterval", "readonly": False, "value": "1"}
            ]
            assert (
                await cs.call(call16.ChangeConfiguration(key="HeartbeatInterval", value="2"))
            ).status == "Accepted"
            await seen.wait("Heartbeat", 1, seconds=5)
            assert (await cs.call(call16.ClearCache())).status == "Accepted"
            assert (await cs.call(call16.DataTransfer(vendor_id="com.example"))).status == "UnknownVendorId"
            assert (
                await cs.call(call16.ChangeAvailability(connector_id=2, type="Inoperative"))
            ).status == "Accepted"
            assert (
                await cs.call(call16.ChangeAvailability(connector_id=2, type="Operative"))
            ).status == "Accepted"
            profile = {
                "charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
                "charging_profile_kind": "Relative",
                "charging_schedule": {"charging_rate_unit": "W",
                                      "charging_schedule_period": [{"start_period": 0, "limit": 3000}]},
            }  # fmt: skip
            answer = await cs.call(call16.SetChargingProfile(connector_id=1, cs_charging_profiles=profile))
            assert answer.status == "Accepted"
            composite = await cs.call(call16.GetCompositeSchedule(connector_id=1, duration=60))
            assert composite.charging_schedule["charging_schedule_period"][0]["limit"] == 3000
            count = len(seen.of("MeterValues"))
            assert (
                await cs.call(call16.TriggerMessage(requested_message="MeterValues", connector_id=1))
            ).status == "Accepted"
            [*_, triggered] = await seen.wait("MeterValues", count + 1)
            powers = [
                s["value"]
                for s in triggered["meter_value"][0]["sampled_value"]
                if s.get("measurand") == "Power.Active.Import"
            ]
            assert powers == ["3000"]  # the profile limits the EV's power in the physics
            assert (await cs.call(call16.ClearChargingProfile(id=1))).status == "Accepted"
            started = await cs.call(call16.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=2))
            assert started.status == "Accepted"
            [_, second] = await seen.wait("StartTransaction", 2)
            assert second["id_tag"] == "REMOTE-1"
            assert (await cs.call(call16.RemoteStopTransaction(transaction_id=42))).status == "Accepted"
            [stop] = await seen.wait("StopTransaction")
            assert (stop["transaction_id"], stop["reason"]) == (42, "Remote")
            assert (await cs.call(call16.UnlockConnector(connector_id=1))).status == "Unlocked"
            [_, unlocked] = await seen.wait("StopTransaction", 2)
            assert (unlocked["transaction_id"], unlocked["reason"]) == (41, "UnlockCommand")
            assert (await cs.call(call16.Reset(type="Soft"))).status == "Accepted"
            await seen.wait("BootNotification", 2)
            async with asyncio.timeout(5):
                while station.boots < 2:
                    await asyncio.sleep(0.01)
            assert link.connections == 2  # rebooted on a new connection

    asyncio.run(main())


class Csms201(ChargePoint201):
    seen: Seen

    @on("BootNotification")
    def on_boot(self, **kw: Any) -> Any:
        self.seen.add("BootNotification", **kw)
        return result201.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        self.seen.add("Heartbeat", **kw)
        return result201.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **kw: Any) -> Any:
        self.seen.add("StatusNotification", **kw)
        return result201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, **kw: Any) -> Any:
        self.seen.add("Authorize", **kw)
        return result201.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    def on_transaction(self, **kw: Any) -> Any:
        self.seen.add("TransactionEvent", **kw)
        self.seen.add(f"TransactionEvent.{kw['event_type']}", **kw)
        return result201.TransactionEvent()

    @on("NotifyReport")
    def on_report(self, **kw: Any) -> Any:
        self.seen.add("NotifyReport", **kw)
        return result201.NotifyReport()

    @on("ReportChargingProfiles")
    def on_profiles(self, **kw: Any) -> Any:
        self.seen.add("ReportChargingProfiles", **kw)
        return result201.ReportChargingProfiles()


def test_virtual_201_station_against_an_ocpp_package_csms() -> None:
    async def main() -> None:
        station = Station201(
            "VS-201", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=1, call_timeout_s=10
        )
        async with (
            third_party_csms(Csms201, "ocpp2.0.1") as (url, seen, current),
            linked(station, url) as link,
        ):
            cs = current["cp"]
            await link.act(lambda t: station.plug_in(1, token_uid="TOKEN-1", ev=EV, now=t))
            [started] = await seen.wait("TransactionEvent.Started")
            tx = started["transaction_info"]["transaction_id"]
            await seen.wait("TransactionEvent.Updated", 1)
            var = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
            got = await cs.call(call201.GetVariables(get_variable_data=[var]))
            assert got.get_variable_result[0]["attribute_value"] == "1"
            beat = {
                "component": {"name": "OCPPCommCtrlr"},
                "variable": {"name": "HeartbeatInterval"},
                "attribute_value": "2",
            }
            answer = await cs.call(call201.SetVariables(set_variable_data=[beat]))
            assert answer.set_variable_result[0]["attribute_status"] == "Accepted"
            await seen.wait("Heartbeat", 1, seconds=5)
            assert (
                await cs.call(call201.GetBaseReport(request_id=5, report_base="FullInventory"))
            ).status == "Accepted"
            [report] = await seen.wait("NotifyReport")
            assert report["request_id"] == 5
            period = {"start_period": 0, "limit": 6, "number_phases": 1}
            profile = {
                "id": 3,
                "stack_level": 0,
                "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Relative",
                "transaction_id": tx,
                "charging_schedule": [
                    {"id": 1, "charging_rate_unit": "A", "charging_schedule_period": [period]}
                ],
            }
            assert (
                await cs.call(call201.SetChargingProfile(evse_id=1, charging_profile=profile))
            ).status == "Accepted"
            composite = await cs.call(
                call201.GetCompositeSchedule(duration=60, evse_id=1, charging_rate_unit="W")
            )
            assert composite.schedule["charging_schedule_period"][0]["limit"] == 1380  # 6 A x 230 V x 1 phase
            wanted = {"charging_profile_purpose": "TxProfile"}
            assert (
                await cs.call(call201.GetChargingProfiles(request_id=6, charging_profile=wanted))
            ).status == "Accepted"
            await seen.wait("ReportChargingProfiles")
            events = len(seen.of("TransactionEvent"))
            trigger = call201.TriggerMessage(requested_message="TransactionEvent", evse={"id": 1})
            assert (await cs.call(trigger)).status == "Accepted"
            [*_, last] = await seen.wait("TransactionEvent", events + 1)
            assert last["trigger_reason"] == "Trigger"
            assert (await cs.call(call201.ClearChargingProfile(charging_profile_id=3))).status == "Accepted"
            assert (
                await cs.call(call201.UnlockConnector(evse_id=1, connector_id=1))
            ).status == "OngoingAuthorizedTransaction"
            token = {"id_token": "REMOTE-1", "type": "Central"}
            remote = await cs.call(
                call201.RequestStartTransaction(id_token=token, remote_start_id=9, evse_id=2)
            )
            assert remote.status == "Accepted" and remote.transaction_id
            assert (
                await cs.call(call201.RequestStopTransaction(transaction_id=remote.transaction_id))
            ).status == "Accepted"
            [ended] = await seen.wait("TransactionEvent.Ended")
            assert ended["transaction_info"]["stopped_reason"] == "Remote"
            assert (await cs.call(call201.Reset(type="Immediate"))).status == "Accepted"
            [*_, boot] = await seen.wait("BootNotification", 2)
            assert boot["reason"] == "RemoteReset" and link.connections == 2
            [_, reset_end] = await seen.wait("TransactionEvent.Ended", 2)
            assert reset_end["transaction_info"]["stopped_reason"] == "ImmediateReset"

    asyncio.run(main())
