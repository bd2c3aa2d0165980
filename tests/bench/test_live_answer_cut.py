"""Live: an answer that comes back while the CPO's line is cut (a `refused` outage that began after
the request reached the eMSP) is a lost connection to the CPO, as in sim: the eMSP served the
request, so the CPO's resend of a CDR may reach it twice and counts in `cdr_delivery.resent`.
Before, live handed the CPO the answer across the cut line: the same scenario counted the repeat in
sim and not in live."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from world_helpers import simulated_world

from bench.runtime.live import LiveRuntime
from bench.runtime.live_clock import ScaledClock
from bench.trace import WireTrace
from bench.world import World
from emsp.wire import HttpResponse

START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
TAKEN = HttpResponse(200, {}, '{"status_code": 1000, "timestamp": "2026-03-02T07:00:00Z"}')


@pytest.fixture
def world() -> Iterator[World]:
    built = simulated_world("smoke")
    yield built
    built.emsp.db.engine.dispose()


def _cdr_answered(world: World, outage: str | None) -> list[str]:
    """One CDR POST of the first CPO, answered 1000 by the eMSP, the answer arriving during an
    outage of `outage` mode (None: none): the CDR ids the CPO then counts as sent again."""
    cpo_id = next(iter(world.cpos))
    cpo = world.cpos[cpo_id]

    async def run() -> list[str]:
        runtime = LiveRuntime(world, WireTrace(None), ScaledClock(START, 600.0), {})
        runtime.cpo_emit = lambda _cpo, _output: None  # type: ignore[method-assign]
        if outage is not None:  # the line was cut after the request got through
            runtime._outages = [(cpo_id, START - timedelta(hours=1), START + timedelta(hours=1), outage)]
        outbound = cpo.ocpi._send(
            "cdr", "POST", f"{world.emsp_base_url}/cdrs", START, body={}, cdr_id="CDR-1"
        )
        runtime._cpo_answered(cpo_id, outbound, TAKEN)
        await runtime._emsp_client.aclose()
        for client in runtime._cpo_clients.values():
            await client.aclose()
        await runtime._contract.aclose()
        runtime._refusing.close()
        return list(cpo.ocpi.truth.cdrs_resent)

    return asyncio.run(run())


def test_an_answer_across_a_cut_line_is_a_lost_connection_and_the_cdr_a_resend(world: World) -> None:
    assert _cdr_answered(world, "refused") == ["CDR-1"]


def test_an_answer_on_an_open_line_or_a_503_outage_is_no_resend(world: World) -> None:
    assert _cdr_answered(world, None) == []
    # an http_503 outage leaves the connection up: an answer already on its way arrives
    assert _cdr_answered(world, "http_503") == []
