"""A Token push survives a restart of the eMSP: queued in the transaction of the change it tells,
it is queued again by the next core on the same database until its answer has been handled, and
then never again (emsp.pending_calls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from emsp_helpers import T0, with_pushed_token
from emsp_helpers import TOKENS_RECEIVER as RECEIVER

from emsp import core_tokens
from emsp.core import EmspCore, EmspSettings
from emsp.wire import HttpResponse, OutboundRequest, dumps, loads


@pytest.fixture
def settings(tmp_path: Path) -> EmspSettings:
    return EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")


def _start(settings: EmspSettings) -> EmspCore:
    return EmspCore(settings)


def _stop(core: EmspCore) -> None:
    core.db.engine.dispose()  # the process is gone: only the database file is left


def _first_core(settings: EmspSettings) -> EmspCore:
    return with_pushed_token(_start(settings))


def _pushes(calls: list[OutboundRequest]) -> list[tuple[str, str, bool]]:
    return [(c.request.method, c.request.url, loads(c.request.body or "")["valid"]) for c in calls]


@pytest.mark.parametrize("sent_before_crash", [False, True])
def test_an_unanswered_push_is_sent_again_once_after_a_restart(
    settings: EmspSettings, sent_before_crash: bool
) -> None:
    core = _first_core(settings)
    assert core.block_token("TOK1", now=T0)
    if sent_before_crash:  # taken by the sender, the crash came before its answer
        [queued] = core.pending_requests()
    _stop(core)

    restarted = _start(settings)
    calls = restarted.pending_requests()
    assert _pushes(calls) == [("PUT", f"{RECEIVER}NL/EMS/TOK1?type=RFID", False)]
    [call] = calls
    assert call.partner == "cpo1" and call.request.headers["Authorization"].startswith("Token ")
    if sent_before_crash:
        assert call.request_id == queued.request_id  # the same call, not a new one
    restarted.on_response(call.request_id, HttpResponse(200, {}, dumps({"status_code": 1000})), T0)
    _stop(restarted)

    again = _start(settings)  # answered: never sent again
    assert again.pending_requests() == []
    again.block_token("TOK1", now=T0)  # and new pushes get new ids
    [later] = again.pending_requests()
    assert later.request_id != call.request_id


def test_an_answered_push_is_not_sent_after_a_restart(settings: EmspSettings) -> None:
    core = _first_core(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(400, {}, None), T0)  # refused: only logged, as before
    _stop(core)
    assert _start(settings).pending_requests() == []


def test_a_push_the_receiver_could_not_take_is_sent_after_a_restart(settings: EmspSettings) -> None:
    """A 503 (the CPO's receiver down) is no answer to the push: still owed, also after a stop."""
    core = _first_core(settings)
    core.block_token("TOK1", now=T0)
    [call] = core.pending_requests()
    core.on_response(call.request_id, HttpResponse(503, {}, None), T0)
    _stop(core)
    [again] = _start(settings).pending_requests()
    assert again.request_id == call.request_id and again.request.body == call.request.body


def test_a_push_of_a_change_rolled_back_is_not_stored(
    settings: EmspSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    core = _first_core(settings)
    real = core_tokens.token_push.push_token

    def push_then_fail(*args: Any) -> list[str]:
        real(*args)  # queued (and stored) in the unit that now rolls back
        raise RuntimeError("the change failed after its push was queued")

    monkeypatch.setattr(core_tokens.token_push, "push_token", push_then_fail)
    with pytest.raises(RuntimeError):
        core.block_token("TOK1", now=T0)
    assert core.pending_requests() == []
    _stop(core)
    assert _start(settings).pending_requests() == []
