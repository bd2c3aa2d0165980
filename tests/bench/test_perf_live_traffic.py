"""bench.perf.live's `reconciled` fails a run on the classes the report and the suite call mismatches
(reports/outcomes.py), no other list: its own copy left out `refused_at_station` and
`refused_unreachable`, so a driver who left before the eMSP's yes failed a benchmark that every
report of the same run called clean."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import bench.perf.live as perf_live
from emsp.reconciliation import CLASSES
from reports.outcomes import is_mismatch

AT = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _reconciled(monkeypatch: pytest.MonkeyPatch, extra: str) -> bool:
    """Two completed sessions, both billed and matched, beside one visit of class `extra`."""
    completed = [SimpleNamespace(transaction_id=str(n), ended_at=AT) for n in range(2)]
    counts = dict.fromkeys(CLASSES, 0) | {"matched": 2, extra: 1}
    monkeypatch.setattr(perf_live, "truth_sessions", lambda _world: completed)
    monkeypatch.setattr(perf_live, "reconcile", lambda *_: SimpleNamespace(counts=lambda: counts))
    records = SimpleNamespace(cdrs=[SimpleNamespace(credit=False)] * 2)
    world: Any = SimpleNamespace(
        emsp=SimpleNamespace(records=lambda: records),
        cpos={"cpo-a": SimpleNamespace(ocpi=SimpleNamespace(truth=SimpleNamespace(authorizations=[])))},
        stations={"CS-1": SimpleNamespace(booted=True)},
    )
    return bool(perf_live.traffic(world, 10)["reconciled"])


@pytest.mark.parametrize("klass", [k for k in CLASSES if k != "matched"])
def test_reconciled_fails_exactly_on_the_mismatch_classes(
    monkeypatch: pytest.MonkeyPatch, klass: str
) -> None:
    assert _reconciled(monkeypatch, klass) is not is_mismatch(klass)
