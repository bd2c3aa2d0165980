"""In-memory station <-> CSMS pair (wsproto-style tests: no sockets, no clock).

Every frame that crosses is re-validated with an independent validator, the `ocpp` package's own
jsonschema Draft4 validators over the official schemas, so the codec under test does not grade itself.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ocpp.messages import get_validator

from simulators.cpo.csms import CallAnswered, Csms, CsmsOutput
from simulators.cpo.events import AuthorizationRequested, CsmsEvent
from simulators.station.base import VirtualStation
from simulators.station.physics import EvProfile


@dataclass(frozen=True)
class Crossing:
    at: datetime
    src: str
    dst: str
    frame: str


# The 1.6 schemas the ocpp package validates with Decimal floats (their multipleOf 0.1). Its validator
# cache ignores parse_float: a float-parsed one cached here would make the package's own charger (in
# test_serve_csms) refuse a valid 3700.5 W limit later in the same worker. Parse these as it does.
_DECIMAL_16 = {(2, "SetChargingProfile"), (2, "RemoteStartTransaction"), (3, "GetCompositeSchedule")}


class SchemaChecker:
    """Tracks CALL ids per direction so CALLRESULTs can be checked against the response schema."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.pending: dict[tuple[str, str], str] = {}  # (caller, unique id) -> action

    def check(self, src: str, dst: str, frame: str) -> None:
        message = json.loads(frame)
        kind, uid = message[0], message[1]
        if kind == 2:
            self._validate(2, message[2], frame, 3)
            self.pending[(src, uid)] = message[2]
        elif kind == 3:
            action = self.pending.pop((dst, uid))
            self._validate(3, action, frame, 2)
        else:
            assert kind == 4 and len(message) == 5, frame
            self.pending.pop((dst, uid), None)

    def _validate(self, kind: int, action: str, frame: str, payload_at: int) -> None:
        if self.version == "1.6" and (kind, action) in _DECIMAL_16:
            validator = get_validator(kind, action, self.version, parse_float=Decimal)
            validator.validate(json.loads(frame, parse_float=Decimal)[payload_at])
        else:
            get_validator(kind, action, self.version).validate(json.loads(frame)[payload_at])


@dataclass
class Pair:
    station: VirtualStation
    csms: Csms
    policy: Callable[[str], bool] = lambda token: True
    trace: list[Crossing] = field(default_factory=list)
    events: list[CsmsEvent] = field(default_factory=list)
    auto_authorize: bool = True
    held: list[AuthorizationRequested] = field(default_factory=list)
    answers: list[CallAnswered] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.checker = SchemaChecker(self.station.version)

    @property
    def sid(self) -> str:
        return self.station.station_id

    def connect(self, now: datetime) -> None:
        self._take(self.csms.on_connected(self.sid, self.station.version, now), now)
        self.pump(self.station.on_connected(now), now)

    def pump(self, up: list[str], now: datetime) -> None:
        """Deliver frames both ways (zero latency) until nobody has anything to send."""
        queue: deque[tuple[str, str]] = deque(("up", f) for f in up)
        while queue:
            direction, frame = queue.popleft()
            if direction == "up":
                self._record(now, self.sid, self.csms.cpo_id, frame)
                output = self.csms.on_frame(self.sid, frame, now)
                queue.extend(("down", f) for f in self._take(output, now))
            else:
                self._record(now, self.csms.cpo_id, self.sid, frame)
                queue.extend(("up", f) for f in self.station.on_frame(frame, now))

    def _take(self, output: CsmsOutput, now: datetime) -> list[str]:
        frames = [f for sid, f in output.frames if sid == self.sid]
        self.events.extend(output.events)
        self.answers.extend(output.answers)
        for event in output.events:
            if isinstance(event, AuthorizationRequested):
                if self.auto_authorize:
                    frames += self._take(
                        self.csms.on_authorization(event.ref, self.policy(event.token_uid), now), now
                    )
                else:
                    self.held.append(event)
        return frames

    def decide(self, event: AuthorizationRequested, accepted: bool, now: datetime) -> None:
        self._down(self._take(self.csms.on_authorization(event.ref, accepted, now), now), now)

    def command(self, action: str, payload: dict[str, Any], now: datetime) -> CallAnswered:
        """Send a CSMS-initiated CALL and deliver everything that follows; the station's answer."""
        self.run_until(now)
        ref, output = self.csms.call(self.sid, action, payload, now)
        self._down(self._take(output, now), now)
        [answer] = [a for a in self.answers if a.ref == ref]
        return answer

    def _down(self, frames: list[str], now: datetime) -> None:
        for frame in frames:
            self._record(now, self.csms.cpo_id, self.sid, frame)
            self.pump(self.station.on_frame(frame, now), now)

    def _record(self, at: datetime, src: str, dst: str, frame: str) -> None:
        self.checker.check(src, dst, frame)
        self.trace.append(Crossing(at, src, dst, frame))

    def run_until(self, until: datetime) -> None:
        while (wake := self.station.next_wakeup()) is not None and wake <= until:
            self.pump(self.station.on_wakeup(wake), wake)

    def plug_in(self, connector_id: int, token: str, ev: EvProfile, now: datetime) -> None:
        self.run_until(now)
        self.pump(self.station.plug_in(connector_id, token_uid=token, ev=ev, now=now), now)

    def unplug(self, connector_id: int, now: datetime) -> None:
        self.run_until(now)
        self.pump(self.station.unplug(connector_id, now), now)

    def frames(self, action: str | None = None) -> list[list[Any]]:
        """Parsed CALL frames sent by the station (optionally of one action)."""
        calls = [json.loads(c.frame) for c in self.trace if c.src == self.sid]
        return [m for m in calls if m[0] == 2 and (action is None or m[2] == action)]
