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


def test_too_few_tokens_for_the_requests_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Past the fraud rate limit (6 an hour per token) the run would time refusals, not authorizations."""
    with pytest.raises(SystemExit) as refused:
        authorize.main(["--requests", "100", "--tokens", "10", "--concurrency", "1,16"])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "--tokens: 10 tokens for 100 requests x 2 concurrency levels" in err and "at least 40" in err
