"""Durable calls (Token pushes, emsp.pending_calls) while the eMSP runs: re-sent after a transient
failure, with a bounded backoff, until the partner takes or refuses them.

A push that got no HTTP answer at all (599: refused, reset, timed out), or an answer saying the
receiver cannot take it for now (502, 503, 504: a gateway or the receiver is down; 429: too many
requests), never reached the CPO's Tokens receiver, which would keep authorizing from its stale
copy of the token (a block made during its outage would never arrive). It is re-sent after 10 s,
20 s, 40 s, ... at most 10 min apart, as long as the process runs (its row stays in
`pending_calls`, so a restart still sends it). A Retry-After in seconds is the least wait before
the next send (RFC 9110 10.2.3), still within the 10 min cap; the backoff keeps growing under it,
so a receiver answering "Retry-After: 1" all through an outage is not called every second.

Any other answer ends it: a 2xx (even with an OCPI error status_code in its body) or another 4xx/
5xx is the receiver's verdict on this very request, which sending it again would not change; it is
logged and counted. Sans-IO: every instant comes in as `now` from the runtime's clock; nothing here
reads a clock.

A push is a PUT of the token's whole state, so a later push to the same place (partner, URL, the
CPO party it is routed to) supersedes it: an earlier one re-sent after it would overwrite the newer
state at the CPO. Such a push is dropped, not re-sent (nor re-sent after a restart).

One process per database sends them (emsp.pending_calls): this schedule is that process's memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from emsp.wire import OutboundRequest

TRANSPORT_FAILED = 599  # what a runtime hands in for a call that got no HTTP answer
# Failures of the moment, not of the request: no answer, bad gateway, unavailable, gateway timeout,
# too many requests.
TRANSIENT = frozenset({TRANSPORT_FAILED, 502, 503, 504, 429})
RETRY_FIRST = timedelta(seconds=10)
RETRY_MAX = timedelta(minutes=10)

Target = tuple[str, str, str, str, str]  # partner, method, url, OCPI-to-country-code, OCPI-to-party-id
RETRY_AFTER_DIGITS = len(str(int(RETRY_MAX.total_seconds())))  # more digits are past the cap anyway


def backoff(attempt: int) -> timedelta:
    """The wait before re-sending after the `attempt`-th failure in a row (1, 2, ...): doubling, capped."""
    if attempt >= 8:  # 10 s * 2**7 is past the cap already: no huge powers for a long outage
        return RETRY_MAX
    return min(RETRY_FIRST * 2 ** (attempt - 1), RETRY_MAX)


def retry_after(headers: Mapping[str, str]) -> timedelta | None:
    """The answer's Retry-After in seconds (a non-negative integer), None when absent or in another
    form (an HTTP-date, garbage): the backoff alone decides then."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value.strip()
            if text.isascii() and text.isdigit():
                # A longer number is past the cap; never int() it: Python refuses (ValueError)
                # strings of over 4300 digits, which fit in an 8 KiB header.
                if len(text.lstrip("0")) > RETRY_AFTER_DIGITS:
                    return RETRY_MAX
                return timedelta(seconds=min(int(text), int(RETRY_MAX.total_seconds())))
            return None
    return None


def target_of(call: OutboundRequest) -> Target:
    headers = call.request.headers
    return (
        call.partner,
        call.request.method,
        call.request.url,
        headers.get("OCPI-to-country-code", ""),
        headers.get("OCPI-to-party-id", ""),
    )


@dataclass(slots=True)
class _Waiting:
    call: OutboundRequest
    purpose: str
    due: datetime


class CallRetries:
    """Which durable call is the latest to each target, and when each failed one is re-sent."""

    def __init__(self) -> None:
        self._latest: dict[Target, str] = {}  # target -> request id of the call queued last
        self._before: dict[str, str | None] = {}  # request id -> the target's latest before it
        self._flying: dict[str, tuple[OutboundRequest, str]] = {}  # sent, not answered yet
        self._failures: dict[str, int] = {}  # request id -> transient failures in a row
        self._waiting: dict[str, _Waiting] = {}  # failed, re-sent at `due`

    def queued(self, call: OutboundRequest, purpose: str) -> None:
        """`call` is being sent (first time or again); it is the latest to its target when new."""
        if call.request_id not in self._before:
            target = target_of(call)
            self._before[call.request_id] = self._latest.get(target)
            self._latest[target] = call.request_id
        self._flying[call.request_id] = (call, purpose)

    def resumed(
        self, calls: list[tuple[OutboundRequest, str]]
    ) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        """Calls a previous process left unanswered, in the order it queued them: (the latest to
        each target, to send again, now queued here; request ids of those they superseded)."""
        latest = {target_of(call): call.request_id for call, _ in calls}
        again: list[tuple[OutboundRequest, str]] = []
        superseded: list[str] = []
        for call, purpose in calls:
            if latest[target_of(call)] == call.request_id:
                self.queued(call, purpose)
                again.append((call, purpose))
            else:
                superseded.append(call.request_id)
        return again, superseded

    def dropped(self, request_id: str) -> None:
        """A queued call that is never sent (its transaction rolled back): the target's latest
        is again the one before it."""
        flight = self._flying.pop(request_id, None)
        before = self._before.pop(request_id, None)
        if flight is None:
            return
        target = target_of(flight[0])
        if self._latest.get(target) == request_id:
            if before is None:
                del self._latest[target]
            else:
                self._latest[target] = before

    def superseded(self, call: OutboundRequest) -> bool:
        return self._latest.get(target_of(call)) != call.request_id

    def answered(
        self, request_id: str, status: int, now: datetime, wait_at_least: timedelta | None = None
    ) -> datetime | None:
        """The answer to a durable call came: when it is re-sent (a transient failure of the
        target's latest call; not before `wait_at_least`, the answer's Retry-After), or None: done
        with (the caller forgets its stored row)."""
        flight = self._flying.pop(request_id, None)
        if flight is None:
            return None
        call, purpose = flight
        if status in TRANSIENT and not self.superseded(call):
            failures = self._failures.get(request_id, 0) + 1
            self._failures[request_id] = failures
            wait = backoff(failures)
            if wait_at_least is not None:
                wait = min(max(wait, wait_at_least), RETRY_MAX)
            due = now + wait
            self._waiting[request_id] = _Waiting(call, purpose, due)
            return due
        self.finish(call)
        return None

    def finish(self, call: OutboundRequest) -> None:
        """Done with `call` (answered, superseded, or its partner gone): never re-sent."""
        self._flying.pop(call.request_id, None)
        self._waiting.pop(call.request_id, None)
        self._failures.pop(call.request_id, None)
        self._before.pop(call.request_id, None)
        target = target_of(call)
        if self._latest.get(target) == call.request_id:
            del self._latest[target]

    def next_due(self) -> datetime | None:
        return min((w.due for w in self._waiting.values()), default=None)

    def take_due(self, now: datetime) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        """(calls to re-send now with their purpose, request ids of due calls superseded meanwhile:
        the caller forgets their rows)."""
        resend: list[tuple[OutboundRequest, str]] = []
        superseded: list[str] = []
        for request_id, waiting in sorted(self._waiting.items(), key=lambda item: item[1].due):
            if waiting.due > now:
                continue
            del self._waiting[request_id]
            if self.superseded(waiting.call):
                self.finish(waiting.call)
                superseded.append(request_id)
            else:
                resend.append((waiting.call, waiting.purpose))
        return resend, superseded
