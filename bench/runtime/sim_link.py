"""A link of the `sim` runtime: one direction of a TCP connection between two parties.

Latency + uniform jitter from the scenario (drawn from the run's own seeded generator), lost
segments resent after TCP's retransmission timeout, FIFO unless an OCPI request overtakes others.
Its own module so that the runtime's parts (sim.py, sim_hub.py) share it without importing each other.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import simpy

from bench.runtime.sim_events import call_at
from bench.scenario import LinkSpec

RTO_MS = 200  # TCP's minimum retransmission timeout (RFC 6298 allows 200 ms as Linux uses)


class Link:
    """One direction of a link; `windows` ([from ms, until ms), spec) override the base spec."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: LinkSpec,
        rng: random.Random,
        windows: list[tuple[int, int, LinkSpec]] | None = None,
    ) -> None:
        self._env, self._spec, self._rng = env, spec, rng
        self._windows = windows or []
        self._last_arrival = 0

    def spec_now(self) -> LinkSpec:
        if not self._windows:
            return self._spec
        now = int(self._env.now)
        for start, end, spec in self._windows:
            if start <= now < end:
                return spec
        return self._spec

    def send(self, deliver: Callable[[], None], *, request: bool = False) -> None:
        """Deliver after the link's delay; an OCPI `request` may be duplicated or overtake others."""
        spec = self.spec_now() if self._windows else self._spec
        # jitter * random() is uniform(0, jitter): the same draw and the same float (0 + (j - 0) * r)
        delay = spec.latency_ms + (spec.jitter_ms * self._rng.random() if spec.jitter_ms else 0)
        rto = RTO_MS
        while spec.loss and self._rng.random() < spec.loss and rto <= 64 * RTO_MS:
            delay += rto  # lost segment: TCP resends it after the timeout, doubling it each time
            rto *= 2
        now = int(self._env._now)  # the clock itself (its `now` property is a call more; this is hot)
        arrival = now + round(delay)
        if not (request and spec.reorder and self._rng.random() < spec.reorder):
            arrival = max(arrival, self._last_arrival)  # one stream: FIFO
            self._last_arrival = arrival
        call_at(self._env, arrival - now, deliver)

    def duplicates(self) -> bool:
        spec = self.spec_now()
        return bool(spec.duplicate) and self._rng.random() < spec.duplicate
