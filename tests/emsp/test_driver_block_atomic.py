"""Blocking (or unblocking) a driver is one transaction over all their tokens: a failure midway
(here the second token's push raising, as a crash would) leaves every token as it was, with no
event written and no push queued, and a retry does it all."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import T0, Client, V, register

from emsp import core_tokens
from emsp.core import EmspCore, EmspSettings
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps

PARTNERS = {"cpo1": ("DE", "CPA"), "cpo2": ("NL", "CPB")}


class Crash(Exception):
    pass


@pytest.fixture
def core() -> EmspCore:
    core = EmspCore(EmspSettings())
    for partner, party in PARTNERS.items():
        register(core, partner, f"token-A-{partner}", party)
        with core.db.unit() as db:  # a Tokens receiver, so each change is pushed
            row = db.get(PartnerRow, partner)
            assert row is not None
            url = f"http://{partner}.test/ocpi/2.2.1/tokens/"
            row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": url}])
    core.issue_credentials("driver-1", now=T0, push=False)
    core.pending_requests()
    return core


def _allowed(core: EmspCore, partner: str, uid: str) -> str:
    client = Client(core, f"token-A-{partner}")  # any registered partner may ask; its own token
    client.token = _token_c(core, partner)
    resp = client.call("POST", f"{V}/tokens/{uid}/authorize")
    return str(resp.json()["data"]["allowed"])


def _token_c(core: EmspCore, partner: str) -> str:
    with core.db.unit() as db:
        row = db.get(PartnerRow, partner)
        assert row is not None and row.token_c is not None
        return row.token_c


def _crash_on_second_push(monkeypatch: pytest.MonkeyPatch) -> None:
    real = core_tokens.token_push.push_token
    calls = 0

    def push(*args: Any) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash("the process died between two tokens")
        return real(*args)

    monkeypatch.setattr(core_tokens.token_push, "push_token", push)


@pytest.mark.parametrize("valid", [False, True])
def test_a_failure_midway_changes_no_token(
    core: EmspCore, monkeypatch: pytest.MonkeyPatch, valid: bool
) -> None:
    if valid:  # unblocking starts from a blocked driver
        core.set_driver_valid("driver-1", False, now=T0)
        core.pending_requests()
    before = {str(r.partner): (r.uid, r.valid, r.last_updated) for r in core.driver_tokens("driver-1")}
    events = len(core.events_after(0, limit=1000))
    _crash_on_second_push(monkeypatch)
    with pytest.raises(Crash):
        core.set_driver_valid("driver-1", valid, now=T0.replace(hour=10))
    after = {str(r.partner): (r.uid, r.valid, r.last_updated) for r in core.driver_tokens("driver-1")}
    assert after == before
    assert not core.has_pending_requests()
    assert len(core.events_after(0, limit=1000)) == events
    expected = "BLOCKED" if valid else "ALLOWED"  # the in-memory index saw the rollback too
    answers = {p: _allowed(core, p, uid) for p, (uid, _, _) in before.items()}
    assert answers == dict.fromkeys(PARTNERS, expected)

    monkeypatch.undo()  # the retry does all of it
    changed = core.set_driver_valid("driver-1", valid, now=T0.replace(hour=10))
    assert sorted(changed) == sorted(uid for uid, _, _ in before.values())
    assert all(r.valid is valid for r in core.driver_tokens("driver-1"))
    assert sorted(p.partner for p in core.pending_requests()) == sorted(PARTNERS)
    assert len(core.events_after(0, limit=1000)) == events + len(PARTNERS)


@pytest.mark.parametrize("crash_at", [1, 2, 3, 4])  # 2 blocks then 2 new tokens' pushes
def test_replacing_the_cards_fails_whole_or_not_at_all(
    core: EmspCore, monkeypatch: pytest.MonkeyPatch, crash_at: int
) -> None:
    """A lost card: blocking every token and issuing each partner a new one is one transaction.
    A crash midway used to leave the driver with every card blocked and no new one, and the retry
    (it replaces valid tokens only) then issued nothing: a driver locked out for good."""
    before = {str(r.partner): (r.uid, r.valid) for r in core.driver_tokens("driver-1")}
    events = len(core.events_after(0, limit=1000))
    real = core_tokens.token_push.push_token
    calls = 0

    def push(*args: Any) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise Crash("the process died while replacing the cards")
        return real(*args)

    monkeypatch.setattr(core_tokens.token_push, "push_token", push)
    with pytest.raises(Crash):
        core.replace_credentials("driver-1", now=T0.replace(hour=10))
    assert {str(r.partner): (r.uid, r.valid) for r in core.driver_tokens("driver-1")} == before
    assert not core.has_pending_requests()
    assert len(core.events_after(0, limit=1000)) == events

    monkeypatch.undo()  # the retry replaces every card
    issued = core.replace_credentials("driver-1", now=T0.replace(hour=10))
    tokens = core.driver_tokens("driver-1")
    assert sorted(r.uid for r in tokens if r.valid) == sorted(issued) and len(issued) == len(PARTNERS)
    assert all(not r.valid for r in tokens if r.uid not in issued)
    answers = {p: _allowed(core, p, uid) for p, (uid, _) in before.items()}
    assert answers == dict.fromkeys(PARTNERS, "BLOCKED")
    assert len(core.events_after(0, limit=1000)) == events + 2 * len(PARTNERS)
