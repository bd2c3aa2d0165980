"""`python -m bench.perf.trace`: the optimised writer must write what the reference wrote."""

from __future__ import annotations

import sys

import pytest
import structlog
from structlog.testing import capture_logs

from bench.logs import logs_dropped
from bench.perf import trace as perf_trace


@pytest.mark.slow
def test_benchmark_checks_the_writer_against_the_reference(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["bench.perf.trace", "--scale", "1", "--repeat", "1", "--no-profile"])
    before = structlog.get_config()
    perf_trace.main()
    assert structlog.get_config() == before  # an in-process caller gets its own logging back
    out = capsys.readouterr().out
    assert "full writes the reference's bytes: yes; gzip holds them: yes" in out
    for writer in perf_trace.WRITERS:
        assert f"{writer}:" in out


def test_logs_are_dropped_inside_the_block_and_the_caller_s_come_back() -> None:
    with capture_logs() as seen:
        with logs_dropped():
            structlog.get_logger("x").warning("inside")
        structlog.get_logger("x").warning("after")
    assert [e["event"] for e in seen] == ["after"]
