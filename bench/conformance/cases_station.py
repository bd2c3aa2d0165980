"""Cases with the station under test, core behaviour: the bench plays the CSMS (`CsmsSide`) and the
cases run in order on the station's connection (the reset case waits for it to reconnect).

Ids: OCA test-case ids where the OCTT lists confirm them (1.6 `TC_nnn[_n]_CS`, 2.0.1 `TC_X_nn_CS`);
otherwise `REQ_<spec reference>_<what>_CS`, named after the requirement the case exercises (1.6
section, 2.0.1 use case), and the case's docstring says so.
"""

from __future__ import annotations

from bench.conformance.registry import DOWN, UP, CsmsSide, call_ok, case, expect, versions
from simulators.ocppj.codec import OcppVersion

# A charging profile the cases set and clear (TxDefaultProfile, 16 A, on the whole station).
SCHEDULE = {"chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}


def profile(version: OcppVersion, profile_id: int, purpose: str = "TxDefaultProfile") -> dict[str, object]:
    v16 = version == "1.6"
    return {
        "chargingProfileId" if v16 else "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": SCHEDULE if v16 else [{"id": 1, **SCHEDULE}],
    }


def set_profile_payload(
    version: OcppVersion, profile_id: int, purpose: str = "TxDefaultProfile", where: int = 0
) -> dict[str, object]:
    if version == "1.6":
        return {"connectorId": where, "csChargingProfiles": profile(version, profile_id, purpose)}
    return {"evseId": where, "chargingProfile": profile(version, profile_id, purpose)}


def _register(version: OcppVersion, ids: dict[str, str]) -> None:
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
            expect(bool(answer.get("configurationKey")), "GetConfiguration returned no key")

        @case(
            ids["set"],
            version,
            "station",
            "ChangeConfiguration, read back with GetConfiguration",
            ("ChangeConfiguration", DOWN),
            ("GetConfiguration", DOWN),
        )
        async def _set(c: CsmsSide) -> None:
            await call_ok(c, "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "60"})
            read = await c.peer.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
            keys = read["configurationKey"]
            expect([k.get("value") for k in keys] == ["60"], f"MeterValueSampleInterval reads {keys}")

        @case(
            "TC_040_1_CS",
            version,
            "station",
            "ChangeConfiguration of an unknown key: NotSupported",
            ("ChangeConfiguration", DOWN),
        )
        async def _set_unknown(c: CsmsSide) -> None:
            await call_ok(c, "ChangeConfiguration", {"key": "Testing", "value": "true"}, "NotSupported")
    else:

        @case(ids["get"], version, "station", "GetVariables: HeartbeatInterval", ("GetVariables", DOWN))
        async def _get201(c: CsmsSide) -> None:
            """B06. Named after the requirement."""
            data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]
            result = (await c.peer.call("GetVariables", {"getVariableData": data}))["getVariableResult"]
            expect(result[0]["attributeStatus"] == "Accepted", f"GetVariables: {result}")

        @case(
            ids["set"],
            version,
            "station",
            "SetVariables, read back with GetVariables",
            ("SetVariables", DOWN),
            ("GetVariables", DOWN),
        )
        async def _set201(c: CsmsSide) -> None:
            """B05. Named after the requirement."""
            where = {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
            result = await c.peer.call(
                "SetVariables", {"setVariableData": [{"attributeValue": "60", **where}]}
            )
            status = result["setVariableResult"][0]["attributeStatus"]
            expect(status == "Accepted", f"SetVariables: {result}")
            read = (await c.peer.call("GetVariables", {"getVariableData": [where]}))["getVariableResult"]
            expect(read[0].get("attributeValue") == "60", f"TxUpdatedInterval reads {read}")

        @case(
            "TC_B_35_CS",
            version,
            "station",
            "SetVariables of an unknown component: UnknownComponent",
            ("SetVariables", DOWN),
        )
        async def _set_unknown201(c: CsmsSide) -> None:
            data = {
                "attributeValue": "1",
                "component": {"name": "UnknownComponent"},
                "variable": {"name": "OfflineThreshold"},
            }
            result = (await c.peer.call("SetVariables", {"setVariableData": [data]}))["setVariableResult"]
            expect(result[0]["attributeStatus"] == "UnknownComponent", f"SetVariables: {result}")
            expect(result[0]["component"]["name"] == "UnknownComponent", f"component echoed as {result}")

    @case(
        ids["trigger"],
        version,
        "station",
        "TriggerMessage Heartbeat: accepted, then sent",
        ("TriggerMessage", DOWN),
        ("Heartbeat", UP),
    )
    async def _trigger(c: CsmsSide) -> None:
        """2.0.1 (F06): no confirmed OCTT id for the Heartbeat trigger, named after the requirement."""
        since = len(c.peer.calls)
        await call_ok(c, "TriggerMessage", {"requestedMessage": "Heartbeat"})
        await c.peer.expect("Heartbeat", since=since)

    @case(
        ids["data"],
        version,
        "station",
        "DataTransfer of an unknown vendor to the station: a valid answer",
        ("DataTransfer", DOWN),
    )
    async def _data(c: CsmsSide) -> None:
        """2.0.1 (P01): no confirmed OCTT id, named after the requirement. Accepted passes too: the
        official case only warns about it (a vendor id nobody knows)."""
        answer = await c.peer.call("DataTransfer", {"vendorId": "emsp-bench", "messageId": "conformance"})
        expect("status" in answer, "DataTransfer answer without status")

    @case(
        ids["profile"],
        version,
        "station",
        "SetChargingProfile TxDefaultProfile: accepted",
        ("SetChargingProfile", DOWN),
    )
    async def _profile(c: CsmsSide) -> None:
        """2.0.1 (K01): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, "SetChargingProfile", set_profile_payload(version, 9001))

    @case(
        ids["composite"], version, "station", "GetCompositeSchedule: accepted", ("GetCompositeSchedule", DOWN)
    )
    async def _composite(c: CsmsSide) -> None:
        """2.0.1 (K08): no confirmed OCTT id, named after the requirement."""
        where = {"connectorId": 1} if v16 else {"evseId": 1}
        await call_ok(c, "GetCompositeSchedule", {**where, "duration": 3600})

    @case(
        ids["clear"],
        version,
        "station",
        "ClearChargingProfile by id: accepted",
        ("ClearChargingProfile", DOWN),
    )
    async def _clear(c: CsmsSide) -> None:
        """2.0.1 (K10): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, "ClearChargingProfile", {"id": 9001} if v16 else {"chargingProfileId": 9001})

    @case(
        ids["tx_profile_idle"],
        version,
        "station",
        "SetChargingProfile TxProfile without a transaction: Rejected",
        ("SetChargingProfile", DOWN),
    )
    async def _tx_profile_idle(c: CsmsSide) -> None:
        """1.6 §5.16.1 / 2.0.1 K01.FR.09: a TxProfile needs a transaction on the connector. Named after
        the requirement."""
        await call_ok(c, "SetChargingProfile", set_profile_payload(version, 9003, "TxProfile", 1), "Rejected")

    if not v16:

        @case(
            "REQ_K09_GetChargingProfiles_CS",
            version,
            "station",
            "GetChargingProfiles: accepted, then reported with its requestId",
            ("GetChargingProfiles", DOWN),
            ("ReportChargingProfiles", UP),
        )
        async def _get_profiles(c: CsmsSide) -> None:
            """K09. Named after the requirement."""
            await call_ok(c, "SetChargingProfile", set_profile_payload(version, 9002))
            since = len(c.peer.calls)
            ask = {"requestId": 77, "chargingProfile": {"chargingProfilePurpose": "TxDefaultProfile"}}
            await call_ok(c, "GetChargingProfiles", ask)
            await c.peer.expect("ReportChargingProfiles", since=since, where=lambda p: p["requestId"] == 77)
            await call_ok(c, "ClearChargingProfile", {"chargingProfileId": 9002})

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
        "Remote start before the cable: accepted, then the transaction starts",
        (start, DOWN),
        (started, UP),
    )
    async def _start(c: CsmsSide) -> None:
        """2.0.1 (F02, remote start first): no confirmed OCTT id, named after the requirement."""
        since = len(c.peer.calls)
        if v16:
            await call_ok(c, start, {"connectorId": 1, "idTag": "CONFORMANCE"})
            call = await c.peer.expect("StartTransaction", since=since)
            c.transaction_id = c.peer.answered[call.unique_id]["transactionId"]
        else:
            token = {"idToken": "CONFORMANCE", "type": "Central"}
            await call_ok(c, start, {"evseId": 1, "remoteStartId": 1, "idToken": token})
            call = await c.peer.expect(
                "TransactionEvent", since=since, where=lambda p: p["eventType"] == "Started"
            )
            c.transaction_id = call.payload["transactionInfo"]["transactionId"]

    @case(
        ids["stop_unknown"],
        version,
        "station",
        "Remote stop of an unknown transaction: Rejected",
        (stop, DOWN),
    )
    async def _stop_unknown(c: CsmsSide) -> None:
        """2.0.1 (F03): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, stop, {"transactionId": 987654 if v16 else "no-such-transaction"}, "Rejected")

    @case(
        ids["stop"],
        version,
        "station",
        "Remote stop: accepted, then the transaction ends",
        (stop, DOWN),
        ("StopTransaction" if v16 else started, UP),
    )
    async def _stop(c: CsmsSide) -> None:
        """2.0.1 (F03): no confirmed OCTT id, named after the requirement."""
        expect(c.transaction_id is not None, "no transaction to stop (the remote start case failed)")
        since = len(c.peer.calls)
        await call_ok(c, stop, {"transactionId": c.transaction_id})
        if v16:
            await c.peer.expect("StopTransaction", since=since)
        else:
            await c.peer.expect("TransactionEvent", since=since, where=lambda p: p["eventType"] == "Ended")

    @case(
        ids["availability"],
        version,
        "station",
        "ChangeAvailability of a connector: Unavailable reported, then Available again",
        ("ChangeAvailability", DOWN),
        ("StatusNotification", UP),
    )
    async def _availability(c: CsmsSide) -> None:
        """1.6 §5.2 / 2.0.1 G03 (connector 2 / EVSE 2). Named after the requirement."""
        since = len(c.peer.calls)
        if v16:
            await call_ok(c, "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
            await c.peer.expect(
                "StatusNotification",
                since=since,
                where=lambda p: p["connectorId"] == 2 and p["status"] == "Unavailable",
            )
            since = len(c.peer.calls)
            await call_ok(c, "ChangeAvailability", {"connectorId": 2, "type": "Operative"})
            await c.peer.expect(
                "StatusNotification",
                since=since,
                where=lambda p: p["connectorId"] == 2 and p["status"] == "Available",
            )
            return
        await call_ok(c, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})
        await c.peer.expect(
            "StatusNotification",
            since=since,
            where=lambda p: p["evseId"] == 2 and p["connectorStatus"] == "Unavailable",
        )
        since = len(c.peer.calls)
        await call_ok(c, "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 2}})
        await c.peer.expect(
            "StatusNotification",
            since=since,
            where=lambda p: p["evseId"] == 2 and p["connectorStatus"] == "Available",
        )

    @case(ids["clear_cache"], version, "station", "ClearCache: accepted", ("ClearCache", DOWN))
    async def _clear_cache(c: CsmsSide) -> None:
        """The answer only: the official case also re-presents a cached token, which needs a driver
        at the station."""
        await call_ok(c, "ClearCache", {})

    @case(
        ids["unlock"],
        version,
        "station",
        "UnlockConnector without a transaction: Unlocked",
        ("UnlockConnector", DOWN),
    )
    async def _unlock(c: CsmsSide) -> None:
        where = {"connectorId": 1} if v16 else {"evseId": 1, "connectorId": 1}
        await call_ok(c, "UnlockConnector", where, expected="Unlocked")

    @case(
        ids["unlock_unknown"],
        version,
        "station",
        "UnlockConnector of an unknown connector: refused",
        ("UnlockConnector", DOWN),
    )
    async def _unlock_unknown(c: CsmsSide) -> None:
        if v16:
            await call_ok(c, "UnlockConnector", {"connectorId": 99}, expected="NotSupported")
        else:
            await call_ok(
                c, "UnlockConnector", {"evseId": 1, "connectorId": 999}, expected="UnknownConnector"
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
        """2.0.1 (B11): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, "Reset", {"type": "Soft"} if v16 else {"type": "Immediate"})
        peer = await c.reconnected()
        await peer.expect("BootNotification", timeout=30)


# Case ids per version (1.6, 2.0.1) for the cases `_register` defines.
IDS: tuple[dict[str, str], dict[str, str]] = (
    {
        "boot": "TC_001_CS",
        "get": "TC_019_CS",
        "set": "TC_021_CS",
        "trigger": "TC_054_CS",
        "data": "TC_062_CS",
        "profile": "TC_056_CS",
        "composite": "TC_066_CS",
        "clear": "TC_067_CS",
        "tx_profile_idle": "REQ_5.16_TxProfileIdle_CS",
        "start": "TC_011_1_CS",
        "stop_unknown": "TC_028_CS",
        "stop": "TC_012_CS",
        "availability": "REQ_5.2_ChangeAvailability_CS",
        "clear_cache": "TC_061_CS",
        "unlock": "TC_017_1_CS",
        "unlock_unknown": "TC_031_CS",
        "reset": "TC_014_CS",
    },
    {
        "boot": "TC_B_01_CS",
        "get": "REQ_B06_GetVariables_CS",
        "set": "REQ_B05_SetVariables_CS",
        "trigger": "REQ_F06_TriggerHeartbeat_CS",
        "data": "REQ_P01_DataTransfer_CS",
        "profile": "REQ_K01_SetChargingProfile_CS",
        "composite": "REQ_K08_GetCompositeSchedule_CS",
        "clear": "REQ_K10_ClearChargingProfile_CS",
        "tx_profile_idle": "REQ_K01_TxProfileIdle_CS",
        "start": "REQ_F02_RemoteStartFirst_CS",
        "stop_unknown": "REQ_F03_StopUnknown_CS",
        "stop": "REQ_F03_RemoteStop_CS",
        "availability": "REQ_G03_ChangeAvailability_CS",
        "clear_cache": "TC_C_37_CS",
        "unlock": "TC_F_06_CS",
        "unlock_unknown": "TC_F_10_CS",
        "reset": "REQ_B11_Reset_CS",
    },
)


def register() -> None:
    """Register this module's cases (bench.conformance.cases calls it, in run order)."""
    for version, ids in zip(versions(), IDS, strict=True):
        _register(version, ids)
