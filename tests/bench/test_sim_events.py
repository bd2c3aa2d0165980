"""The sim runtime's own loop (`run_until`) and direct calls (`call_at`) run everything in the order,
and at the instants, that simpy's `env.run(until=...)` gives."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import simpy

from bench.runtime.sim_events import call_after, call_at, run_until

Log = list[tuple[int, str]]
Runner = Callable[[simpy.Environment, int], None]


def _simpy_run(env: simpy.Environment, until: int) -> None:
    env.run(until=until)


def _world(env: simpy.Environment, log: Log, seed: int) -> None:
    """Entries of every kind, many at one instant, some scheduling more as they run."""
    rng = random.Random(seed)

    def on_event(name: str) -> Callable[[simpy.Event], None]:
        return lambda _event: log.append((int(env.now), name))

    def chain(name: str, left: int) -> Callable[[], None]:
        def run() -> None:
            log.append((int(env.now), name))
            if left:
                call_at(env, rng.choice([0, 0, 5, 50]), chain(f"{name}+", left - 1))
                call_after(env, rng.choice([0, 5]), lambda _e: log.append((int(env.now), f"{name}~")))

        return run

    def ticker() -> simpy.events.ProcessGenerator:
        while True:
            yield env.timeout(25)
            log.append((int(env.now), "tick"))

    env.process(ticker())
    for i in range(60):
        delay = rng.choice([0, 10, 25, 50, 100, 99, 100])
        if i % 3 == 0:
            call_at(env, delay, chain(f"c{i}", 3))
        elif i % 3 == 1:
            call_after(env, delay, on_event(f"a{i}"))
        else:
            callbacks = env.timeout(delay).callbacks
            assert callbacks is not None
            callbacks.append(on_event(f"t{i}"))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("until", [1, 25, 100, 101, 250])
def test_run_until_is_simpy_run(seed: int, until: int) -> None:
    results = []
    for runner in (_simpy_run, run_until):
        env = simpy.Environment()
        log: Log = []
        _world(env, log, seed)
        runner(env, until)
        # what is left to run, in order (simpy also leaves its spent stop event, priority -1: no entry)
        left = [item[:2] for item in sorted(env._queue, key=lambda e: e[:3]) if item[1] >= 0]
        results.append((log, env.now, left))
    assert results[0] == results[1]
    assert results[0][0]  # something ran


def test_run_until_raises_what_a_call_raises_and_refuses_a_past_instant() -> None:
    env = simpy.Environment()

    def boom() -> None:
        raise KeyError("boom")

    call_at(env, 5, boom)
    with pytest.raises(KeyError, match="boom"):
        run_until(env, 10)
    assert env.now == 5
    with pytest.raises(ValueError, match="greater than the current"):
        run_until(env, 5)
    with pytest.raises(ValueError, match="Negative delay"):
        call_at(env, -1, boom)
