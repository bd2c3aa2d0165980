"""The served process's drain: a background task, woken by commits, off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from emsp_helpers import Client, FakePricer, V, cdr, location, register, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.core_thread import CoreThread
from emsp.outbox_worker import OutboxWorker


def test_the_worker_bills_after_the_answer_on_the_core_thread(tmp_path: Path) -> None:
    settings = replace(EmspSettings(), database_url=f"sqlite:///{tmp_path / 'e.db'}", inline_drain=False)
    core = EmspCore(settings, pricer=FakePricer())
    cpo: Client = register(core)
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())
    assert cpo.call("POST", f"{V}/cdrs", cdr()).status == 201
    assert core.records().invoice_lines == ()  # the answer came first
    thread = CoreThread()

    async def scenario() -> None:
        worker = OutboxWorker(core, lambda: cpo.now, runner=thread.call, idle_seconds=0.01)
        await worker.start()
        try:
            for _ in range(500):
                if core.records().invoice_lines:
                    break
                await asyncio.sleep(0.01)  # the loop is free while the worker drains
        finally:
            await worker.stop()

    try:
        asyncio.run(scenario())
    finally:
        thread.close()
    assert [line.cdr_id for line in core.records().invoice_lines] == ["CDR1"]
    assert all(e.state == "done" for e in core.events_after(0, 100))
    assert core.bus.wakeup is None  # stopped: no doorbell left behind
    core.db.engine.dispose()
