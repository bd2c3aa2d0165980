"""The served eMSP's outbound pump: a fault of the core with one answer is logged, with the call's
partner and correlation id, and the pump goes on sending (before, it vanished with the call's task)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from emsp.core_thread import CoreThread
from emsp.service.run import pump_outbound
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest

NOW = datetime(2026, 3, 2, 7, tzinfo=UTC)


def _outbound(n: int) -> OutboundRequest:
    # An unparsable URL: the sender answers 599 at once, no network needed.
    headers = {"X-Request-ID": f"emsp-out-{n}", "X-Correlation-ID": f"emsp-out-{n}"}
    return OutboundRequest(f"emsp-out-{n}", "cpo-a", HttpRequest("PUT", f"http://[::1/tokens/{n}", headers))


class FaultyCore:
    """The part of EmspCore the pump calls; the answer to the first call raises."""

    def __init__(self) -> None:
        self.outbox = [_outbound(1)]
        self.answered: list[str] = []

    def next_deadline(self) -> datetime | None:
        return None

    def pending_requests(self) -> list[OutboundRequest]:
        out, self.outbox = self.outbox, []
        return out

    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> None:
        self.answered.append(request_id)
        if request_id == "emsp-out-1":
            raise RuntimeError("the core tripped over this answer")

    def expire_overdue(self, now: datetime) -> None:
        return None


def test_a_fault_with_one_answer_is_logged_and_the_pump_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    core, thread = FaultyCore(), CoreThread()

    async def scenario() -> None:
        pump = asyncio.ensure_future(pump_outbound(core, lambda: NOW, thread))  # type: ignore[arg-type]
        try:
            while core.answered != ["emsp-out-1"]:
                await asyncio.sleep(0.005)
            await thread.call(core.outbox.append, _outbound(2))  # queued after the fault
            async with asyncio.timeout(5):
                while core.answered != ["emsp-out-1", "emsp-out-2"]:
                    await asyncio.sleep(0.005)
        finally:
            pump.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pump

    caplog.set_level(logging.WARNING, logger="emsp.service.run")
    try:
        asyncio.run(scenario())
    finally:
        thread.close()
    [fault] = [
        r for r in caplog.records if r.exc_info is not None and "could not be handled" in r.getMessage()
    ]
    assert fault.levelno == logging.ERROR
    assert "partner cpo-a" in fault.getMessage() and "X-Correlation-ID emsp-out-1" in fault.getMessage()
    assert "the core tripped over this answer" in str(fault.exc_info[1] if fault.exc_info else "")
