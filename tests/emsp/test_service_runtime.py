"""A served eMSP tunes the interpreter for serving (emsp.service.run.steady_runtime) and puts it
back when serving ends: tests and embedding processes keep their own settings."""

from __future__ import annotations

import gc
import sys

from emsp.service.run import steady_runtime


def test_serving_freezes_the_start_up_heap_and_hands_the_gil_over_sooner_then_puts_everything_back() -> None:
    thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
    built_at_start_up = [object() for _ in range(10)]
    with steady_runtime():
        assert gc.get_freeze_count() >= len(built_at_start_up)  # out of every collection's scan
        assert gc.get_threshold()[0] > thresholds[0]  # young objects collected less often
        assert sys.getswitchinterval() < switch
    assert gc.get_threshold() == thresholds
    assert sys.getswitchinterval() == switch
    assert gc.get_freeze_count() == 0
