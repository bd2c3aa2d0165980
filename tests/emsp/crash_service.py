"""A minimal served eMSP for the crash test: OCPI over uvicorn, the outbox drained by its worker.

Run as `python crash_service.py DATABASE_URL`; prints `PORT <n>` once listening on 127.0.0.1.
On a fresh database it registers the partner `cpo1` (token C printed as `TOKEN <c>`); on an old one
it just serves it. EMSP_TEST_KILL_AFTER_CDR_COMMIT=<cdr id>: the process SIGKILLs itself right after
that CDR commits, before the response and before any handler ran (the window the outbox closes).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from emsp_helpers import register

from emsp.api import core_thread, create_app
from emsp.bus import CdrReceived
from emsp.core import EmspCore, EmspSettings
from emsp.outbox_worker import OutboxWorker
from emsp.storage.pg_notify import ChangeListener
from emsp.storage.tables import PartnerRow


def _clock() -> datetime:
    return datetime.now(UTC)


def _kill_after_cdr_commit(core: EmspCore, cdr_id: str) -> None:
    committed = core.bus.committed

    def hook(events: Any) -> None:
        events = list(events)
        if any(isinstance(e, CdrReceived) and e.cdr.cdr_id == cdr_id for e in events):
            os.kill(os.getpid(), signal.SIGKILL)
        committed(events)

    core.bus.committed = hook  # type: ignore[method-assign]


async def main(url: str) -> None:
    settings = replace(EmspSettings(), database_url=url, inline_drain=False)
    core = EmspCore(settings)
    with core.db.unit() as db:
        partner = db.get(PartnerRow, "cpo1")
        token = partner.token_c if partner is not None else None
    if token is None:
        token = register(core).token
    if os.environ.get("EMSP_TEST_KILL_AFTER_CDR_COMMIT"):
        _kill_after_cdr_commit(core, os.environ["EMSP_TEST_KILL_AFTER_CDR_COMMIT"])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    thread = core_thread(core)
    app = create_app(core, _clock, core_thread=thread)
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    worker = OutboxWorker(core, _clock, runner=thread.call, idle_seconds=0.05)
    await worker.start()
    if core.db.engine.dialect.name == "postgresql":
        ChangeListener(core.db.engine, core.on_external_change).start()
    print(f"TOKEN {token}\nPORT {sock.getsockname()[1]}", flush=True)
    await server.serve(sockets=[sock])


if __name__ == "__main__":
    import structlog

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")))  # noqa: SIM115
    asyncio.run(main(sys.argv[1]))
