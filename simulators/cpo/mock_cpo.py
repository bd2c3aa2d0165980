"""A mock CPO: an OCPP CSMS for its stations plus the OCPI CPO role toward the eMSP, in one box.

Both halves are sans-IO; this class only wires CSMS events into the OCPI role and the OCPI role's
authorization decisions back into the CSMS. Runtimes talk to it through four inputs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest
from simulators.cpo.commands import CommandAction, ocpp_call, result_of
from simulators.cpo.csms import CallAnswered, Csms, CsmsOutput
from simulators.cpo.ocpi_cpo import CpoOutput, OcpiCpo
from simulators.ocppj import OcppVersion

_log = structlog.get_logger("simulators.cpo")


@dataclass(slots=True)
class MockCpoOutput:
    frames: list[tuple[str, str]] = field(default_factory=list)  # (station id, OCPP-J text)
    requests: list[OutboundRequest] = field(default_factory=list)


class MockCpo:
    def __init__(self, csms: Csms, ocpi: OcpiCpo) -> None:
        self.cpo_id = ocpi.cpo_id
        self.csms = csms
        self.ocpi = ocpi
        # Answers to the CALLs the scenario had the CSMS send (`ocpp_call` events), in order.
        self.call_answers: list[CallAnswered] = []
        self._scenario_calls: set[str] = set()
        # OCPI commands carried out by stations: the CSMS call's ref -> the command (commands.py)
        self._commands: dict[str, CommandAction] = {}
        self._held = MockCpoOutput()  # what serving a request caused (take_output)
        ocpi.commands.can_carry_out = self._can_carry_out

    def start(self, now: datetime) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.start(now), now)

    def on_station_connected(self, station_id: str, version: OcppVersion, now: datetime) -> MockCpoOutput:
        return self._from_csms(self.csms.on_connected(station_id, version, now), now, station_id)

    def on_station_frame(self, station_id: str, text: str, now: datetime) -> MockCpoOutput:
        return self._from_csms(self.csms.on_frame(station_id, text, now), now, station_id)

    def on_ocpi_response(self, request_id: str, response: HttpResponse, now: datetime) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.on_response(request_id, response, now), now)

    # -- the scenario timeline (bench/events.py) --------------------------------------------------
    def publish_tariff(
        self, old_id: str, new_id: str, tariff: Mapping[str, Any], policy: str, now: datetime
    ) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.publish_tariff(old_id, new_id, tariff, policy, now), now)

    def hold_cdrs(self, now: datetime) -> MockCpoOutput:
        self.ocpi.hold_cdrs()
        return MockCpoOutput()

    def release_cdrs(
        self, now: datetime, *, duplicate: float = 0.0, late: float = 0.0, rng: random.Random | None = None
    ) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.release_cdrs(now, duplicate=duplicate, late=late, rng=rng), now)

    def correct_cdrs(self, now: datetime, *, share: float, rng: random.Random) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.correct_cdrs(now, share=share, rng=rng), now)

    def csms_call(
        self, station_id: str, action: str, payload: Mapping[str, Any], now: datetime
    ) -> MockCpoOutput:
        """The CSMS sends a CALL of the scenario's timeline (`ocpp_call`); its answer is kept."""
        ref, output = self.csms.call(station_id, action, dict(payload), now)
        self._scenario_calls.add(ref)
        return self._from_csms(output, now, station_id)

    def on_ocpi_unreachable(self, request_id: str, now: datetime) -> MockCpoOutput:
        """A request of ours found the eMSP unreachable (connection refused); it will be retried."""
        return self._from_ocpi(self.ocpi.on_unreachable(request_id, now), now)

    def on_ocpi_lost(self, request_id: str, now: datetime) -> MockCpoOutput:
        """The connection broke before the answer to a request of ours came; it will be retried."""
        return self._from_ocpi(self.ocpi.on_lost(request_id, now), now)

    def next_wakeup(self) -> datetime | None:
        """When the OCPI side wants `on_wakeup` (a retry after backoff); None: nothing scheduled."""
        return self.ocpi.next_wakeup()

    def on_wakeup(self, now: datetime) -> MockCpoOutput:
        return self._from_ocpi(self.ocpi.on_wakeup(now), now)

    def handle_ocpi(self, request: HttpRequest, now: datetime) -> HttpResponse:
        """Serve the CPO's own endpoints. What it causes (an OCPI command's OCPP call) waits in
        `take_output()`, which the runtime sends right after the response."""
        response = self.ocpi.handle(request, now)
        for action in self.ocpi.commands.take():
            version = self.csms.version_of(action.station_id)
            call = ocpp_call(action, version) if version is not None else None
            if call is None:  # pragma: no cover - receive() refused such a command (_can_carry_out)
                continue
            ref, output = self.csms.call(action.station_id, *call, now)
            self._commands[ref] = action
            more = self._from_csms(output, now, action.station_id)
            self._held.frames.extend(more.frames)
            self._held.requests.extend(more.requests)
        return response

    def _can_carry_out(self, action: CommandAction) -> bool:
        version = self.csms.version_of(action.station_id)
        return version is not None and ocpp_call(action, version) is not None

    def take_output(self) -> MockCpoOutput:
        out, self._held = self._held, MockCpoOutput()
        return out

    def _from_csms(self, output: CsmsOutput, now: datetime, station_id: str) -> MockCpoOutput:
        result = MockCpoOutput(frames=output.frames)  # a fresh list of on_frame's, used only here
        if output.notes or output.invalid:
            self._log_notes(output, now, station_id)
        if output.answers or output.events:  # most frames (heartbeats, acks) cause nothing on the OCPI side
            self._csms_effects(result, output, now)
        return result

    def _log_notes(self, output: CsmsOutput, now: datetime, station: str) -> None:
        """What the CSMS refused, ignored or took up from a station's imperfect messages (a repeat,
        a transaction whose start it never saw): in the run's log, as serve csms logs it, so a
        run's user sees what the CPO made of them. `at`: the run's time, not the wall clock."""
        at = format_utc(now)
        for reason in output.invalid:
            _log.warning(
                "invalid frame from station", cpo_id=self.cpo_id, station_id=station, reason=reason, at=at
            )
        for note in output.notes:
            _log.warning("csms note", cpo_id=self.cpo_id, station_id=station, note=note, at=at)

    def _from_ocpi(self, output: CpoOutput, now: datetime) -> MockCpoOutput:
        result = MockCpoOutput()
        self._add_ocpi(result, output, now)
        return result

    # What an output causes is added to the one MockCpoOutput of the input, in order: no
    # intermediate output per event or decision.
    def _csms_effects(self, into: MockCpoOutput, output: CsmsOutput, now: datetime) -> None:
        """The OCPI side of a CSMS output (its frames are in `into` already)."""
        self.call_answers.extend(a for a in output.answers if a.ref in self._scenario_calls)
        for answer in output.answers:
            action = self._commands.pop(answer.ref, None)
            if action is not None:
                outcome = result_of(action.kind, answer.payload, answer.error)
                sent = self.ocpi.commands.answered(action, outcome, now)
                into.requests.extend(self.ocpi.gate(sent.requests))
        for event in output.events:
            self._add_ocpi(into, self.ocpi.on_event(event, now), now)

    def _add_ocpi(self, into: MockCpoOutput, output: CpoOutput, now: datetime) -> None:
        into.requests.extend(self.ocpi.gate(output.requests))
        for decision in output.decisions:
            answer = self.csms.on_authorization(decision.ref, decision.accepted, now)
            into.frames.extend(answer.frames)
            if answer.answers or answer.events:
                self._csms_effects(into, answer, now)
