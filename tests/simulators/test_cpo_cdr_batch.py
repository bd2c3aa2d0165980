"""The cdr_hold batch: `late` CDRs miss it, `duplicate` is a share of the batch itself (a re-run of
the batch job), so a late CDR is never POSTed twice (review3 F11: the documented meaning)."""

from __future__ import annotations

import random

import pytest

from simulators.cpo.cdr_batch import CdrBatch


@pytest.mark.parametrize(("duplicate", "late"), [(1.0, 0.0), (1.0, 0.5), (0.5, 0.5), (0.0, 1.0), (0.3, 0.2)])
def test_duplicates_are_drawn_among_the_cdrs_not_late(duplicate: float, late: float) -> None:
    resent: list[str] = []
    held_back: list[str] = []
    batch = CdrBatch(resent=resent, late=held_back)
    batch.hold()
    for n in range(200):
        assert batch.keep({"id": f"C{n}"}, f"corr-{n}")
    first = [cdr["id"] for cdr, _ in batch.release(duplicate=duplicate, late=late, rng=random.Random(7))]
    later = [cdr["id"] for cdr, _ in batch.release()]
    assert sorted(set(first) | set(later)) == sorted(f"C{n}" for n in range(200))  # nothing lost
    assert later == held_back and not set(later) & set(first)  # a late CDR misses the batch, once
    assert sorted(resent) == sorted({i for i in first if first.count(i) == 2})
    on_time = 200 - len(held_back)
    if duplicate == 1.0:
        assert len(resent) == on_time  # every CDR of the batch, none of the late ones
    else:
        assert (
            abs(len(resent) - duplicate * on_time) <= 4 * (on_time * duplicate * (1 - duplicate)) ** 0.5 + 1
        )
