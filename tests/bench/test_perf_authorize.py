from __future__ import annotations

import pytest

from bench.perf import authorize


@pytest.mark.xdist_group("live")
def test_the_authorize_benchmark_loads_both_servers_and_checks_every_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert authorize.main(["--requests", "60", "--tokens", "30", "--concurrency", "1,4"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("bare ", "emsp "))]
    assert [(r[0], r[1], r[-1]) for r in rows] == [
        ("bare", "1", "0"), ("emsp", "1", "0"), ("bare", "4", "0"), ("emsp", "4", "0"),
    ]  # fmt: skip
    assert "concurrency   4: eMSP/bare" in out
    assert "authorization records stored: 150 of 150 answered" in out
    assert "core alone, in-process: " in out and " us CPU per authorize" in out
