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

A push is a PUT of the token's whole state, so a later push of the same token (our country_code,
party_id, uid and type) to the same partner and CPO party supersedes it: an earlier one re-sent
after it would overwrite the newer state at the CPO. Such a push is dropped, not re-sent (nor
re-sent after a restart). The token, not the URL, is compared: the partner's Tokens URL changes
with its version or a credentials update, and the newer push is no less newer for it. A push
without CPO party (OCPI 2.1.1, or a hub that has not told its parties) reaches the whole platform:
it supersedes, and is superseded by, a push to any of the partner's parties.

A push refused 401/403 although sent with credentials the partner has replaced since is sent once
more with the current ones (`reauthorize`); refused again, it is done with.

One process per database sends them (emsp.pending_calls): this schedule is that process's memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TypeVar

from emsp.ocpi.token_push import pushed_token
from emsp.wire import OutboundRequest

TRANSPORT_FAILED = 599  # what a runtime hands in for a call that got no HTTP answer
# Failures of the moment, not of the request: no answer, bad gateway, unavailable, gateway timeout,
# too many requests.
TRANSIENT = frozenset({TRANSPORT_FAILED, 502, 503, 504, 429})
RETRY_FIRST = timedelta(seconds=10)
RETRY_MAX = timedelta(minutes=10)

Key = tuple[str, ...]  # what a push is about: partner and token (emsp.ocpi.token_push.pushed_token)
Party = tuple[str, str]  # the CPO party it is routed to (OCPI-to-*), ("", "") for the whole platform
WHOLE_PLATFORM: Party = ("", "")
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


def key_of(call: OutboundRequest) -> Key:
    """(partner, token pushed); a call that is no Token PUT is keyed by its method and URL."""
    token = pushed_token(call.request)
    if token is None:
        return (call.partner, call.request.method, call.request.url)
    return (call.partner, *token)


def party_of(call: OutboundRequest) -> Party:
    headers = call.request.headers
    return headers.get("OCPI-to-country-code", ""), headers.get("OCPI-to-party-id", "")


def _overlap(a: Party, b: Party) -> bool:
    return a == b or WHOLE_PLATFORM in (a, b)


@dataclass(slots=True)
class _Queued:
    order: int  # queue order in this process
    party: Party
    live: bool = True  # not finished yet


@dataclass(slots=True)
class _Waiting:
    call: OutboundRequest
    purpose: str
    due: datetime


@dataclass(slots=True)
class _Before:
    """A request id's entries as they were when a transaction first changed them (None: absent)."""

    key: Key | None
    flying: tuple[OutboundRequest, str] | None
    failures: int | None
    waiting: _Waiting | None
    reauthorized: bool


@dataclass(slots=True)
class _Journal:
    """What a transaction changed, as it was before: the entries it touched, not the schedule."""

    order: int
    ids: dict[str, _Before] = field(default_factory=dict)
    keys: dict[Key, dict[str, _Queued] | None] = field(default_factory=dict)  # copies: changed in place


class CallRetries:
    """Which durable call supersedes which, and when each failed one is re-sent."""

    def __init__(self) -> None:
        self._order = 0
        # key -> request id -> its calls queued here, kept while one of them is live (an earlier
        # live one is superseded by a later one even when that one is answered already)
        self._by_key: dict[Key, dict[str, _Queued]] = {}
        self._key: dict[str, Key] = {}  # request id -> its key, while in _by_key
        self._flying: dict[str, tuple[OutboundRequest, str]] = {}  # sent, not answered yet
        self._failures: dict[str, int] = {}  # request id -> transient failures in a row
        self._waiting: dict[str, _Waiting] = {}  # failed, re-sent at `due`
        self._reauthorized: set[str] = set()  # sent again after a refusal of old credentials
        self._journals: list[_Journal] = []  # open `undone_on_error` blocks, innermost last

    def queued(self, call: OutboundRequest, purpose: str) -> None:
        """`call` is being sent (first time or again); it is the latest of its key when new."""
        self._touch(call.request_id)
        if call.request_id not in self._key:
            key = key_of(call)
            self._touch_key(key)
            self._order += 1
            self._by_key.setdefault(key, {})[call.request_id] = _Queued(self._order, party_of(call))
            self._key[call.request_id] = key
        self._flying[call.request_id] = (call, purpose)

    def resumed(
        self, calls: list[tuple[OutboundRequest, str]]
    ) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        """Calls a previous process left unanswered, in the order it queued them: (those no later
        one supersedes, to send again, now queued here; request ids of the others)."""
        for call, purpose in calls:
            self.queued(call, purpose)
        again: list[tuple[OutboundRequest, str]] = []
        superseded: list[str] = []
        for call, purpose in calls:
            if self.superseded(call):
                superseded.append(call.request_id)
            else:
                again.append((call, purpose))
        for request_id in superseded:  # after the checks: a finished key may be pruned
            self.finish(self._flying[request_id][0])
        return again, superseded

    @contextmanager
    def undone_on_error(self) -> Iterator[None]:
        """Around a transaction that re-sends stored calls: if it raises (rolls back), the schedule
        is put back as it was, so that memory follows the store. Only the entries changed inside are
        noted and put back (the calls it took, queued, finished), not a copy of the whole schedule:
        each retry tick of a long queue would copy all of it. Blocks nest."""
        journal = _Journal(self._order)
        self._journals.append(journal)
        try:
            yield
        except BaseException:
            self._journals.pop()
            self._restore(journal)
            raise
        self._journals.pop()
        if self._journals:  # the enclosing block may still roll back: it takes the notes over
            outer = self._journals[-1]
            for request_id, before in journal.ids.items():
                outer.ids.setdefault(request_id, before)
            for key, calls in journal.keys.items():
                outer.keys.setdefault(key, calls)

    def _touch(self, request_id: str) -> None:
        """Note the request id's entries before a change, once per open transaction."""
        if self._journals and request_id not in self._journals[-1].ids:
            self._journals[-1].ids[request_id] = _Before(
                self._key.get(request_id),
                self._flying.get(request_id),
                self._failures.get(request_id),
                self._waiting.get(request_id),
                request_id in self._reauthorized,
            )

    def _touch_key(self, key: Key) -> None:
        """Note a key's calls before a change, once per open transaction (pruning forgets them all)."""
        if not self._journals or key in self._journals[-1].keys:
            return
        calls = self._by_key.get(key)
        self._journals[-1].keys[key] = None if calls is None else {r: replace(q) for r, q in calls.items()}
        for request_id in calls or ():
            self._touch(request_id)

    def _restore(self, journal: _Journal) -> None:
        self._order = journal.order
        for key, calls in journal.keys.items():
            _put(self._by_key, key, calls)
        for request_id, before in journal.ids.items():
            _put(self._key, request_id, before.key)
            _put(self._flying, request_id, before.flying)
            _put(self._failures, request_id, before.failures)
            _put(self._waiting, request_id, before.waiting)
            if before.reauthorized:
                self._reauthorized.add(request_id)
            else:
                self._reauthorized.discard(request_id)

    def failures(self, request_id: str) -> int:
        """Transient failures in a row of this call (0: none, or not known here)."""
        return self._failures.get(request_id, 0)

    def inherit(self, request_id: str, failures: int) -> None:
        """`request_id` is a push rebuilt from one that failed `failures` times in a row (a renewal
        for the partner's current version): its backoff goes on from there, not from 10 s again."""
        if failures > 0 and request_id in self._key:
            self._touch(request_id)
            self._failures[request_id] = failures

    def dropped(self, request_id: str) -> None:
        """A queued call that is never sent (its transaction rolled back): as if never queued."""
        self._touch(request_id)
        self._flying.pop(request_id, None)
        self._failures.pop(request_id, None)
        key = self._key.get(request_id)
        if key is not None:
            self._touch_key(key)
            del self._key[request_id]
            del self._by_key[key][request_id]
            self._prune(key)

    def superseded(self, call: OutboundRequest) -> bool:
        """A later call of the same key reaches the same CPO party (or a finished, unknown call)."""
        key = self._key.get(call.request_id)
        if key is None:
            return True
        calls = self._by_key[key]
        mine = calls[call.request_id]
        return any(o.order > mine.order and _overlap(o.party, mine.party) for o in calls.values())

    def answered(
        self, request_id: str, status: int, now: datetime, wait_at_least: timedelta | None = None
    ) -> datetime | None:
        """The answer to a durable call came: when it is re-sent (a transient failure of a call no
        later one superseded; not before `wait_at_least`, the answer's Retry-After), or None: done
        with (the caller forgets its stored row)."""
        self._touch(request_id)
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

    def flying(self, request_id: str) -> tuple[OutboundRequest, str] | None:
        """The call as sent (with its Authorization) and its purpose, while unanswered."""
        return self._flying.get(request_id)

    def reauthorize(self, request_id: str) -> bool:
        """A refusal (401/403) of credentials the partner replaced since: True the first time for
        this call (the caller sends it again now, `queued`), False after (a refusal as any) or when
        a later push superseded it (sent again, it would overwrite the newer state)."""
        flight = self._flying.get(request_id)
        if flight is None or request_id in self._reauthorized or self.superseded(flight[0]):
            return False
        self._touch(request_id)
        self._reauthorized.add(request_id)
        del self._flying[request_id]
        return True

    def finish(self, call: OutboundRequest) -> None:
        """Done with `call` (answered, superseded, or its partner gone): never re-sent."""
        request_id = call.request_id
        self._touch(request_id)
        self._flying.pop(request_id, None)
        self._waiting.pop(request_id, None)
        self._failures.pop(request_id, None)
        self._reauthorized.discard(request_id)
        key = self._key.get(request_id)
        if key is not None:
            self._touch_key(key)
            self._by_key[key][request_id].live = False
            self._prune(key)

    def _prune(self, key: Key) -> None:
        """Forget a key's calls once none is live: nothing is left for them to supersede."""
        calls = self._by_key.get(key)
        if calls is not None and not any(c.live for c in calls.values()):
            for request_id in calls:
                del self._key[request_id]
            del self._by_key[key]

    def next_due(self) -> datetime | None:
        if not self._waiting:  # asked after every eMSP send (both runtimes); almost always empty
            return None
        return min(w.due for w in self._waiting.values())

    def take_due(self, now: datetime) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        """(calls to re-send now with their purpose, request ids of due calls superseded meanwhile:
        the caller forgets their rows)."""
        return self._take(lambda waiting: waiting.due <= now)

    def take_partner(self, partner: str | None) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        """As `take_due`, for every waiting call to `partner` (None: to any) whatever its due time:
        the link to it is back, a backoff of up to RETRY_MAX would only delay the news."""
        return self._take(lambda waiting: partner is None or waiting.call.partner == partner)

    def _take(
        self, wanted: Callable[[_Waiting], bool]
    ) -> tuple[list[tuple[OutboundRequest, str]], list[str]]:
        resend: list[tuple[OutboundRequest, str]] = []
        superseded: list[str] = []
        # Filtered before sorted (same order: sorted is stable): a tick takes the few due calls
        # without sorting every call that waits.
        taken = [(request_id, waiting) for request_id, waiting in self._waiting.items() if wanted(waiting)]
        for request_id, waiting in sorted(taken, key=lambda item: item[1].due):
            self._touch(request_id)
            del self._waiting[request_id]
            if self.superseded(waiting.call):
                self.finish(waiting.call)
                superseded.append(request_id)
            else:
                resend.append((waiting.call, waiting.purpose))
        return resend, superseded


_K = TypeVar("_K")
_V = TypeVar("_V")


def _put(table: dict[_K, _V], key: _K, value: _V | None) -> None:
    """Set `table[key]`, or remove it when `value` is None (it was absent)."""
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value
