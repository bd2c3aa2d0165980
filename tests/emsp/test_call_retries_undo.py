"""A transaction that re-sends stored calls and rolls back puts the retry schedule back exactly as it
was (memory follows the store), by undoing what it changed, not by copying the whole schedule before
each retry tick (review r8 L5: O(N) per tick, O(N^2) to drain N staggered retries)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_call_retries import T0, URL, push

from emsp.call_retries import CallRetries
from emsp.wire import OutboundRequest

P = "token_push"


def _of(n: int, token: str) -> OutboundRequest:
    return push(n, url=URL.replace("TOK1", token))


def _state(r: CallRetries) -> tuple[Any, ...]:
    """Everything the schedule holds, by value."""
    by_key = {k: {i: (q.order, q.party, q.live) for i, q in calls.items()} for k, calls in r._by_key.items()}
    waiting = {i: (w.call, w.purpose, w.due) for i, w in r._waiting.items()}
    return r._order, by_key, dict(r._key), dict(r._flying), dict(r._failures), waiting, set(r._reauthorized)


def _schedule() -> CallRetries:
    """TOK1: a failed push and a later one in flight (the first is superseded when taken); TOK2: a
    push failed twice, due; TOK3: one reauthorized, in flight; TOK4: one failed, not due yet."""
    r = CallRetries()
    for n, token in ((1, "TOK1"), (3, "TOK2"), (5, "TOK4")):
        r.queued(_of(n, token), P)
    r.answered("emsp-out-1", 503, T0)
    r.queued(_of(2, "TOK1"), P)
    r.answered("emsp-out-3", 599, T0 - timedelta(seconds=30))
    [(again, _)], _ = r.take_due(T0 - timedelta(seconds=20))
    r.queued(again, P)
    r.answered("emsp-out-3", 599, T0 - timedelta(seconds=10))  # 2nd failure: due at T0 + 10 s
    r.answered("emsp-out-5", 429, T0, wait_at_least=timedelta(minutes=5))
    r.queued(_of(4, "TOK3"), P)
    assert r.reauthorize("emsp-out-4")
    r.queued(_of(4, "TOK3"), P)
    return r


def _tick(r: CallRetries) -> None:
    """What one retry tick does to the schedule: take the due calls (one superseded), send one
    again, renew another (a new request id inheriting its failures), answer and reauthorize others."""
    again, superseded = r.take_due(T0 + timedelta(seconds=10))
    assert ([c.request_id for c, _ in again], superseded) == (["emsp-out-3"], ["emsp-out-1"])
    r.queued(_of(6, "TOK2"), P)  # the renewal of emsp-out-3
    r.inherit("emsp-out-6", r.failures("emsp-out-3"))
    r.finish(again[0][0])
    r.answered("emsp-out-2", 200, T0)  # TOK1 done: its calls are forgotten
    r.answered("emsp-out-4", 401, T0)
    r.queued(_of(7, "TOK5"), P)
    assert r.reauthorize("emsp-out-7")
    r.dropped("emsp-out-7")


def test_a_rolled_back_tick_leaves_the_schedule_exactly_as_it_was() -> None:
    r = _schedule()
    before = _state(r)
    with pytest.raises(RuntimeError), r.undone_on_error():
        _tick(r)
        assert _state(r) != before
        raise RuntimeError("database gone")
    assert _state(r) == before
    untouched = _schedule()
    at = T0 + timedelta(seconds=10)
    assert (r.next_due(), r.take_due(at)) == (untouched.next_due(), untouched.take_due(at))


def test_a_tick_that_commits_keeps_its_changes() -> None:
    r, done = _schedule(), _schedule()
    with r.undone_on_error():
        _tick(r)
    _tick(done)
    assert _state(r) == _state(done)


def test_nested_blocks_undo_what_each_changed() -> None:
    r = _schedule()
    before = _state(r)
    with pytest.raises(RuntimeError), r.undone_on_error():
        r.answered("emsp-out-2", 503, T0)
        with r.undone_on_error():  # commits: the outer block's rollback still undoes it
            _tick_rest(r)
        raise RuntimeError("outer")
    assert _state(r) == before
    with r.undone_on_error():
        r.answered("emsp-out-2", 503, T0)
        after_outer = _state(r)
        with pytest.raises(RuntimeError), r.undone_on_error():  # rolls back alone
            _tick_rest(r)
            raise RuntimeError("inner")
        assert _state(r) == after_outer
    assert _state(r) == after_outer


def _tick_rest(r: CallRetries) -> None:
    r.take_due(T0 + timedelta(seconds=10))
    r.queued(_of(8, "TOK1"), P)
    r.answered("emsp-out-4", 200, T0)
