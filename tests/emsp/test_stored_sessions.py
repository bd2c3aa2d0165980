"""Remembered stored sessions: a fact lives and dies with its entry (emsp.storage.queries)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emsp.storage.queries import StoredSessions

T = datetime(2026, 1, 1, tzinfo=UTC)
K = ("DE", "CPA", "S1")


@pytest.mark.parametrize(
    ("steps", "row", "fact"),
    [
        ([({K: (1, "{}", T)}, {K: "read"})], (1, "{}", T), "read"),  # written with a fact
        ([({K: (1, "{}", T)}, {K: "f"}), ({K: (1, "{}", T)}, None)], (1, "{}", T), None),  # read again
        ([({K: (1, "{}", T)}, {K: "f"}), ({K: None}, {K: "f2"})], None, None),  # forgotten (ended)
        ([({K: (1, "{}", T)}, {K: "f"}), ({K: (1, "[]", T)}, {})], (1, "[]", T), None),  # rewritten
    ],
)
def test_a_fact_goes_with_its_entry(steps: list, row: object, fact: object) -> None:
    stored = StoredSessions()
    for rows, facts in steps:
        stored.update(rows, facts)
    assert stored.get(K) == row
    assert stored.fact(K) == fact


def test_clearing_when_full_clears_the_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(StoredSessions, "LIMIT", 1)
    stored = StoredSessions()
    stored.update({K: (1, "{}", T)}, {K: "f"})
    other = ("DE", "CPA", "S2")
    stored.update({other: (2, "{}", T)})
    assert stored.get(K) is None and stored.fact(K) is None and len(stored) == 1
