"""Credentials handshakes in flight, in the sans-IO core: each waits on the partner's answers.

Inbound (a partner's credentials POST/PUT) the request's response is deferred: `handle()` answered
`Deferred`, and the final `HttpResponse` appears in `completed` when the handshake ends. Outbound
(we register with a partner) the result appears in `outcomes`. A partner that never answers is
failed with 3001 by `expire_overdue(now)` once `timeout` has passed (runtimes call it at
`next_deadline()`), or by `abort()` when a runtime gives up on its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from emsp.ocpi.envelope import MISSING, OcpiResult
from emsp.ocpi.errors import HTTP_STATUS, OcpiError
from emsp.ocpi.handshake import Fetched, Handshake, NoUsableAnswer
from emsp.storage.db import Database
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest

PURPOSE = "handshake:"  # queue_outbound purpose prefix, followed by the run id
# What a client whose versions/details we could not fetch is told: the same whether nothing
# listened, nothing answered in time or something answered HTTP. Otherwise any token A holder could
# map which internal addresses and ports answer (the log keeps the detail for the operator).
NOT_FETCHED = "could not use the client's versions or details: no answer, or none usable"

Complete = Callable[[Session, Fetched, datetime], OcpiResult]
Finish = Callable[[OcpiResult, datetime], HttpResponse]


class _Host(Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def log(self) -> Any: ...
    def queue_outbound(
        self, db: Session, partner: str, request: HttpRequest, purpose: str
    ) -> OutboundRequest: ...


@dataclass(frozen=True)
class RegistrationOutcome:
    """How a registration we started ended: registered, or the OCPI status code and why not."""

    registered: bool
    status_code: int
    message: str


@dataclass
class _Run:
    run_id: str
    partner_id: str
    handshake: Handshake
    complete: Complete
    deadline: datetime
    finish: Finish | None  # inbound: builds the deferred response
    on_fail: Callable[[Session], None] | None  # outbound: forget what we offered the partner


class Handshakes:
    def __init__(self, host: _Host, timeout: timedelta) -> None:
        self._host = host
        self._timeout = timeout
        self._runs: dict[str, _Run] = {}
        self.completed: dict[str, HttpResponse] = {}  # deferred id -> final response, in finishing order
        self.outcomes: dict[str, RegistrationOutcome] = {}

    def start(
        self,
        run_id: str,
        partner_id: str,
        handshake: Handshake,
        complete: Complete,
        now: datetime,
        *,
        finish: Finish | None = None,
        on_fail: Callable[[Session], None] | None = None,
    ) -> None:
        run = _Run(run_id, partner_id, handshake, complete, now + self._timeout, finish, on_fail)
        self._runs[run_id] = run
        self._host.log.info("handshake_started", partner=partner_id, run=run_id)
        self._send(run, handshake.start())

    def pending_for(self, partner_id: str) -> bool:
        return any(run.partner_id == partner_id for run in self._runs.values())

    def next_deadline(self) -> datetime | None:
        return min((run.deadline for run in self._runs.values()), default=None)

    def on_response(self, run_id: str, response: HttpResponse, now: datetime) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return  # already finished (timed out or aborted): a late answer changes nothing
        try:
            step = run.handshake.on_response(response)
            if isinstance(step, HttpRequest):
                self._send(run, step)
                return
            with self._host.db.unit() as db:
                result = run.complete(db, step, now)
        except OcpiError as exc:
            inbound_fetch = isinstance(exc, NoUsableAnswer) and run.finish is not None
            message = NOT_FETCHED if inbound_fetch else exc.message
            result = OcpiResult(MISSING, exc.status_code, message, exc.http_status, exc.headers)
            self._finish(run, result, now, detail=exc.message)
            return
        self._finish(run, result, now)

    def expire_overdue(self, now: datetime) -> None:
        for run in [r for r in self._runs.values() if r.deadline <= now]:
            self._fail(run, f"{run.handshake.step}: no answer from the partner in time", now)

    def abort(self, run_id: str, now: datetime, reason: str) -> None:
        run = self._runs.get(run_id)
        if run is not None:
            self._fail(run, f"{run.handshake.step}: {reason}", now)

    def _fail(self, run: _Run, message: str, now: datetime) -> None:
        public = NOT_FETCHED if run.finish is not None else message
        self._finish(run, OcpiResult(MISSING, 3001, public, HTTP_STATUS[3001]), now, detail=message)

    def _send(self, run: _Run, request: HttpRequest) -> None:
        with self._host.db.unit() as db:
            self._host.queue_outbound(db, run.partner_id, request, PURPOSE + run.run_id)

    def _finish(self, run: _Run, result: OcpiResult, now: datetime, *, detail: str | None = None) -> None:
        del self._runs[run.run_id]
        ok = result.status_code == 1000
        if not ok and run.on_fail is not None:
            with self._host.db.unit() as db:
                run.on_fail(db)
        self._host.log.info(
            "handshake_finished" if ok else "handshake_failed",
            partner=run.partner_id, run=run.run_id, status_code=result.status_code,
            reason=detail or result.message,
        )  # fmt: skip
        if run.finish is not None:
            self.completed[run.run_id] = run.finish(result, now)
        else:
            self.outcomes[run.run_id] = RegistrationOutcome(ok, result.status_code, result.message)
