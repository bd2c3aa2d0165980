"""The eMSP core facade: a sans-IO OCPI eMSP, versions 2.1.1, 2.2.1 and 2.3.0 (design principle 1).

Runtimes call `handle()` for every inbound request, send what `pending_requests()` returns and
feed the answers to `on_response()`. Time always comes in as `now`; ids come from counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.bus import CdrReceived, Event, SessionUpserted
from emsp.core_durable import DURABLE_PURPOSES, DurableCalls
from emsp.core_settings import EmspSettings
from emsp.core_tokens import DriverTokens
from emsp.handshakes import PURPOSE as HANDSHAKE
from emsp.handshakes import Handshakes, RegistrationOutcome
from emsp.model import CommandRequest, DuplicateCdrRecord, EmspRecords, FindingRecord, PartyRef
from emsp.observability import EmspMetrics, make_logger
from emsp.ocpi import command_send, pull
from emsp.ocpi.credentials_cache import CredentialsCache
from emsp.ocpi.endpoints import refused_endpoints
from emsp.ocpi.envelope import OcpiResult, Pending
from emsp.ocpi.handshake import Handshake
from emsp.ocpi.ids import MAX_SQL_INT
from emsp.ocpi.modules import credentials
from emsp.ocpi.router import handle_request
from emsp.ocpi.versions import ADAPTERS, highest_common
from emsp.outbox import Outbox, OutboxPolicy, StoredEvent
from emsp.services import cdrs as cdr_service
from emsp.services import fraud as fraud_service
from emsp.services import sessions as session_service
from emsp.services import tokens as token_service
from emsp.services.cdrs import CdrHandlers, FreshCdrs
from emsp.services.fraud import FraudGuard
from emsp.services.partners import PartyRole, normalize_parties, upsert_partner
from emsp.services.quotes import quote_visit
from emsp.services.sessions import SessionHandlers
from emsp.settlement.invoice import to_record
from emsp.settlement.settle import Pricer, TariffEnginePricer
from emsp.storage import pg_notify
from emsp.storage.db import Database, next_value
from emsp.storage.outbox_sql import ClaimedRow
from emsp.storage.tables import (
    CdrRow,
    CommandRow,
    DuplicateCdrRow,
    FindingRow,
    InvoiceLineRow,
    PartnerRow,
    SessionRow,
)
from emsp.wire import Deferred, HttpRequest, HttpResponse, OutboundRequest, loads


class RegistrationRefused(ValueError):
    """A registration cannot start (unknown partner, already registered, handshake running)."""


class EmspCore(DriverTokens, DurableCalls):
    def __init__(self, settings: EmspSettings, *, pricer: Pricer | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.credentials_cache = CredentialsCache(
            self.db.session_factory, (settings.country_code, settings.party_id)
        )
        self.metrics = EmspMetrics()
        self.fraud = FraudGuard(self.db, settings.fraud, self._fraud_decided)
        self.tokens = token_service.TokenAuthority(
            self.db, f"{settings.country_code}{settings.party_id}", self.fraud
        )
        if self.db.engine.dialect.name == "postgresql":
            pg_notify.install(self.db.session_factory)  # other processes on this database hear of changes
        self.log = make_logger(emsp=f"{settings.country_code}*{settings.party_id}")
        self.pricer: Pricer = pricer if pricer is not None else TariffEnginePricer()
        policy = OutboxPolicy(
            max_pending_per_partner=settings.max_pending_per_partner, max_attempts=settings.max_attempts
        )
        # Draining inline on SQLite, this process is the only one on the outbox: fresh rows are
        # drained from memory (emsp.outbox). A served core (background worker, PostgreSQL) claims.
        memory = settings.inline_drain and self.db.engine.dialect.name == "sqlite"
        self.bus = Outbox(
            self.db, policy, on_error=self._handler_failed, on_dead=self._dead_lettered, memory=memory
        )
        sessions = SessionHandlers(self.metrics)
        # Only this process writes an in-memory database: a CDR just stored is settled from memory.
        self.fresh_cdrs = FreshCdrs() if self.db.stored_sessions is not None else None
        cdrs = CdrHandlers(self.metrics, self.pricer, self.log, self.fresh_cdrs)
        # Only a start counts: updates and ends of a session are acknowledged without a handler run.
        self.bus.subscribe(
            SessionUpserted, "sessions.count_started", sessions.count_started, kinds=["session.started"]
        )
        self.bus.subscribe(CdrReceived, "cdrs.count_received", cdrs.count_received)
        self.bus.subscribe(CdrReceived, "settlement.settle", cdrs.settle)
        if self.fraud.config.enabled:
            # Disabled (a frozen config, fixed for the core's life), the check returns at once:
            # subscribed, every CDR paid a unit of work and an idempotency key for nothing.
            self.bus.subscribe(CdrReceived, "fraud.cdr_flags", fraud_service.CdrFlags(self.fraud).check)
        self.handshakes = Handshakes(self, settings.fetch_timeout)
        self._outbox: list[OutboundRequest] = []
        self._in_flight: dict[str, tuple[str, str]] = {}  # request_id -> (partner, purpose)
        pull_settings = pull.PullSettings(
            max_pages=settings.pull_max_pages,
            retry_after=settings.pull_retry_after,
            every=settings.pull_every,
        )
        self.puller = pull.Puller(self, pull_settings, settings.page_limit)
        self._reconnected: list[tuple[str, tuple[str, str]]] = []  # (hub, party) told CONNECTED
        # Commands awaiting their CommandResponse or CommandResult: id -> deadline (kept in memory so
        # `next_deadline` costs no query; loaded from the database at start, after a restart).
        with self.db.unit() as db:
            self._command_deadlines: dict[int, datetime] = command_send.deadlines(db)
            self._resume_durable(db)  # Token pushes a previous process left unanswered

    # ---- inbound ----

    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse | Deferred:
        """The response, or `Deferred` when it waits on our calls to the partner (credentials POST/PUT
        fetch the client's versions first): send `pending_requests()`, feed `on_response()`, and
        the response appears in `completed_responses()` / `take_response()`."""
        with self.db.scope():  # the drain's units reuse the request's connection
            response = handle_request(self, request, now)
            if self.settings.inline_drain:
                self.drain_outbox(now)  # after the answer exists: nothing here can change it
        while self._reconnected:
            hub_id, party = self._reconnected.pop(0)
            self.puller.start(hub_id, now, "party connected", party=party)
        return response

    def party_reconnected(self, hub_id: str, country_code: str, party_id: str, now: datetime) -> None:
        self._reconnected.append((hub_id, (country_code, party_id)))

    def drain_outbox(self, now: datetime, limit: int | None = None, *, force: bool = False) -> int:
        """Process pending events (see `emsp.outbox`); never raises. Returns the events finished.

        The request path calls it without `force` (a no-op unless this process wrote events or a
        retry is due); a background worker calls it with `force` to also see other processes' rows."""
        try:
            return self.bus.drain(now, limit, force=force)
        except Exception:  # a database hiccup: the rows stay pending, the next drain retries them
            self.log.exception("outbox_drain_failed")
            return 0

    def commit_deferred(self) -> None:
        """Write what handlers deferred (authorization records under group commit, emsp.core_thread)."""
        self.tokens.flush_records()

    def on_external_change(self, kind: str) -> None:
        """Another process changed `kind` ("partners" or "tokens"): drop what is cached of it.

        Called by a `emsp.storage.pg_notify.ChangeListener` from its own thread."""
        if kind == "partners":
            self.credentials_cache.clear()
        elif kind == "tokens":
            self.tokens.invalidate()

    def events_after(self, cursor: int, limit: int = 100) -> list[StoredEvent]:
        """The event stream after `cursor` (an event's `seq`), oldest first, at most `limit` events."""
        return self.bus.events_after(cursor, limit)

    def _fraud_decided(self, partner: str, rule: str, decision: str) -> None:
        self.metrics.fraud_decisions.labels(partner=partner, rule=rule, decision=decision).inc()
        self.log.warning("fraud_decision", partner=partner, rule=rule, decision=decision)

    def _handler_failed(self, handler: str, row: ClaimedRow, exc: Exception) -> None:
        self.metrics.bus_handler_failures.labels(partner=row.partner, handler=handler).inc()
        self.log.error(
            "bus_handler_failed", handler=handler, kind=row.kind, seq=row.seq, attempt=row.attempts + 1,
            idempotency_key=row.idempotency_key, error=f"{type(exc).__name__}: {exc}",
        )  # fmt: skip

    def _dead_lettered(self, row: ClaimedRow) -> None:
        self.metrics.bus_dead_letters.labels(partner=row.partner, kind=row.kind).inc()
        self.log.error("bus_event_dead_lettered", kind=row.kind, seq=row.seq, error=row.last_error)

    def register_partner(
        self,
        partner_id: str,
        token_a: str,
        *,
        parties: Iterable[PartyRole | tuple[str, str, str]] = (),
        hub: bool = False,
        tolerate: Mapping[str, Any] | None = None,
    ) -> None:
        """Configure (or update) a partner: its token A, the parties it may act for, and what it
        may deviate from the spec in (`tolerate`: emsp.ocpi.tolerance options; none: strict).

        Raises PartnerConfigError (nothing stored) when a party or an option is invalid or a party
        is another partner's."""
        checked = normalize_parties(parties, hub)
        with self.db.unit() as db:
            upsert_partner(db, partner_id, token_a, checked, hub, tolerate)

    def quote(
        self,
        *,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
        energy_kwh: Decimal,
        stay: timedelta,
        now: datetime,
    ) -> Decimal | None:
        """The most a planned visit can cost at that connector, under the tariff we hold now."""
        # Read-only: closed without the commit a unit would add (nothing to keep).
        with self.db.reading() as db:
            return quote_visit(
                db,
                country_code=country_code,
                party_id=party_id,
                location_id=location_id,
                evse_uid=evse_uid,
                connector_id=connector_id,
                energy_kwh=energy_kwh,
                stay=stay,
                now=now,
            )

    def publish(self, event: Event, now: datetime) -> None:
        """Write a canonical event to the outbox and drain (adapters and tests use this)."""
        with self.db.unit() as db:
            self.bus.write(db, [event], now)
        self.bus.committed([event])
        if self.settings.inline_drain:
            self.drain_outbox(now)

    # ---- commands (mod_commands, we are the Sender) ----

    def send_command(
        self,
        request: CommandRequest,
        *,
        now: datetime,
        token_uid: str | None = None,
        token_type: str = "RFID",
        partner_id: str | None = None,
        party: PartyRef | None = None,
    ) -> dict[str, Any]:
        """Store a command and queue its POST to the CPO holding the location (or session); its view.

        Raises `command_send.CommandRefused` (nothing stored) when it cannot be sent. The caller
        sends `pending_requests()`; a runtime calls `expire_commands` at `next_command_deadline()`."""
        with self.db.unit() as db:
            row = command_send.send(
                self, db, request, now, token_uid=token_uid, token_type=token_type,
                partner_id=partner_id, party=party,
            )  # fmt: skip
            view = command_send.view(row)
            if row.deadline is not None:
                self._command_deadlines[row.pk] = row.deadline
        self.log.info("command_sent", command_id=view["id"], kind=request.kind, partner=view["partner"])
        return view

    def command(self, command_id: int) -> dict[str, Any] | None:
        if abs(command_id) > MAX_SQL_INT:  # no such key, and the driver would overflow on it
            return None
        with self.db.unit() as db:
            row = db.get(CommandRow, command_id)
            return None if row is None else command_send.view(row)

    def next_command_deadline(self) -> datetime | None:
        """When `expire_commands` must next be called (a command awaits its response or result)."""
        return min(self._command_deadlines.values(), default=None)

    def expire_commands(self, now: datetime) -> list[int]:
        """Commands past their deadline become TIMEOUT; their ids."""
        if not any(at <= now for at in self._command_deadlines.values()):
            return []
        self._command_deadlines = {k: at for k, at in self._command_deadlines.items() if at > now}
        with self.db.unit() as db:
            expired = [row.pk for row in command_send.expire(db, now)]
        for command_id in expired:
            self.log.warning("command_timeout", command_id=command_id)
        return expired

    # ---- outbound ----

    def queue_outbound(
        self, db: Session, partner: str, request: HttpRequest, purpose: str
    ) -> OutboundRequest:
        request_id = f"emsp-out-{next_value(db, 'outbound')}"
        headers = {**request.headers, "X-Request-ID": request_id, "X-Correlation-ID": request_id}
        outbound = OutboundRequest(
            request_id, partner, HttpRequest(request.method, request.url, headers, request.body)
        )
        if purpose in DURABLE_PURPOSES:
            self._remember_durable(db, outbound, purpose)  # committed with the change, or not at all
        self._outbox.append(outbound)
        self._in_flight[request_id] = (partner, purpose)
        return outbound

    @contextmanager
    def outbound_on_commit(self) -> Iterator[None]:
        """Around a unit that queues calls: if it raises (its transaction rolled back), the calls it
        queued are dropped, so none tells a partner of a change that was not made."""
        mark = len(self._outbox)
        try:
            yield
        except BaseException:
            for dropped in self._outbox[mark:]:
                self._in_flight.pop(dropped.request_id, None)
                self.retries.dropped(dropped.request_id)
            del self._outbox[mark:]
            raise

    def new_id(self, db: Session, counter: str) -> int:
        return next_value(db, counter)

    def check_tariff(self, tariff: dict[str, Any]) -> str | None:
        return TariffEnginePricer.check(tariff)

    def has_pending_requests(self) -> bool:
        return bool(self._outbox)

    def pending_requests(self) -> list[OutboundRequest]:
        out, self._outbox = self._outbox, []
        return out

    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> None:
        flight = self._in_flight.pop(request_id, None)
        if flight is None:
            self.log.warning("unexpected_response", request_id=request_id)
            return
        partner_id, purpose = flight
        log = self.log.bind(partner=partner_id, request_id=request_id, purpose=purpose)
        if purpose in DURABLE_PURPOSES:  # Token pushes (emsp.core_durable)
            self._durable_answered(partner_id, request_id, response, now, log)
            return
        if purpose.startswith(pull.PURPOSE):
            self.puller.on_response(purpose[len(pull.PURPOSE) :], response, now)
            if self.settings.inline_drain:
                self.drain_outbox(now)  # what the pulled objects caused (settlement of a CDR)
        elif purpose.startswith(command_send.PURPOSE):
            with self.db.unit() as db:
                row = command_send.on_response(db, int(purpose[len(command_send.PURPOSE) :]), response, now)
                if row is not None:
                    log.info("command_response", state=row.state, response=row.response)
                    if row.deadline is not None:
                        self._command_deadlines[row.pk] = row.deadline
                    else:
                        self._command_deadlines.pop(row.pk, None)
            return
        if purpose.startswith(HANDSHAKE):
            self.handshakes.on_response(purpose[len(HANDSHAKE) :], response, now)
            if self.settings.pull_initial:
                self._initial_sync(now)

    # ---- pulls (emsp.ocpi.pull) ----

    def _initial_sync(self, now: datetime) -> None:
        """A partner registered a moment ago: read its Sender interfaces once (what it published
        before it could push to us, or pushed while it could not reach us)."""
        for partner_id in self.puller.never_synced():
            self.puller.start(partner_id, now, "initial")

    def pull_from(self, partner_id: str, now: datetime, reason: str = "requested") -> list[str]:
        """Catch up with a partner: pull every module it sends from our last sync on (run ids)."""
        return self.puller.start(partner_id, now, reason)

    def link_restored(self, partner_id: str | None, now: datetime) -> list[str]:
        """The link to `partner_id` (None: to every partner) is back after an outage: what it
        pushed meanwhile may be lost, so catch up from the last sync; and what we failed to push
        to it (Token pushes waiting for a retry) is sent now."""
        self.resend_waiting(partner_id)
        if partner_id is None:
            return self.puller.start_all(now, "link restored")
        return self.puller.start(partner_id, now, "link restored")

    def next_pull_at(self, now: datetime) -> datetime | None:
        """When `run_due_pulls` must next be called (a failed pull's retry, the periodic catch-up)."""
        return self.puller.next_due(now)

    def run_due_pulls(self, now: datetime) -> list[str]:
        return self.puller.run_due(now)

    def pull_stats(self) -> dict[str, dict[str, int]]:
        """Per partner: pulls started, complete, failed; pages read; objects stored; findings."""
        return {partner: stats.as_dict() for partner, stats in sorted(self.puller.stats.items())}

    # ---- deferred responses and handshakes (credentials) ----

    def defer(
        self, pending: Pending, answer: Callable[[OcpiResult, datetime], HttpResponse], now: datetime
    ) -> Deferred:
        deferred_id = f"emsp-deferred-{self.db.counters.next('deferred')}"
        self.handshakes.start(
            deferred_id, pending.partner_id, pending.handshake, pending.complete, now, finish=answer
        )
        return Deferred(deferred_id)

    def handshake_pending(self, partner_id: str) -> bool:
        return self.handshakes.pending_for(partner_id)

    def completed_responses(self) -> list[tuple[str, HttpResponse]]:
        """Final responses of deferred requests, in the order they were produced (each given once)."""
        done = list(self.handshakes.completed.items())
        self.handshakes.completed.clear()
        return done

    def take_response(self, deferred_id: str) -> HttpResponse | None:
        """The final response of one deferred request, once it is there (given once)."""
        return self.handshakes.completed.pop(deferred_id, None)

    def next_deadline(self) -> datetime | None:
        """When `expire_overdue` must next be called (a handshake waits on the partner until then,
        a command on its CommandResponse or CommandResult, or a Token push is to be re-sent)."""
        due = [self.handshakes.next_deadline(), self.next_command_deadline(), self.next_call_retry()]
        return min((at for at in due if at is not None), default=None)

    def expire_overdue(self, now: datetime) -> None:
        """Fail (3001) every handshake whose partner has not answered within `fetch_timeout`; make
        TIMEOUT every command past its deadline; queue again the Token pushes due (`retry_due_calls`)."""
        self.handshakes.expire_overdue(now)
        self.expire_commands(now)
        self.retry_due_calls(now)

    def abort_deferred(self, deferred_id: str, now: datetime, reason: str = "no answer in time") -> None:
        """Fail one handshake now (3001): a runtime that gave up waiting on its own clock."""
        self.handshakes.abort(deferred_id, now, reason)

    def start_registration(self, partner_id: str, versions_url: str, token: str, now: datetime) -> str:
        """Register with a partner ourselves (we are the credentials Sender): GET its versions and
        details with its token A, POST our credentials with a fresh token B, keep the token it returns.

        Returns the run id; the result comes from `take_registration(run_id)`. Raises
        RegistrationRefused when the partner is unknown, registered, or a handshake is running."""
        with self.db.unit() as db:
            partner = db.get(PartnerRow, partner_id)
            if partner is None:
                raise RegistrationRefused(f"no partner {partner_id!r} is configured")
            if partner.registered:
                raise RegistrationRefused(f"partner {partner_id!r} is already registered")
            if self.handshakes.pending_for(partner_id):
                raise RegistrationRefused(f"a handshake with partner {partner_id!r} is in progress")
            offered = credentials.new_token(self, db, partner_id, "token_b")
            partner.token_pending = offered  # the partner may call our versions with it meanwhile
        run_id = f"emsp-registration-{self.db.counters.next('registration')}"
        handshake = Handshake(
            versions_url,
            token,
            _highest_common,
            our_credentials=partial(credentials.our_credentials, self, token_c=offered),
            own_base_url=self.settings.base_url,
        )
        self.handshakes.start(
            run_id,
            partner_id,
            handshake,
            credentials.outbound_completion(partner_id),
            now,
            on_fail=partial(credentials.forget_offer, partner_id),
        )
        return run_id

    def take_registration(self, run_id: str) -> RegistrationOutcome | None:
        return self.handshakes.outcomes.pop(run_id, None)

    # ---- reading ----

    def refused_endpoints(self) -> list[tuple[str, str, str, str]]:
        """(partner, module, url, why) of each stored endpoint of a registered partner that is never
        called (emsp.ocpi.endpoints: stored before the handshake checked URLs), each logged once."""
        found = []
        with self.db.unit() as db:
            rows = db.scalars(
                select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
            ).all()
            for row in rows:
                for module, url, why in refused_endpoints(row, self.settings.base_url):
                    found.append((row.partner_id, module, url, why))
        for partner_id, module, url, why in found:
            self.log.warning(
                "partner_endpoint_refused", partner=partner_id, module=module, url=url, reason=why,
                action="not called until the partner updates its credentials (PUT) or registers again",
            )  # fmt: skip
        return found

    def partner_endpoints(self, partner_id: str) -> list[dict[str, Any]]:
        with self.db.unit() as db:
            row = db.get(PartnerRow, partner_id)
            return [] if row is None else list(loads(row.endpoints_json))

    def records(self) -> EmspRecords:
        self.commit_deferred()
        with self.db.unit() as db:
            sessions = db.scalars(select(SessionRow).order_by(SessionRow.pk)).all()
            cdrs = db.scalars(select(CdrRow).order_by(CdrRow.pk)).all()
            dups = db.scalars(select(DuplicateCdrRow).order_by(DuplicateCdrRow.pk)).all()
            lines = db.scalars(select(InvoiceLineRow).order_by(InvoiceLineRow.line_no)).all()
            findings = db.scalars(select(FindingRow).order_by(FindingRow.pk)).all()
            commands = db.scalars(select(CommandRow).order_by(CommandRow.pk)).all()
            return EmspRecords(
                authorizations=tuple(token_service.records(db)),
                sessions=tuple(session_service.row_to_info(r) for r in sessions),
                cdrs=tuple(cdr_service.row_to_info(r) for r in cdrs),
                duplicate_cdrs=tuple(_duplicate(d) for d in dups),
                invoice_lines=tuple(to_record(r) for r in lines),
                findings=tuple(_finding(f) for f in findings),
                fraud_decisions=tuple(fraud_service.decision_records(db)),
                commands=tuple(command_send.record(c) for c in commands),
            )

    def metrics_text(self) -> str:
        return self.metrics.text()


def _highest_common(offered: list[str]) -> Any:
    """A registration we start speaks the highest version both sides have (credentials, registration)."""
    version = highest_common(offered)
    return None if version is None else ADAPTERS[version]


def _duplicate(row: DuplicateCdrRow) -> DuplicateCdrRecord:
    return DuplicateCdrRecord(
        row.partner, PartyRef(row.country_code, row.party_id), row.cdr_id, row.at, row.identical
    )


def _finding(row: FindingRow) -> FindingRecord:
    party = PartyRef(row.country_code, row.party_id)
    return FindingRecord(
        row.partner, party, row.kind, row.module, row.object_id, row.detail, row.at, row.count, row.last_at
    )
