"""A live authorization's latency holds the eMSP's real answer time, not the machine's stalls.

The bench's eMSP answers on the event loop's thread. On a loaded machine that thread waits for a
CPU while other processes run (4-150 ms at a time, measured on partner-latency at speed 300-600
beside other runs), and the answer time once held every such wait: a steady partner's
p99-vs-first-hour then moved with the machine, not with the eMSP. The wait is read from the
thread's run-queue counter and taken out of the answer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from world_helpers import simulated_world

from bench.runtime.live import LiveRuntime
from bench.runtime.live_clock import ScaledClock
from bench.runtime.live_links import LiveLink
from bench.scenario import LinkSpec
from bench.trace import WireTrace
from bench.world import World
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest
from simulators.cpo.truth import AuthorizationRecord

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
STALL_S = 0.05  # the machine runs another process this long in the middle of the eMSP's answer


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    built = simulated_world("smoke")
    yield built
    built.emsp.db.engine.dispose()


def _latency(world: World, run_queue_wait: object) -> Decimal:
    """One authorization on instant links whose answer the machine stalled for STALL_S: its latency."""
    cpo_id = next(iter(world.cpos))
    records = world.cpos[cpo_id].ocpi.truth.authorizations
    records.clear()

    async def run() -> Decimal:
        clock = ScaledClock(START, 600.0)
        runtime = LiveRuntime(world, WireTrace(None), clock, {})
        instant = LinkSpec(latency_ms=0)
        runtime._to_emsp[cpo_id] = LiveLink(instant, random.Random(1), clock.speed)
        runtime._from_emsp[cpo_id] = LiveLink(instant, random.Random(1), clock.speed)

        async def stalled_answer(cpo: str, outbound: OutboundRequest) -> HttpResponse:
            time.sleep(STALL_S)  # the loop's thread is off the CPU: another process runs
            return HttpResponse(200, {}, None)

        def answered(cpo: str, outbound: OutboundRequest, response: HttpResponse | None) -> None:
            records.append(AuthorizationRecord(clock.now(), "CS-1", "TOKEN-1", "ALLOWED", Decimal(0)))

        runtime._at_emsp = stalled_answer  # type: ignore[method-assign]
        runtime._cpo_answered = answered  # type: ignore[method-assign]
        runtime.run_queue_wait = run_queue_wait  # type: ignore[assignment]
        request = HttpRequest("POST", f"{world.emsp_base_url}/tokens/TOKEN-1/authorize", {}, None)
        await runtime._cpo_authorize(cpo_id, OutboundRequest("auth-1", cpo_id, request))
        await runtime._emsp_client.aclose()
        for client in runtime._cpo_clients.values():
            await client.aclose()
        await runtime._contract.aclose()
        runtime._refusing.close()
        [record] = records
        return record.latency_ms

    return asyncio.run(run())


def test_the_machine_stalling_the_loop_during_an_answer_is_not_the_emsps_answer_time(world: World) -> None:
    # The thread's run-queue counter grows with the wall clock: it waited for a CPU all along.
    latency = _latency(world, time.monotonic)
    assert Decimal(0) <= latency < Decimal(STALL_S * 1000)


def test_without_a_run_queue_reading_the_answer_time_is_the_wall_time(world: World) -> None:
    # An external eMSP (or no schedstat): nothing is taken out.
    latency = _latency(world, None)
    assert latency >= Decimal(STALL_S * 1000)
