"""The core's durable calls (Token pushes): stored until answered (emsp.pending_calls) and re-sent
after a transient failure while the core runs (emsp.call_retries). A mixin of `EmspCore`, kept
apart so the core facade stays readable; it uses only the core's database, log and outbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.orm import Session

from emsp import pending_calls
from emsp.call_retries import CallRetries, retry_after
from emsp.observability import EmspMetrics
from emsp.ocpi import token_push
from emsp.storage.db import Database
from emsp.wire import HttpResponse, OutboundRequest

if TYPE_CHECKING:
    from emsp.ocpi.context import Services

# Calls stored until answered (emsp.pending_calls): a Token push lost in a crash or an outage of the
# CPO's receiver would leave the CPO authorizing from a stale copy of the token.
DURABLE_PURPOSES = frozenset({token_push.PURPOSE})
REFUSED_CREDENTIALS = frozenset({401, 403})


def _authorization(call: OutboundRequest) -> str | None:
    return next((v for k, v in call.request.headers.items() if k.lower() == "authorization"), None)


class DurableCalls:
    db: Database
    log: Any
    metrics: EmspMetrics
    retries: CallRetries
    _outbox: list[OutboundRequest]
    _in_flight: dict[str, tuple[str, str]]  # request_id -> (partner, purpose)

    def _resume_durable(self, db: Session) -> None:
        """At start: send again the calls a previous process left unanswered (those no later
        push of the same token superseded; the others are forgotten)."""
        self.retries = CallRetries()
        again, superseded = self.retries.resumed(pending_calls.left_over(db))
        for request_id in superseded:
            pending_calls.forget(db, request_id)
        self._send_durable(db, again)

    def _remember_durable(self, db: Session, outbound: OutboundRequest, purpose: str) -> None:
        """A durable call being queued in `db`'s transaction: stored with the change it tells, or
        not at all."""
        pending_calls.remember(db, outbound, purpose)
        self.retries.queued(outbound, purpose)

    def _durable_answered(
        self, partner: str, request_id: str, response: HttpResponse, now: datetime, log: Any
    ) -> None:
        """The answer to a durable call: forgotten when taken or refused, else (a transient failure)
        re-sent later. The CPO can always re-read our tokens (Sender GET): a refusal is only logged.
        A refusal of credentials the partner replaced while the call was on the wire is no verdict
        on the push: it is sent once more, with the current ones."""
        if response.status in REFUSED_CREDENTIALS and self._reauthorized(request_id):
            log.warning("token_push_failed", http_status=response.status, retry_at=now.isoformat(),
                        reason="sent with the partner's former credentials")  # fmt: skip
            self.metrics.token_pushes.labels(partner=partner, outcome="retry").inc()
            return
        wait = retry_after(response.headers)
        retry_at = self.retries.answered(request_id, response.status, now, wait)
        if retry_at is None:
            with self.db.unit() as db:
                pending_calls.forget(db, request_id)  # a restart does not send it again
        if 200 <= response.status < 300:
            outcome = "taken"
            log.info("token_pushed", http_status=response.status)
        elif retry_at is not None:
            outcome = "retry"
            log.warning("token_push_failed", http_status=response.status, retry_at=retry_at.isoformat())
        else:
            outcome = "refused"
            log.warning("token_push_failed", http_status=response.status)
        self.metrics.token_pushes.labels(partner=partner, outcome=outcome).inc()

    def _reauthorized(self, request_id: str) -> bool:
        """Queue the call again with the partner's current credentials if they are not the ones it
        was sent with (once per call); False: its refusal stands."""
        flight = self.retries.flying(request_id)
        if flight is None:
            return False
        call, purpose = flight
        with self._memory_follows_store(), self.db.unit() as db:
            current = pending_calls.authorized(db, call)
            if current is None or _authorization(current) == _authorization(call):
                return False
            if not self.retries.reauthorize(request_id):
                return False
            self._send_durable(db, [(call, purpose)])
        return True

    def resend_waiting(self, partner: str | None) -> int:
        """The link to `partner` (None: to every partner) is back: its Token pushes waiting for a
        retry are queued now, not after their backoff (up to 10 min). How many were queued."""
        return self._resend(lambda: self.retries.take_partner(partner))

    def next_call_retry(self) -> datetime | None:
        """When `retry_due_calls` must next be called (a Token push met a transient failure)."""
        return self.retries.next_due()

    def retry_due_calls(self, now: datetime) -> int:
        """Queue again each Token push whose retry is due, with the partner's current credentials;
        one superseded by a later push of the same token, or to a partner no longer registered, is
        dropped. Returns how many were queued; the runtime sends `pending_requests()`."""
        return self._resend(lambda: self.retries.take_due(now))

    def _resend(self, take: Callable[[], tuple[list[tuple[OutboundRequest, str]], list[str]]]) -> int:
        if self.retries.next_due() is None:  # nothing waits: nothing to take
            return 0
        with self._memory_follows_store():
            again, superseded = take()
            if not again and not superseded:
                return 0
            with self.db.unit() as db:
                for request_id in superseded:
                    pending_calls.forget(db, request_id)
                    self.log.info("token_push_superseded", request_id=request_id)
                return self._send_durable(db, again)

    @contextmanager
    def _memory_follows_store(self) -> Iterator[None]:
        """Around a unit that sends stored calls again: if it rolls back, the store is as it was
        (the taken calls' rows stand, no row of a push rebuilt for them was written), so the retry
        schedule and the outbox are put back as they were too: no push is sent without its row,
        and the taken calls wait again, to be renewed or forgotten by the next try."""
        mark = len(self._outbox)
        try:
            with self.retries.undone_on_error():  # only what the unit changed, not a copy of all
                yield
        except BaseException:
            for dropped in self._outbox[mark:]:
                self._in_flight.pop(dropped.request_id, None)
            del self._outbox[mark:]
            raise

    def _send_durable(self, db: Session, calls: list[tuple[OutboundRequest, str]]) -> int:
        """Queue stored calls (queued in `self.retries` already) with the current Authorization; a
        push built for a version or Tokens URL the partner no longer has is replaced by a push of
        the token's current state (token_push.renew_if_outdated)."""
        sent = 0
        for call, purpose in calls:
            fresh = pending_calls.authorized(db, call)
            if fresh is not None and purpose == token_push.PURPOSE:
                queued, failures = len(self._outbox), self.retries.failures(call.request_id)
                if token_push.renew_if_outdated(cast("Services", self), db, call):
                    pending_calls.forget(db, call.request_id)
                    self.retries.finish(call)
                    for renewal in self._outbox[queued:]:  # the same news: its backoff goes on
                        self.retries.inherit(renewal.request_id, failures)
                    self.log.info("token_push_renewed", partner=call.partner, request_id=call.request_id,
                                  queued=[c.request_id for c in self._outbox[queued:]])  # fmt: skip
                    sent += len(self._outbox) - queued
                    continue
            if fresh is None:  # the partner is gone: it would refuse the call
                pending_calls.forget(db, call.request_id)
                self.retries.finish(call)
                self.metrics.token_pushes.labels(partner=call.partner, outcome="dropped").inc()
                self.log.warning("token_push_dropped", partner=call.partner, request_id=call.request_id,
                                 reason="partner not registered")  # fmt: skip
                continue
            self.retries.queued(fresh, purpose)
            self._outbox.append(fresh)
            self._in_flight[fresh.request_id] = (fresh.partner, purpose)
            sent += 1
        return sent
