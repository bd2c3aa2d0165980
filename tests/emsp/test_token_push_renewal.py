"""A waiting Token push renewed for the partner's current version (a new request id) is the same
news: its backoff goes on where the former one's was, not from 10 s again; and if the transaction
that renews it rolls back, memory follows the store: no push is sent without its stored row, and the
former push waits again, so the next try renews it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from emsp_helpers import T0, stored_call_ids, token_pushes, tokens_receiver, with_pushed_token

from emsp import pending_calls
from emsp.core import EmspCore, EmspSettings
from emsp.wire import HttpResponse

V211 = "http://cpo1.test/ocpi/2.1.1/tokens/"
NO_ANSWER = HttpResponse(599, {}, None)


@pytest.fixture
def settings(tmp_path: Path) -> EmspSettings:
    return EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")


def test_a_renewed_push_keeps_the_backoff_of_the_one_it_replaces(settings: EmspSettings) -> None:
    core = with_pushed_token(EmspCore(settings))
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    core.on_response(block.request_id, NO_ANSWER, T0)  # 1st failure: again after 10 s
    assert core.retry_due_calls(T0 + timedelta(seconds=10)) == 1
    [block] = token_pushes(core)
    core.on_response(block.request_id, NO_ANSWER, T0 + timedelta(seconds=10))  # 2nd: 20 s
    tokens_receiver(core, "2.1.1", V211)
    at = T0 + timedelta(seconds=30)
    assert core.retry_due_calls(at) == 1
    [renewed] = token_pushes(core)
    assert renewed.request_id != block.request_id and renewed.request.url.startswith(V211)
    core.on_response(renewed.request_id, NO_ANSWER, at)
    assert core.next_call_retry() == at + timedelta(seconds=40)  # 3rd failure in a row, not a 1st


def test_a_renewal_rolled_back_leaves_no_push_without_its_row(
    settings: EmspSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = with_pushed_token(EmspCore(settings))
    core.block_token("TOK1", now=T0)
    [block] = token_pushes(core)
    core.on_response(block.request_id, NO_ANSWER, T0)
    tokens_receiver(core, "2.1.1", V211)
    forget = pending_calls.forget

    def broken(*args: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(pending_calls, "forget", broken)  # fails after the renewal was queued
    with pytest.raises(RuntimeError):
        core.retry_due_calls(T0 + timedelta(seconds=10))
    assert token_pushes(core) == []  # the renewal's row was rolled back: it is not sent either
    assert stored_call_ids(core) == [block.request_id]
    assert core.next_call_retry() == T0 + timedelta(seconds=10)  # the stored push waits again
    monkeypatch.setattr(pending_calls, "forget", forget)
    assert core.retry_due_calls(T0 + timedelta(seconds=11)) == 1
    [renewed] = token_pushes(core)
    assert renewed.request.url.startswith(V211) and stored_call_ids(core) == [renewed.request_id]
