"""An inline deferred wait looks again when the party it waits on was called, not every 5 ms."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from emsp.api import await_deferred
from emsp.pulse import Pulse
from emsp.wire import HttpResponse

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ANSWER = HttpResponse(status=200, headers={}, body="{}")


class _Party:
    """A deferred answer that shows up when told; counts how often it was looked for."""

    def __init__(self) -> None:
        self.looks = 0
        self.answer: HttpResponse | None = None
        self.aborted: list[str] = []

    def take_response(self, deferred_id: str) -> HttpResponse | None:
        self.looks += 1
        return self.answer

    def abort_deferred(self, deferred_id: str, now: datetime, reason: str = "") -> None:
        self.aborted.append(reason)
        self.answer = HttpResponse(status=200, headers={}, body="aborted")


def test_a_pulsed_wait_looks_once_per_pulse_and_takes_the_answer_at_once() -> None:
    async def scenario() -> tuple[HttpResponse, int, float]:
        party, pulse, loop = _Party(), Pulse(), asyncio.get_running_loop()
        waiter = asyncio.ensure_future(await_deferred(party, "d1", lambda: NOW, 5.0, pulse=pulse))
        await asyncio.sleep(0.3)  # nothing happens to the party: the waiter must not spin
        looks_while_idle = party.looks
        party.answer = ANSWER
        pulsed_at = loop.time()
        pulse.pulse()
        resp = await waiter
        return resp, looks_while_idle, loop.time() - pulsed_at

    resp, looks_while_idle, took = asyncio.run(scenario())
    assert resp is ANSWER
    assert looks_while_idle == 1  # polling every 5 ms looked ~60 times in 0.3 s
    assert took < 0.1


def test_a_pulsed_wait_still_gives_up_at_its_timeout() -> None:
    party = _Party()
    resp = asyncio.run(await_deferred(party, "d1", lambda: NOW, 0.2, pulse=Pulse()))
    assert resp.body == "aborted"
    assert party.aborted == ["no answer within 0.2 s"]


def test_one_waiter_timing_out_does_not_cancel_the_others() -> None:
    async def scenario() -> tuple[bool, bool]:
        pulse = Pulse()
        short = asyncio.ensure_future(pulse.wait(0.05))
        long = asyncio.ensure_future(pulse.wait(5.0))
        timed_out = not await short
        pulse.pulse()
        return timed_out, await long

    assert asyncio.run(scenario()) == (True, True)
