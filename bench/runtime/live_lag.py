"""How far the `live` runtime falls behind its scenario clock.

The scenario clock runs on regardless of the machine (live_clock): when the event loop is busy,
everything due (a driver's arrival, a meter sample, a timeline event, an answer) happens later in
scenario time than planned. A probe timer due every PERIOD_S wall seconds measures how late it
really fires; that lateness times `speed` is the scenario time the runtime is behind. Past
WARN_MS a warning is logged (once per episode); a run whose p99 lag exceeds INVALID_MS has timing
that does not describe the eMSP: its summary says so, and no failed expectation is graded as the
eMSP's (exit 3). The longest part of one lateness the loop's thread spent waiting for a CPU, in
wall ms (`timing.loop_stall_ms.machine_max`), is what a stall of the machine can have added to one
latency: a latency expectation missed by no more is inconclusive (bench/stall_grading.py).
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import structlog

from bench.runtime.live_clock import ScaledClock

PERIOD_S = 0.02  # wall seconds between probes: fine enough to see one slow callback
# Scenario milliseconds. 5 s: arrivals, meter samples and windows start visibly off plan.
WARN_MS = 5_000.0
# 30 s of scenario time, p99: a driver plugs in half a minute late, a link window or an outage
# catches requests it was not meant to; and at the default speed 600 that is 50 wall ms of loop
# stall, which the real answer time inside every authorization latency absorbs as well.
INVALID_MS = 30_000.0

log = structlog.get_logger("bench.live")


@dataclass(frozen=True, slots=True)
class LagFigures:
    samples: int
    p99_ms: float
    max_ms: float
    max_wall_ms: float
    p99_wall_ms: float = 0.0
    # The longest part of one stall the loop's thread waited for a CPU (the machine ran others).
    max_machine_ms: float = 0.0

    @property
    def valid(self) -> bool:
        return self.p99_ms <= INVALID_MS

    def performance(self) -> dict[str, Any]:
        return {
            "lag_ms": {"p99": round(self.p99_ms, 1), "max": round(self.max_ms, 1)},
            "lag_wall_ms_max": round(self.max_wall_ms, 1),
            "lag_machine_ms_max": round(self.max_machine_ms, 1),
            "lag_samples": self.samples,
            "timing_valid": self.valid,
        }

    def summary(self) -> dict[str, Any]:
        """The live summary's `timing` block: says whether the run's timing can be trusted."""
        block: dict[str, Any] = {
            "valid": self.valid,
            "lag_ms": {"p99": f"{self.p99_ms:.1f}", "max": f"{self.max_ms:.1f}"},
            # Wall ms the event loop woke late; `machine_max`: the part of one such stall the machine
            # took (the thread waited for a CPU), what a failed latency expectation is weighed against.
            "loop_stall_ms": {
                "p99": f"{self.p99_wall_ms:.1f}",
                "max": f"{self.max_wall_ms:.1f}",
                "machine_max": f"{self.max_machine_ms:.1f}",
            },
        }
        if not self.valid:
            block["note"] = (
                f"the bench fell behind its scenario clock (p99 {self.p99_ms / 1000:.1f} s > "
                f"{INVALID_MS / 1000:.0f} s of scenario time): timing figures describe the machine, "
                "not the eMSP; a failed expectation is not graded as the eMSP's (exit 3; lower --speed)"
            )
        return block


class CpuWait:
    """Seconds the calling thread has so far waited for a CPU while runnable (Linux schedstat's run
    delay): a stall the machine imposed, never time the thread spent running or blocked in a call.
    Elsewhere: seconds it spent off the CPU (wall minus thread CPU time), which also counts blocking
    calls. Made and read in the thread it describes (the event loop's)."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    @property
    def exact(self) -> bool:
        """Reads the run-queue wait itself (Linux), not the fallback's off-CPU time."""
        return self._fd is not None

    def __call__(self) -> float:
        if self._fd is None:
            return time.monotonic() - time.thread_time()
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LagProbe:
    def __init__(self, clock: ScaledClock, cpu_wait: Callable[[], float] | None = None) -> None:
        self._clock = clock
        self._samples: list[float] = []  # wall seconds late
        self._machine_max = 0.0  # wall seconds: the most of one lateness spent waiting for a CPU
        self._cpu_wait = cpu_wait  # None: the loop thread's own counter, made when the probe starts
        self._warned = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        own = CpuWait() if self._cpu_wait is None else None
        try:
            await self._probe(loop, self._cpu_wait or cast(CpuWait, own))
        finally:
            if own is not None:
                own.close()

    async def _probe(self, loop: asyncio.AbstractEventLoop, cpu_wait: Callable[[], float]) -> None:
        while True:
            start, waited = loop.time(), cpu_wait()
            await asyncio.sleep(PERIOD_S)
            late = max(0.0, loop.time() - start - PERIOD_S)
            self._samples.append(late)
            # Only the machine's part of the lateness: the loop's thread waiting for a CPU. Time it
            # ran (the eMSP's handlers, the bench's callbacks) or blocked never counts, so an eMSP
            # that holds the loop is not excused by its own holding.
            self._machine_max = max(self._machine_max, min(late, cpu_wait() - waited))
            behind_ms = late * self._clock.speed * 1000
            if behind_ms > WARN_MS and not self._warned:
                self._warned = True
                log.warning(
                    "live runtime behind its scenario clock",
                    lag_ms=round(behind_ms),
                    speed=self._clock.speed,
                    at=self._clock.now().isoformat(),
                )
            elif behind_ms <= WARN_MS / 2:
                self._warned = False  # the episode is over: warn again at the next one

    def figures(self) -> LagFigures:
        if not self._samples:
            return LagFigures(0, 0.0, 0.0, 0.0)
        ordered = sorted(self._samples)
        p99 = ordered[max(1, math.ceil(0.99 * len(ordered))) - 1]
        scale = self._clock.speed * 1000
        wall_max = ordered[-1] * 1000
        return LagFigures(
            len(ordered), p99 * scale, ordered[-1] * scale, wall_max, p99 * 1000, self._machine_max * 1000
        )
