"""Conformance cases, each tagged with the OCA test-case id whose behaviour it exercises.

Ids: 1.6 `TC_<nnn>_CS` (the charge point is under test) / `TC_<nnn>_CSMS` (the central system is),
after the OCA 1.6 test tool's numbering; 2.0.1 `TC_<block>_<nn>_CS|CSMS`, the use case exercised
(B01 cold boot, F01 remote start, K01 set charging profile, ...). Each case is written from the
specs' behaviour (not from the OCA test tool's scripts) and covers what the bench can observe; the ids
say which official case to look at, a pass here is not a certification.

`sut` is the role under test: "csms" (the bench plays a station that connects to it) or "station"
(the bench plays the CSMS the station connects to). `messages` lists what each case exchanges as
(action, direction): the coverage table (bench/conformance/coverage.py) is built from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from bench.conformance.peer import CaseFailed, Payload, Peer, now_text
from simulators.ocppj.codec import OcppVersion

UP = "station → CSMS"
DOWN = "CSMS → station"
Sut = Literal["csms", "station"]


class StationSide:
    """The bench as a station, connected (not yet booted) to the CSMS under test."""

    def __init__(self, peer: Peer, station_id: str, token: str, invalid_token: str) -> None:
        self.peer, self.station_id, self.token, self.invalid_token = peer, station_id, token, invalid_token

    async def boot(self) -> Payload:
        payload: Payload
        if self.peer.version == "1.6":
            payload = {"chargePointVendor": "emsp-bench", "chargePointModel": "conformance"}
        else:
            payload = {
                "chargingStation": {"model": "conformance", "vendorName": "emsp-bench"},
                "reason": "PowerUp",
            }
        answer = await self.peer.call("BootNotification", payload)
        if answer["status"] != "Accepted":
            raise CaseFailed(
                f"BootNotification answered {answer['status']}, expected Accepted "
                f"(is station {self.station_id} known to the CSMS?)"
            )
        return answer

    async def status(self, state: str) -> None:
        if self.peer.version == "1.6":
            await self.peer.call(
                "StatusNotification",
                {"connectorId": 1, "errorCode": "NoError", "status": state, "timestamp": now_text()},
            )
        else:
            await self.peer.call(
                "StatusNotification",
                {"timestamp": now_text(), "connectorStatus": state, "evseId": 1, "connectorId": 1},
            )

    async def authorize(self, token: str) -> str:
        if self.peer.version == "1.6":
            return str((await self.peer.call("Authorize", {"idTag": token}))["idTagInfo"]["status"])
        answer = await self.peer.call("Authorize", {"idToken": {"idToken": token, "type": "ISO14443"}})
        return str(answer["idTokenInfo"]["status"])


class CsmsSide:
    """The bench as the CSMS a station under test connected to (`peer`: its current connection)."""

    def __init__(self, connections: Callable[[], Awaitable[Peer]], first: Peer) -> None:
        self._next = connections
        self.peer = first
        self.transaction_id: Any = None

    async def reconnected(self) -> Peer:
        self.peer = await self._next()
        return self.peer


@dataclass(frozen=True)
class Case:
    id: str
    version: OcppVersion
    sut: Sut
    title: str
    messages: tuple[tuple[str, str], ...]
    run: Callable[[Any], Awaitable[None]]


CASES: list[Case] = []


Register = Callable[[Callable[[Any], Awaitable[None]]], Callable[[Any], Awaitable[None]]]


def case(case_id: str, version: OcppVersion, sut: Sut, title: str, *messages: tuple[str, str]) -> Register:
    def register(fn: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        CASES.append(Case(case_id, version, sut, title, messages, fn))
        return fn

    return register


def cases_for(version: str, sut: str) -> list[Case]:
    return [c for c in CASES if c.version == version and c.sut == sut]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailed(message)


# =============================================================== the CSMS under test (bench = station)
for _v, _boot, _auth, _auth_bad, _session, _data in (
    ("1.6", "TC_001_CSMS", "TC_004_CSMS", "TC_023_CSMS", "TC_003_CSMS", "TC_064_CSMS"),
    ("2.0.1", "TC_B_01_CSMS", "TC_C_02_CSMS", "TC_C_06_CSMS", "TC_E_01_CSMS", "TC_P_01_CSMS"),
):
    version: OcppVersion = "1.6" if _v == "1.6" else "2.0.1"

    @case(
        _boot,
        version,
        "csms",
        "Cold boot: BootNotification accepted, status and heartbeat answered",
        ("BootNotification", UP),
        ("StatusNotification", UP),
        ("Heartbeat", UP),
    )
    async def _cold_boot(s: StationSide) -> None:
        answer = await s.boot()
        _expect(int(answer["interval"]) >= 0, f"interval {answer['interval']} is negative")
        await s.status("Available")
        beat = await s.peer.call("Heartbeat", {})
        _expect(bool(beat.get("currentTime")), "Heartbeat answer without currentTime")

    @case(_auth, version, "csms", "Authorize a valid token: Accepted", ("Authorize", UP))
    async def _authorize_ok(s: StationSide) -> None:
        await s.boot()
        status = await s.authorize(s.token)
        _expect(status == "Accepted", f"token {s.token} answered {status}, expected Accepted")

    @case(_auth_bad, version, "csms", "Authorize an unknown token: not Accepted", ("Authorize", UP))
    async def _authorize_invalid(s: StationSide) -> None:
        await s.boot()
        status = await s.authorize(s.invalid_token)
        _expect(status != "Accepted", f"unknown token {s.invalid_token} was Accepted")

    messages: tuple[tuple[str, str], ...] = (
        (("StartTransaction", UP), ("MeterValues", UP), ("StopTransaction", UP))
        if version == "1.6"
        else (("TransactionEvent", UP),)
    )

    @case(
        _session,
        version,
        "csms",
        "A charging session: authorize, start, meter values, stop",
        ("Authorize", UP),
        ("StatusNotification", UP),
        *messages,
    )
    async def _session_case(s: StationSide) -> None:
        await s.boot()
        await s.status("Preparing" if s.peer.version == "1.6" else "Occupied")
        _expect(await s.authorize(s.token) == "Accepted", f"token {s.token} not Accepted")
        if s.peer.version == "1.6":
            started = await s.peer.call(
                "StartTransaction",
                {"connectorId": 1, "idTag": s.token, "meterStart": 0, "timestamp": now_text()},
            )
            _expect(started["idTagInfo"]["status"] == "Accepted", f"StartTransaction: {started['idTagInfo']}")
            tx = started["transactionId"]
            sample = {"value": "1500", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
            await s.peer.call(
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": tx,
                    "meterValue": [{"timestamp": now_text(), "sampledValue": [sample]}],
                },
            )
            await s.peer.call(
                "StopTransaction",
                {
                    "transactionId": tx,
                    "meterStop": 3000,
                    "timestamp": now_text(),
                    "idTag": s.token,
                    "reason": "EVDisconnected",
                },
            )
            return
        token = {"idToken": s.token, "type": "ISO14443"}
        tx_id = f"conf-{s.station_id}"

        def event(kind: str, seq: int, trigger: str, wh: int, **extra: Any) -> Payload:
            info = {"transactionId": tx_id, "chargingState": "Charging" if kind != "Ended" else "Idle"}
            if kind == "Ended":
                info["stoppedReason"] = "EVDisconnected"
            meter = [
                {
                    "timestamp": now_text(),
                    "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}],
                }
            ]
            return {
                "eventType": kind,
                "timestamp": now_text(),
                "triggerReason": trigger,
                "seqNo": seq,
                "transactionInfo": info,
                "meterValue": meter,
                **extra,
            }

        started = await s.peer.call(
            "TransactionEvent",
            event("Started", 0, "Authorized", 0, idToken=token, evse={"id": 1, "connectorId": 1}),
        )
        status = started.get("idTokenInfo", {}).get("status", "Accepted")
        _expect(status == "Accepted", f"TransactionEvent Started: idTokenInfo {status}")
        await s.peer.call("TransactionEvent", event("Updated", 1, "MeterValuePeriodic", 1500))
        await s.peer.call("TransactionEvent", event("Ended", 2, "EVCommunicationLost", 3000))

    @case(_data, version, "csms", "DataTransfer to the CSMS: a valid answer", ("DataTransfer", UP))
    async def _data_transfer(s: StationSide) -> None:
        await s.boot()
        answer = await s.peer.call("DataTransfer", {"vendorId": "emsp-bench", "messageId": "conformance"})
        _expect("status" in answer, "DataTransfer answer without status")


# ============================================================== the station under test (bench = CSMS)
async def _call_ok(c: CsmsSide, action: str, payload: Payload, expected: str = "Accepted") -> Payload:
    answer = await c.peer.call(action, payload)
    _expect(
        answer.get("status") == expected, f"{action} answered {answer.get('status')}, expected {expected}"
    )
    return answer


def _station_cases(version: OcppVersion, ids: dict[str, str]) -> None:
    v16 = version == "1.6"

    @case(
        ids["boot"],
        version,
        "station",
        "Cold boot: the station boots and reports its connectors",
        ("BootNotification", UP),
        ("StatusNotification", UP),
    )
    async def _boot(c: CsmsSide) -> None:
        await c.peer.expect("BootNotification")
        await c.peer.expect("StatusNotification")

    if v16:

        @case(ids["get"], version, "station", "GetConfiguration: every key", ("GetConfiguration", DOWN))
        async def _get(c: CsmsSide) -> None:
            answer = await c.peer.call("GetConfiguration", {})
            _expect(bool(answer.get("configurationKey")), "GetConfiguration returned no key")

        @case(
            ids["set"],
            version,
            "station",
            "ChangeConfiguration, read back with GetConfiguration",
            ("ChangeConfiguration", DOWN),
            ("GetConfiguration", DOWN),
        )
        async def _set(c: CsmsSide) -> None:
            await _call_ok(c, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"})
            keys = (await c.peer.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]}))[
                "configurationKey"
            ]
            _expect([k.get("value") for k in keys] == ["60"], f"MeterValueSampleInterval reads {keys}")
    else:

        @case(ids["get"], version, "station", "GetVariables: HeartbeatInterval", ("GetVariables", DOWN))
        async def _get201(c: CsmsSide) -> None:
            data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]
            result = (await c.peer.call("GetVariables", {"getVariableData": data}))["getVariableResult"]
            _expect(result[0]["attributeStatus"] == "Accepted", f"GetVariables: {result}")

        @case(
            ids["set"],
            version,
            "station",
            "SetVariables, read back with GetVariables",
            ("SetVariables", DOWN),
            ("GetVariables", DOWN),
        )
        async def _set201(c: CsmsSide) -> None:
            where = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
            result = await c.peer.call(
                "SetVariables", {"setVariableData": [{"attributeValue": "60", **where}]}
            )
            _expect(
                result["setVariableResult"][0]["attributeStatus"] == "Accepted", f"SetVariables: {result}"
            )
            read = (await c.peer.call("GetVariables", {"getVariableData": [where]}))["getVariableResult"]
            _expect(read[0].get("attributeValue") == "60", f"TxUpdatedInterval reads {read}")

    @case(
        ids["trigger"],
        version,
        "station",
        "TriggerMessage Heartbeat: accepted, then sent",
        ("TriggerMessage", DOWN),
        ("Heartbeat", UP),
    )
    async def _trigger(c: CsmsSide) -> None:
        since = len(c.peer.calls)
        await _call_ok(c, "TriggerMessage", {"requestedMessage": "Heartbeat"})
        await c.peer.expect("Heartbeat", since=since)

    @case(
        ids["data"], version, "station", "DataTransfer to the station: a valid answer", ("DataTransfer", DOWN)
    )
    async def _data(c: CsmsSide) -> None:
        answer = await c.peer.call("DataTransfer", {"vendorId": "emsp-bench", "messageId": "conformance"})
        _expect("status" in answer, "DataTransfer answer without status")

    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}
    profile = {
        "chargingProfileId" if v16 else "id": 9001,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": schedule if v16 else [{"id": 1, **schedule}],
    }

    @case(
        ids["profile"],
        version,
        "station",
        "SetChargingProfile TxDefaultProfile: accepted",
        ("SetChargingProfile", DOWN),
    )
    async def _profile(c: CsmsSide) -> None:
        if v16:
            await _call_ok(c, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": profile})
        else:
            await _call_ok(c, "SetChargingProfile", {"evseId": 0, "chargingProfile": profile})

    @case(
        ids["composite"], version, "station", "GetCompositeSchedule: accepted", ("GetCompositeSchedule", DOWN)
    )
    async def _composite(c: CsmsSide) -> None:
        where = {"connectorId": 1} if v16 else {"evseId": 1}
        await _call_ok(c, "GetCompositeSchedule", {**where, "duration": 3600})

    @case(
        ids["clear"],
        version,
        "station",
        "ClearChargingProfile by id: accepted",
        ("ClearChargingProfile", DOWN),
    )
    async def _clear(c: CsmsSide) -> None:
        await _call_ok(c, "ClearChargingProfile", {"id": 9001} if v16 else {"chargingProfileId": 9001})

    start, started = (
        ("RemoteStartTransaction", "StartTransaction")
        if v16
        else ("RequestStartTransaction", "TransactionEvent")
    )
    stop = "RemoteStopTransaction" if v16 else "RequestStopTransaction"

    @case(
        ids["start"],
        version,
        "station",
        "Remote start: accepted, then the transaction starts",
        (start, DOWN),
        (started, UP),
    )
    async def _start(c: CsmsSide) -> None:
        since = len(c.peer.calls)
        if v16:
            await _call_ok(c, start, {"connectorId": 1, "idTag": "CONFORMANCE"})
            call = await c.peer.expect("StartTransaction", since=since)
            c.transaction_id = c.peer.answered[call.unique_id]["transactionId"]
        else:
            token = {"idToken": "CONFORMANCE", "type": "Central"}
            await _call_ok(c, start, {"evseId": 1, "remoteStartId": 1, "idToken": token})
            call = await c.peer.expect(
                "TransactionEvent", since=since, where=lambda p: p["eventType"] == "Started"
            )
            c.transaction_id = call.payload["transactionInfo"]["transactionId"]

    @case(
        ids["stop"],
        version,
        "station",
        "Remote stop: accepted, then the transaction ends",
        (stop, DOWN),
        (started if not v16 else "StopTransaction", UP),
    )
    async def _stop(c: CsmsSide) -> None:
        _expect(c.transaction_id is not None, "no transaction to stop (the remote start case failed)")
        since = len(c.peer.calls)
        await _call_ok(c, stop, {"transactionId": c.transaction_id})
        if v16:
            await c.peer.expect("StopTransaction", since=since)
        else:
            await c.peer.expect("TransactionEvent", since=since, where=lambda p: p["eventType"] == "Ended")

    if not v16:  # 2.0.1 use cases G03 and C11 (ids after the use case, as the others)

        @case("TC_G_03_CS", version, "station", "ChangeAvailability of an EVSE: accepted, status reported",
              ("ChangeAvailability", DOWN), ("StatusNotification", UP))  # fmt: skip
        async def _availability(c: CsmsSide) -> None:
            since = len(c.peer.calls)
            await _call_ok(c, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})
            await c.peer.expect("StatusNotification", since=since, where=lambda p: p["evseId"] == 2)
            await _call_ok(c, "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 2}})

        @case("TC_C_11_CS", version, "station", "ClearCache: accepted", ("ClearCache", DOWN))
        async def _clear_cache(c: CsmsSide) -> None:
            await _call_ok(c, "ClearCache", {})

    @case(ids["unlock"], version, "station", "UnlockConnector: unlocked", ("UnlockConnector", DOWN))
    async def _unlock(c: CsmsSide) -> None:
        await _call_ok(
            c,
            "UnlockConnector",
            {"connectorId": 1} if v16 else {"evseId": 1, "connectorId": 1},
            expected="Unlocked",
        )

    @case(
        ids["reset"],
        version,
        "station",
        "Reset without a transaction: accepted, reconnects and boots",
        ("Reset", DOWN),
        ("BootNotification", UP),
    )
    async def _reset(c: CsmsSide) -> None:
        await _call_ok(c, "Reset", {"type": "Soft"} if v16 else {"type": "Immediate"})
        peer = await c.reconnected()
        await peer.expect("BootNotification", timeout=30)


_station_cases(
    "1.6",
    {
        "boot": "TC_001_CS",
        "get": "TC_019_CS",
        "set": "TC_021_CS",
        "trigger": "TC_054_CS",
        "data": "TC_064_CS",
        "profile": "TC_056_CS",
        "composite": "TC_066_CS",
        "clear": "TC_067_CS",
        "start": "TC_010_CS",
        "stop": "TC_012_CS",
        "unlock": "TC_017_CS",
        "reset": "TC_014_CS",
    },
)
_station_cases(
    "2.0.1",
    {
        "boot": "TC_B_01_CS",
        "get": "TC_B_06_CS",
        "set": "TC_B_05_CS",
        "trigger": "TC_F_06_CS",
        "data": "TC_P_01_CS",
        "profile": "TC_K_01_CS",
        "composite": "TC_K_08_CS",
        "clear": "TC_K_10_CS",
        "start": "TC_F_01_CS",
        "stop": "TC_F_03_CS",
        "unlock": "TC_F_05_CS",
        "reset": "TC_B_11_CS",
    },
)
