"""`python -m bench.perf.trace`: the optimised writer must write what the reference wrote."""

from __future__ import annotations

import sys

import pytest

from bench.perf import trace as perf_trace


@pytest.mark.slow
def test_benchmark_checks_the_writer_against_the_reference(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["bench.perf.trace", "--scale", "1", "--repeat", "1", "--no-profile"])
    perf_trace.main()
    out = capsys.readouterr().out
    assert "full writes the reference's bytes: yes; gzip holds them: yes" in out
    for writer in perf_trace.WRITERS:
        assert f"{writer}:" in out
