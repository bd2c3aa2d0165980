"""The live runtime honours the scenario's links: a slow partner is slow in both runtimes."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.runner import run_scenario

pytestmark = pytest.mark.xdist_group("live")

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _smoke_with(tmp_path: Path, **cpo_changes: Any) -> str:
    """smoke, 40 minutes long, with the CPO's fields changed: a scenario file beside its tariffs."""
    shutil.copytree(SCENARIOS / "tariffs", tmp_path / "tariffs")
    scenario = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text())
    scenario["duration_minutes"] = 40
    scenario["demand"]["arrivals_per_hour"] = 30
    scenario["expectations"] = []
    scenario["cpos"][0].update(cpo_changes)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return str(path)


def test_a_two_second_ocpi_link_delays_authorizations_in_live_as_in_sim(tmp_path: Path) -> None:
    scenario = _smoke_with(tmp_path, ocpi_link={"latency_ms": 2000, "jitter_ms": 0})
    p50 = {}
    for runtime in ("sim", "live"):
        speed = 3000 if runtime == "live" else None  # a sim run takes no pace
        outcome = run_scenario(scenario, runtime=runtime, seed=3, out=tmp_path / runtime, speed=speed)  # type: ignore[arg-type]
        auth = outcome.summary["authorizations"]
        assert auth["accepted"] > 0
        p50[runtime] = Decimal(auth["latency_ms"]["p50"])
    # latency_ms is one way: the request and its answer each cross the link once.
    assert p50["sim"] >= 4000
    assert p50["live"] >= 4000


def test_a_fast_link_stays_fast_in_live(tmp_path: Path) -> None:
    # Scenario time magnifies wall time by `speed`; the eMSP's real answer time must not be
    # magnified with it, or every live run would look like a slow partner.
    scenario = _smoke_with(tmp_path, ocpi_link={"latency_ms": 10, "jitter_ms": 0})
    outcome = run_scenario(scenario, runtime="live", seed=3, out=tmp_path, speed=3000)
    p50 = Decimal(outcome.summary["authorizations"]["latency_ms"]["p50"])
    assert Decimal(20) <= p50 < Decimal(2000)


def test_a_delay_line_holds_each_message_and_never_reorders_them() -> None:
    import asyncio
    import random

    from bench.runtime.live_links import DelayLine, LiveLink
    from bench.scenario import LinkSpec

    async def scenario() -> tuple[list[int], list[float]]:
        loop = asyncio.get_running_loop()
        # 100 ms +- up to 400 ms of jitter at speed 10: 10-50 wall ms per message.
        link = LiveLink(LinkSpec(latency_ms=100, jitter_ms=400), random.Random(1), speed=10)
        got: list[int] = []
        held: list[float] = []
        sent_at: dict[int, float] = {}

        async def deliver(item: int) -> None:
            got.append(item)
            held.append(loop.time() - sent_at[item])

        line = DelayLine(link, deliver)
        pump = asyncio.ensure_future(line.pump())
        for item in range(30):
            sent_at[item] = loop.time()
            line.put(item)
            await asyncio.sleep(0.001)
        line.close()
        await pump
        return got, held

    got, held = asyncio.run(scenario())
    assert got == list(range(30))  # TCP semantics: jitter delays, never reorders
    assert min(held) >= 0.010  # 100 scenario ms at speed 10


def test_a_frame_line_delivers_as_a_delay_line_in_order_after_each_hold_then_stops_when_closed() -> None:
    import asyncio
    import random

    from bench.runtime.live_links import DelayLine, FrameLine, LiveLink
    from bench.scenario import LinkSpec

    async def through(kind: str) -> tuple[list[str], list[float], int]:
        loop = asyncio.get_running_loop()
        # Same seed, same link: both lines draw the same holds (0.5 ms, under MIN_SLEEP_S, included).
        link = LiveLink(LinkSpec(latency_ms=5, jitter_ms=400), random.Random(1), speed=10)
        got: list[str] = []
        held: list[float] = []
        sent_at: dict[str, float] = {}

        def deliver(frame: str) -> None:
            got.append(frame)
            held.append(loop.time() - sent_at[frame])

        async def deliver_async(frame: str) -> None:
            deliver(frame)

        line: FrameLine | DelayLine[str]
        if kind == "frame":
            line = FrameLine(link, deliver)
        else:
            line = DelayLine(link, deliver_async)
            pump = asyncio.ensure_future(line.pump())
        for n in range(30):
            sent_at[str(n)] = loop.time()
            line.put(str(n))
            if n % 3 == 0:
                await asyncio.sleep(0.001)
        line.close()
        if isinstance(line, FrameLine):
            await line.flushed()
        else:
            await pump
        line.put("after the line emptied")  # neither delivers it
        await asyncio.sleep(0.06)
        return got, held, line.pending()

    for kind in ("frame", "delay"):
        got, held, pending = asyncio.run(through(kind))
        assert got == [str(n) for n in range(30)], kind  # TCP semantics: jitter delays, never reorders
        assert max(held) >= 0.010, kind  # held for the link's delay (up to 45 wall ms here)
        assert pending == (0 if kind == "frame" else 1)  # the DelayLine keeps it, never to deliver
