"""The registry of conformance cases and what every case works with: the bench's side of the
connection (`StationSide` when the CSMS is under test, `CsmsSide` when the station is) and the
`case` decorator that registers a case with its id, role, title and the messages it exchanges.

Case modules (`cases_csms`, `cases_station`, `cases_station_upkeep`) register at import;
`bench.conformance.cases` imports them all in their run order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

    @property
    def v16(self) -> bool:
        return self.peer.version == "1.6"

    async def boot(self) -> Payload:
        payload: Payload
        if self.v16:
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

    async def status(self, state: str, connector: int = 1, error: str = "NoError") -> None:
        if self.v16:
            await self.peer.call(
                "StatusNotification",
                {"connectorId": connector, "errorCode": error, "status": state, "timestamp": now_text()},
            )
        else:
            await self.peer.call(
                "StatusNotification",
                {"timestamp": now_text(), "connectorStatus": state, "evseId": connector, "connectorId": 1},
            )

    def id_token(self, token: str) -> Payload:
        return {"idTag": token} if self.v16 else {"idToken": {"idToken": token, "type": "ISO14443"}}

    async def authorize(self, token: str) -> str:
        answer = await self.peer.call("Authorize", self.id_token(token))
        return str(answer["idTagInfo" if self.v16 else "idTokenInfo"]["status"])


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

    @property
    def note(self) -> str:
        """The case function's docstring: what of the official case it leaves out, or why it is
        named after a requirement (REQ_...) rather than an OCA test-case id."""
        return " ".join((self.run.__doc__ or "").split())


CASES: list[Case] = []


Register = Callable[[Callable[[Any], Awaitable[None]]], Callable[[Any], Awaitable[None]]]


def case(case_id: str, version: OcppVersion, sut: Sut, title: str, *messages: tuple[str, str]) -> Register:
    def register(fn: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        CASES.append(Case(case_id, version, sut, title, messages, fn))
        return fn

    return register


def cases_for(version: str, sut: str) -> list[Case]:
    return [c for c in CASES if c.version == version and c.sut == sut]


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailed(message)


async def call_ok(c: CsmsSide, action: str, payload: Payload, expected: str = "Accepted") -> Payload:
    """CALL the station under test; CaseFailed unless its answer's status is `expected`."""
    answer = await c.peer.call(action, payload)
    expect(answer.get("status") == expected, f"{action} answered {answer.get('status')}, expected {expected}")
    return answer


def utc_in(seconds: int) -> str:
    """An OCPP date-time `seconds` from now (whole seconds, UTC)."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def versions() -> tuple[OcppVersion, OcppVersion]:
    return ("1.6", "2.0.1")
