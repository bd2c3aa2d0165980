"""A token block the eMSP pushed while the CPO was unreachable reaches the CPO once it is back (the
push re-sent after its transient failure, emsp.call_retries), in the simulated runtime: before, the
CPO kept allowing the blocked token from its copy for the rest of the run (hostile review H4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import run_sim, trace, variant

BLOCKED_AT = "2026-03-02T07:50:30Z"  # within cpo-b's outage (07:50-08:00)


def test_a_block_pushed_during_an_outage_reaches_the_cpo_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def change(data: dict[str, Any]) -> None:
        data["events"].append({"type": "token_block", "driver": 5, "at": BLOCKED_AT})

    outcome = run_sim(monkeypatch, variant(tmp_path, "partner-outage", change), 1, tmp_path / "r")
    uid = next(iter(outcome.world.blocked))
    copy = outcome.world.cpos["cpo-b"].ocpi.received_tokens().get(uid)  # None: the push never arrived
    assert copy is not None and copy["valid"] is False
    puts = [
        line["t"] for line in trace(tmp_path / "r")
        if line.get("method") == "PUT" and "/tokens/" in line.get("url", "") and line.get("dst") == "cpo-b"
    ]  # fmt: skip
    assert puts and max(puts) >= "2026-03-02T08:00:00"  # sent again once the CPO was back
