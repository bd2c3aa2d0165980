"""One side of an OCPP-J connection, sans-IO: message ids, pending calls, one CALL in flight.

OCPP-J 1.6 §4.1.1 ("Synchronicity") and OCPP 2.0.1 part 4 §4.1.1: a party SHOULD (2.0.1: SHALL) NOT send
a CALL unless all CALLs it sent before have been answered or have timed out. So calls are queued here
and released one by one by `drain()` once the outstanding one is answered. The limit is per direction:
receiving a CALL never blocks sending one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from simulators.ocppj.codec import Call, FrameError, Message, OcppVersion, Payload, codec

Tag = int | str | None
# A payload, or a function building it when the call is actually sent (so it can use answers to
# earlier calls, e.g. the 1.6 transactionId); a factory returning None drops the call.
PayloadSource = Payload | Callable[[], Payload | None]

_ID_PREFIX_MAX = 24  # leaves room for "-<counter>" within the 36-char message id limit


@dataclass(slots=True)  # not frozen: one per frame, and a frozen init costs a setattr per field
class Incoming:
    """What a received frame means to the owner of the endpoint (read it; nothing keeps it)."""

    message: Message | None  # None when the frame was invalid
    answered: Call | None = None  # our CALL that this CALLRESULT/CALLERROR answers
    tag: Tag = None  # the tag given with that CALL
    error: FrameError | None = None  # the peer sent an invalid frame
    replies: tuple[str, ...] = ()  # frames to send now (a CALLERROR answering an invalid CALL)


@dataclass(slots=True)  # not frozen: one per CALL, private to the endpoint, never changed
class _Queued:
    action: str
    source: PayloadSource
    tag: Tag


class Endpoint:
    def __init__(self, endpoint_id: str, version: OcppVersion) -> None:
        self.endpoint_id = endpoint_id
        self.version: OcppVersion = version
        self.codec = codec(version)
        self._prefix = endpoint_id[-_ID_PREFIX_MAX:]
        self._counter = 0
        # A list, not a deque: an empty deque holds a 64-slot block (~0.7 KiB) and the live runtime
        # holds two endpoints per station, their queues nearly always empty (a few CALLs at most;
        # a long offline window queues dozens, still cheap to shift).
        self._queue: list[_Queued] = []
        self._in_flight: tuple[Call, Tag] | None = None
        self.sent_at: datetime | None = None  # when the CALL in flight went out (if drain was told)
        self.inbound: dict[str, str] = {}  # peer CALLs not answered yet: id -> action

    @property
    def in_flight(self) -> Call | None:
        return self._in_flight[0] if self._in_flight else None

    @property
    def queued(self) -> int:
        return len(self._queue)

    def call(self, action: str, payload: PayloadSource, *, tag: Tag = None, first: bool = False) -> None:
        """Queue a CALL (`first`: ahead of the others, e.g. a retry); `drain()` sends it when the line
        is free."""
        item = _Queued(action, payload, tag)
        if first:
            self._queue.insert(0, item)
        else:
            self._queue.append(item)

    def promote(self, action: str) -> None:
        """Move the first queued CALL of `action` to the front (a BootNotification after a reboot)."""
        for item in self._queue:
            if item.action == action:
                self._queue.remove(item)
                self._queue.insert(0, item)
                return

    def queued_actions(self) -> list[str]:
        return [item.action for item in self._queue]

    def expire(self) -> tuple[Call, Tag] | None:
        """Give up on the CALL in flight (its timeout passed): the line is free again, and a late
        answer to it is dropped as an answer to no pending CALL. Returns that CALL and its tag."""
        expired, self._in_flight, self.sent_at = self._in_flight, None, None
        return expired

    def reset(self) -> None:
        """A new OCPP-J session (reboot, reconnect): nothing in flight, no peer CALL to answer."""
        self._in_flight, self.sent_at = None, None
        self.inbound.clear()

    def drain(self, now: datetime | None = None) -> list[str]:
        """The next CALL frame, if the line is free (at most one; the rest wait for its answer).
        `now` stamps it for the caller's timeout."""
        while self._in_flight is None and self._queue:
            item = self._queue.pop(0)
            payload = item.source() if callable(item.source) else item.source
            if payload is None:
                continue
            self._counter += 1
            unique_id = f"{self._prefix}-{self._counter}"
            frame = self.codec.encode_call(unique_id, item.action, payload)
            self._in_flight = (Call(unique_id, item.action, payload), item.tag)
            self.sent_at = now
            return [frame]
        return []

    def receive(self, text: str) -> Incoming:
        pending = {self._in_flight[0].unique_id: self._in_flight[0].action} if self._in_flight else {}
        try:
            message = self.codec.decode(text, pending=pending)
        except FrameError as exc:
            return self._invalid(exc)
        if isinstance(message, Call):
            self.inbound[message.unique_id] = message.action
            return Incoming(message)
        if self._in_flight is None or self._in_flight[0].unique_id != message.unique_id:
            # A stray CALLERROR (a stray CALLRESULT already failed in decode): drop it, report it.
            error = FrameError(
                self.codec.codes["rpc"], "answer to no pending CALL", message.unique_id, reply=False
            )
            return Incoming(None, error=error)
        call, tag = self._in_flight
        self._in_flight, self.sent_at = None, None
        return Incoming(message, answered=call, tag=tag)

    def reply(self, unique_id: str, payload: Payload) -> str:
        action = self.inbound.pop(unique_id)
        return self.codec.encode_result(unique_id, action, payload)

    def reply_error(self, unique_id: str, code: str, description: str, details: Payload | None = None) -> str:
        self.inbound.pop(unique_id, None)
        return self.codec.encode_error(unique_id, code, description, details)

    def _invalid(self, exc: FrameError) -> Incoming:
        in_flight = self._in_flight
        if not exc.reply and in_flight and exc.unique_id == in_flight[0].unique_id:
            # An invalid answer to our CALL still ends that exchange, or the line would stay blocked.
            self._in_flight, self.sent_at = None, None
            return Incoming(None, answered=in_flight[0], tag=in_flight[1], error=exc)
        frame = self.codec.answer_invalid(exc)
        return Incoming(None, error=exc, replies=() if frame is None else (frame,))
