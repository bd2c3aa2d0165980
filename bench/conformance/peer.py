"""One OCPP-J connection for the conformance cases, either side: send CALLs and await their answers,
record the peer's CALLs and (playing the CSMS) answer the routine ones at once. Every frame both
ways is validated against the version's JSON schemas (simulators/ocppj codec): a peer's invalid frame
fails the case that meets it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from simulators.ocppj.codec import Call, CallError, CallResult, FrameError, OcppVersion, codec

Payload = dict[str, Any]


class CaseFailed(AssertionError):
    """What the system under test did wrong (a JUnit <failure>)."""


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csms_answers(version: OcppVersion, peer: Peer) -> dict[str, Callable[[Payload], Payload]]:
    """What the bench, playing the CSMS, answers a station's routine CALLs with."""
    boot = lambda p: {"currentTime": now_text(), "interval": 300, "status": "Accepted"}  # noqa: E731
    common: dict[str, Callable[[Payload], Payload]] = {
        "BootNotification": boot,
        "Heartbeat": lambda p: {"currentTime": now_text()},
        "StatusNotification": lambda p: {},
        "MeterValues": lambda p: {},
        "DataTransfer": lambda p: {"status": "UnknownVendorId"},
        "FirmwareStatusNotification": lambda p: {},
        "SecurityEventNotification": lambda p: {},
        "LogStatusNotification": lambda p: {},
        # The case that triggered the request signs it and sends CertificateSigned itself.
        "SignCertificate": lambda p: {"status": "Accepted"},
    }
    if version == "1.6":
        return common | {
            "Authorize": lambda p: {"idTagInfo": {"status": "Accepted"}},
            "StartTransaction": lambda p: {
                "transactionId": peer.next_transaction(),
                "idTagInfo": {"status": "Accepted"},
            },
            "StopTransaction": lambda p: {},
            "DiagnosticsStatusNotification": lambda p: {},
            "SignedFirmwareStatusNotification": lambda p: {},
        }
    return common | {
        "Authorize": lambda p: {"idTokenInfo": {"status": "Accepted"}},
        "TransactionEvent": lambda p: {"idTokenInfo": {"status": "Accepted"}} if "idToken" in p else {},
        "NotifyReport": lambda p: {},
        "NotifyEvent": lambda p: {},
        "ReportChargingProfiles": lambda p: {},
        "NotifyChargingLimit": lambda p: {},
        "ReservationStatusUpdate": lambda p: {},
    }


def _station_answers(version: OcppVersion, peer: Peer) -> dict[str, Callable[[Payload], Payload]]:
    """What the bench, playing a station, answers the CSMS's CALLs with: a local list it keeps (so a
    CSMS may push one, 1.6 §5.15 / 2.0.1 D01) and the certificate it asked to have signed (accepted
    as it comes); anything else is refused (NotSupported)."""

    def send(p: Payload) -> Payload:
        peer.local_list_version = int(p["listVersion" if version == "1.6" else "versionNumber"])
        return {"status": "Accepted"}

    key = "listVersion" if version == "1.6" else "versionNumber"
    return {
        "SendLocalList": send,
        "GetLocalListVersion": lambda p: {key: peer.local_list_version},
        "CertificateSigned": lambda p: {"status": "Accepted"},
    }


class Peer:
    """`plays`: "csms" answers the station's routine CALLs; "station" keeps a local list the CSMS
    may push and refuses the CSMS's other CALLs (NotSupported): the conformance station only sends."""

    def __init__(self, ws: Connection, version: OcppVersion, *, plays: str, prefix: str = "b") -> None:
        self.ws, self.version, self.plays = ws, version, plays
        self.codec = codec(version)
        self.calls: list[Call] = []  # the peer's CALLs, in order
        self.answered: dict[str, Payload] = {}  # our answer to each, by unique id
        self.failures: list[str] = []  # frames of the peer that broke the protocol
        self._pending: dict[str, tuple[str, asyncio.Future[CallResult | CallError]]] = {}
        self._ids = (f"{prefix}{n}" for n in itertools.count(1))
        self._arrived = asyncio.Event()
        self._transactions = itertools.count(1)
        self.local_list_version = 0
        self._answers = (_csms_answers if plays == "csms" else _station_answers)(version, self)
        self._reader = asyncio.ensure_future(self._read())

    def next_transaction(self) -> int:
        return next(self._transactions)

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def call(self, action: str, payload: Payload, *, timeout: float = 15) -> Payload:
        """Send a CALL; its CALLRESULT payload (schema-valid), or CaseFailed on a CALLERROR/timeout."""
        unique_id = next(self._ids)
        frame = self.codec.encode_call(unique_id, action, payload)
        future: asyncio.Future[CallResult | CallError] = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = (action, future)
        await self.ws.send(frame)
        try:
            answer = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise CaseFailed(f"{action}: no answer in {timeout:g} s") from None
        finally:
            self._pending.pop(unique_id, None)
        if isinstance(answer, CallError):
            raise CaseFailed(f"{action}: CALLERROR {answer.error_code} {answer.error_description!r}")
        return dict(answer.payload)

    async def expect(self, action: str, *, since: int = 0, timeout: float = 15,
                     where: Callable[[Payload], bool] = lambda p: True) -> Call:  # fmt: skip
        """The first CALL `action` of the peer at index >= `since` that satisfies `where`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for call in self.calls[since:]:
                if call.action == action and where(dict(call.payload)):
                    return call
            if self.failures:
                raise CaseFailed(self.failures[0])
            left = deadline - loop.time()
            if left <= 0 or self.closed:
                raise CaseFailed(f"expected a {action} from the peer, none came in {timeout:g} s")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.ws:
                if not isinstance(text, str):
                    self.failures.append("a binary WebSocket frame (OCPP-J is text)")
                    self._fail_pending(self.failures[-1])
                    continue
                await self._on_frame(text)
        self._fail_pending("the peer closed the connection before it answered")
        self._arrived.set()

    def _fail_pending(self, reason: str, unique_id: str | None = None) -> None:
        """Fail our CALLs awaiting an answer (the one of `unique_id`; all when it is None) at once:
        the case reports `reason` instead of waiting out its timeout."""
        for uid, (action, future) in self._pending.items():
            if (unique_id is None or uid == unique_id) and not future.done():
                future.set_exception(CaseFailed(f"{action}: {reason}"))

    async def _on_frame(self, text: str) -> None:
        pending = {uid: action for uid, (action, _) in self._pending.items()}
        try:
            message = self.codec.decode(text, pending=pending)
        except FrameError as exc:
            failure = f"invalid frame from the peer ({exc.error_code}): {exc.description}"
            self.failures.append(failure)
            if exc.unique_id is None or exc.unique_id in self._pending:
                # An answer to our CALL, or a frame too broken to tell: it is all the peer answered.
                self._fail_pending(failure, exc.unique_id)
            reply = self.codec.answer_invalid(exc)  # as the mock CSMS and the station answer it
            if reply is not None:
                await self.ws.send(reply)
            self._arrived.set()
            return
        if isinstance(message, Call):
            self.calls.append(message)
            answer = self._answers.get(message.action)
            if answer is None:
                refusal = self.codec.encode_error(
                    message.unique_id, "NotSupported", "not in the conformance harness"
                )
                await self.ws.send(refusal)
            else:
                payload = answer(dict(message.payload))
                self.answered[message.unique_id] = payload
                await self.ws.send(self.codec.encode_result(message.unique_id, message.action, payload))
            self._arrived.set()
        else:
            entry = self._pending.get(message.unique_id)
            if entry is not None and not entry[1].done():
                entry[1].set_result(message)
