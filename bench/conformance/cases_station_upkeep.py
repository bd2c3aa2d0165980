"""Cases with the station under test beyond the core: the local authorization list and reservations.
Run after the core cases on the station's (reconnected) connection, before `cases_station_device`.
Ids as in `cases_station`: OCA ids where confirmed, else `REQ_<reference>_<what>_CS`.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.conformance.peer import Payload
from bench.conformance.registry import DOWN, UP, CsmsSide, call_ok, case, expect, utc_in, versions
from simulators.ocppj.codec import OcppVersion


def _register(version: OcppVersion, ids: dict[str, str]) -> None:
    v16 = version == "1.6"
    key = "listVersion" if v16 else "versionNumber"

    def entry(token: str) -> Payload:
        if v16:
            return {"idTag": token, "idTagInfo": {"status": "Accepted"}}
        return {"idToken": {"idToken": token, "type": "ISO14443"}, "idTokenInfo": {"status": "Accepted"}}

    def send_list(number: int, full: bool, tokens: list[str]) -> Payload:
        payload: Payload = {key: number, "updateType": "Full" if full else "Differential"}
        if tokens:
            payload["localAuthorizationList"] = [entry(t) for t in tokens]
        return payload

    async def list_version(c: CsmsSide) -> int:
        return int((await c.peer.call("GetLocalListVersion", {}))[key])

    if v16:

        @case(
            "TC_042_2_CS",
            version,
            "station",
            "An empty full local list: Accepted, version reads 0",
            ("SendLocalList", DOWN),
            ("GetLocalListVersion", DOWN),
        )
        async def _empty_list(c: CsmsSide) -> None:
            await call_ok(c, "SendLocalList", send_list(1, True, []))
            version_read = await list_version(c)
            expect(version_read == 0, f"an empty list's version reads {version_read}, expected 0")

    @case(
        ids["local_list"],
        version,
        "station",
        "SendLocalList Full then Differential: both Accepted, the version follows",
        ("SendLocalList", DOWN),
        ("GetLocalListVersion", DOWN),
    )
    async def _local_list(c: CsmsSide) -> None:
        """2.0.1 (D01, D02): no confirmed OCTT id, named after the requirements. Also D02
        (GetLocalListVersion) on 2.0.1; a full empty list clears it afterwards."""
        await call_ok(c, "SendLocalList", send_list(1, True, ["CONF-LIST-A"]))
        expect(await list_version(c) == 1, "the version does not read 1 after a full update to 1")
        await call_ok(c, "SendLocalList", send_list(2, False, ["CONF-LIST-B"]))
        expect(await list_version(c) == 2, "the version does not read 2 after a differential update to 2")
        await call_ok(c, "SendLocalList", send_list(1, True, []))

    @case(
        ids["list_mismatch"],
        version,
        "station",
        "A differential local list update that does not move the version forward: VersionMismatch",
        ("SendLocalList", DOWN),
        ("GetLocalListVersion", DOWN),
    )
    async def _list_mismatch(c: CsmsSide) -> None:
        """2.0.1 (D01): no confirmed OCTT id, named after the requirement. Full to 2, differential
        to 5, then differential to 4: refused, the version stays 5."""
        await call_ok(c, "SendLocalList", send_list(2, True, ["CONF-LIST-A"]))
        await call_ok(c, "SendLocalList", send_list(5, False, ["CONF-LIST-B"]))
        expect(await list_version(c) == 5, "the version does not read 5")
        await call_ok(c, "SendLocalList", send_list(4, False, ["CONF-LIST-C"]), "VersionMismatch")
        expect(await list_version(c) == 5, "a refused update changed the version")
        await call_ok(c, "SendLocalList", send_list(1, True, []))

    def reserve(reservation_id: int, connector: int) -> Payload:
        if v16:
            return {
                "connectorId": connector,
                "expiryDate": utc_in(3600),
                "idTag": "CONF-RESERVE",
                "reservationId": reservation_id,
            }
        return {
            "id": reservation_id,
            "expiryDateTime": utc_in(3600),
            "evseId": connector,
            "idToken": {"idToken": "CONF-RESERVE", "type": "ISO14443"},
        }

    def status_of(connector: int, status: str) -> Callable[[Payload], bool]:
        if v16:
            return lambda p: p["connectorId"] == connector and p["status"] == status
        return lambda p: p["evseId"] == connector and p["connectorStatus"] == status

    @case(
        ids["reserve"],
        version,
        "station",
        "ReserveNow on a free connector: Accepted, Reserved reported; "
        "CancelReservation: Accepted, Available again",
        ("ReserveNow", DOWN),
        ("StatusNotification", UP),
        ("CancelReservation", DOWN),
    )
    async def _reserve_cancel(c: CsmsSide) -> None:
        """2.0.1 (H01, H02): no confirmed OCTT id, named after the requirements."""
        since = len(c.peer.calls)
        await call_ok(c, "ReserveNow", reserve(4001, 1))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        since = len(c.peer.calls)
        await call_ok(c, "CancelReservation", {"reservationId": 4001})
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Available"))

    @case(
        ids["reserve_expire"],
        version,
        "station",
        "A reservation not used before its expiry: Reserved, then Available",
        ("ReserveNow", DOWN),
        ("StatusNotification", UP),
        *(() if v16 else (("ReservationStatusUpdate", UP),)),
    )
    async def _reserve_expire(c: CsmsSide) -> None:
        """2.0.1 (H01, and the ReservationStatusUpdate Expired it sends): no confirmed OCTT id, named
        after the requirement. The reservation expires within a second: the case's only wait."""
        since = len(c.peer.calls)
        request = reserve(4004, 1)
        request["expiryDate" if v16 else "expiryDateTime"] = utc_in(1)  # within the next second
        await call_ok(c, "ReserveNow", request)
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Available"))
        if not v16:
            update = await c.peer.expect("ReservationStatusUpdate", since=since)
            expect(
                update.payload == {"reservationId": 4004, "reservationUpdateStatus": "Expired"},
                f"ReservationStatusUpdate {update.payload}",
            )

    start_action = "RemoteStartTransaction" if v16 else "RequestStartTransaction"
    stop_action = "RemoteStopTransaction" if v16 else "RequestStopTransaction"
    started_action = "StartTransaction" if v16 else "TransactionEvent"

    @case(
        ids["reserve_start"],
        version,
        "station",
        "A reserved connector started remotely for its token: the start names the reservation",
        ("ReserveNow", DOWN),
        (start_action, DOWN),
        (started_action, UP),
        (stop_action, DOWN),
    )
    async def _reserve_start(c: CsmsSide) -> None:
        """2.0.1 (block H, using a reservation): no confirmed OCTT id, named after the requirement. The
        transaction is stopped remotely afterwards."""
        since = len(c.peer.calls)
        await call_ok(c, "ReserveNow", reserve(4003, 1))
        await c.peer.expect("StatusNotification", since=since, where=status_of(1, "Reserved"))
        if v16:
            await call_ok(c, start_action, {"connectorId": 1, "idTag": "CONF-RESERVE"})
            call = await c.peer.expect("StartTransaction", since=since)
            transaction = c.peer.answered[call.unique_id]["transactionId"]
        else:
            token = {"idToken": "CONF-RESERVE", "type": "ISO14443"}
            await call_ok(c, start_action, {"evseId": 1, "remoteStartId": 3, "idToken": token})
            call = await c.peer.expect(
                "TransactionEvent", since=since, where=lambda p: p["eventType"] == "Started"
            )
            transaction = call.payload["transactionInfo"]["transactionId"]
        expect(
            call.payload.get("reservationId") == 4003,
            f"the start does not name reservation 4003: {call.payload}",
        )
        await call_ok(c, stop_action, {"transactionId": transaction})

    @case(
        ids["cancel_unknown"],
        version,
        "station",
        "CancelReservation of an unknown reservation: Rejected",
        ("CancelReservation", DOWN),
    )
    async def _cancel_unknown(c: CsmsSide) -> None:
        """2.0.1 (H02): no confirmed OCTT id, named after the requirement."""
        await call_ok(c, "CancelReservation", {"reservationId": 4999}, "Rejected")

    @case(
        ids["reserve_unavailable"],
        version,
        "station",
        "ReserveNow on an unavailable connector: Unavailable",
        ("ChangeAvailability", DOWN),
        ("ReserveNow", DOWN),
    )
    async def _reserve_unavailable(c: CsmsSide) -> None:
        """2.0.1 (H01): no confirmed OCTT id, named after the requirement."""
        inoperative = (
            {"connectorId": 2, "type": "Inoperative"}
            if v16
            else {"operationalStatus": "Inoperative", "evse": {"id": 2}}
        )
        operative = (
            {"connectorId": 2, "type": "Operative"}
            if v16
            else {"operationalStatus": "Operative", "evse": {"id": 2}}
        )
        await call_ok(c, "ChangeAvailability", inoperative)
        try:
            await call_ok(c, "ReserveNow", reserve(4002, 2), "Unavailable")
        finally:
            await call_ok(c, "ChangeAvailability", operative)


# Case ids per version (1.6, 2.0.1) for the cases `_register` defines.
IDS: tuple[dict[str, str], dict[str, str]] = (
    {
        "local_list": "TC_043_CS",
        "list_mismatch": "TC_043_2_CS",
        "reserve": "TC_051_CS",
        "reserve_start": "TC_046_2_CS",
        "reserve_expire": "TC_047_CS",
        "cancel_unknown": "TC_052_CS",
        "reserve_unavailable": "TC_048_3_CS",
    },
    {
        "local_list": "REQ_D01_SendLocalList_CS",
        "list_mismatch": "REQ_D01_VersionMismatch_CS",
        "reserve": "REQ_H01_ReserveNow_CS",
        "reserve_start": "REQ_H_ReservedRemoteStart_CS",
        "reserve_expire": "REQ_H01_ReservationExpiry_CS",
        "cancel_unknown": "REQ_H02_CancelUnknown_CS",
        "reserve_unavailable": "REQ_H01_ReserveUnavailable_CS",
    },
)


def register() -> None:
    """Register this module's cases (bench.conformance.cases calls it, in run order)."""
    for version, ids in zip(versions(), IDS, strict=True):
        _register(version, ids)
