"""The mock CPO's answer to an unreachable eMSP: retry with backoff, in order, lose nothing.

A request that fails for the network's sake (connection refused, or HTTP 502/503/504: the service is
there but not serving) joins a backlog ordered by when it was first sent. While the backlog holds
anything, new requests join it too, so per-object order survives (a Session PATCH never overtakes
its PUT). After a backoff (1, 2, 4 ... 60 s) the oldest is sent alone as a probe; when it succeeds
the whole backlog goes out in order, when it fails the backoff doubles. Real-time authorizations
never wait in the backlog: a driver at the charger cannot wait a minute.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from emsp.wire import OutboundRequest

RETRYABLE_HTTP = frozenset({502, 503, 504})
BACKOFF = tuple(timedelta(seconds=s) for s in (1, 2, 4, 8, 16, 32, 60))


class RetryQueue:
    def __init__(self) -> None:
        self._backlog: list[tuple[int, OutboundRequest]] = []
        self._probe: str | None = None
        self._retry_at: datetime | None = None
        self._step = 0
        self.retries = 0  # requests sent again (for the run's figures)

    @property
    def holding(self) -> bool:
        return bool(self._backlog) or self._probe is not None

    def next_wakeup(self) -> datetime | None:
        return self._retry_at

    def hold(self, seq: int, request: OutboundRequest) -> None:
        """Queue a request that must not overtake the backlog (never sent yet)."""
        bisect.insort(self._backlog, (seq, request), key=lambda item: item[0])

    def failed(self, seq: int, request: OutboundRequest, now: datetime) -> None:
        """A request (maybe the probe) could not reach the eMSP: keep it, back off."""
        if request.request_id == self._probe:
            self._probe = None
            self._step = min(self._step + 1, len(BACKOFF) - 1)
        self.hold(seq, request)
        if self._probe is None and self._retry_at is None:
            self._retry_at = now + BACKOFF[self._step]

    def succeeded(self, request_id: str) -> list[OutboundRequest]:
        """A response arrived; when it answers the probe, the backlog goes out (in order)."""
        if request_id != self._probe:
            return []
        self._probe, self._step = None, 0
        out = [request for _seq, request in self._backlog]
        self._backlog = []
        self.retries += len(out)
        return out

    def wakeup(self, now: datetime) -> list[OutboundRequest]:
        if self._retry_at is None or now < self._retry_at or not self._backlog:
            return []
        self._retry_at = None
        _seq, probe = self._backlog.pop(0)
        self._probe = probe.request_id
        self.retries += 1
        return [probe]

    def lets_through(self, request: OutboundRequest) -> bool:
        return request.request_id == self._probe
