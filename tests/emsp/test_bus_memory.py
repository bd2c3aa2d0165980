"""Draining fresh rows from memory (sim, inline on SQLite) behaves exactly as claiming them does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from emsp_helpers import FakePricer, V, register, session

from emsp.bus import SessionUpserted, TokenChanged
from emsp.core import EmspCore, EmspSettings
from emsp.outbox import append

T = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _core(memory: bool, **settings: Any) -> EmspCore:
    core = EmspCore(EmspSettings(**settings), pricer=FakePricer())
    assert core.bus.memory  # inline on SQLite: the default of sim and tests
    core.bus.memory = memory  # False: the claim path, as a served process drains
    return core


@pytest.mark.parametrize("memory", [True, False])
def test_batches_hold_back_a_key_whose_earlier_row_is_in_the_same_drain(memory: bool) -> None:
    core = _core(memory)
    order: list[str] = []
    core.bus.subscribe(TokenChanged, "order", lambda e, db: order.append(f"{e.uid}:{e.valid}"))
    core.publish(TokenChanged("emsp", "X", "RFID", "C0", True, "ALLOWED", T), T)  # memory is known now
    order.clear()
    core.issue_token("A", contract_id="C1", now=T)  # issue_token does not drain: three rows wait
    core.issue_token("A", contract_id="C1", valid=False, now=T + timedelta(seconds=1))
    core.issue_token("B", contract_id="C2", now=T)
    assert core.drain_outbox(T) == 3
    # A claim takes one row per ordering key: A's second row waits for the next batch, B does not.
    assert order == ["A:True", "B:True", "A:False"]
    assert [e.state for e in core.events_after(0, 10)] == ["done"] * 4


@pytest.mark.parametrize("memory", [True, False])
def test_a_failure_holds_its_session_and_retries_through_the_table(memory: bool) -> None:
    core = _core(memory, max_attempts=2)
    cpo = register(core)
    seen: list[str] = []

    def flaky(event: SessionUpserted, db: Any) -> None:
        if event.session.session_id == "S1" and event.created and "failed" not in seen:
            seen.append("failed")
            raise RuntimeError("CRM down")
        seen.append(f"{event.session.session_id}:{event.kind}")

    core.bus.subscribe(SessionUpserted, "crm", flaky)
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S0", session("S0"))
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session("S1", status="COMPLETED"))  # started + ended
    states = {
        (e.payload["session"]["session_id"], e.kind): (e.state, e.attempts) for e in core.events_after(0, 10)
    }
    assert states[("S1", "session.started")] == ("pending", 1)
    assert states[("S1", "session.ended")] == ("pending", 0)  # held behind its predecessor
    assert core.bus.pending("cpo1") == 2
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S2", session("S2"))  # a second later: the retry is due first
    # One claim: S1's start (now due) and S2's; S1's end waited for its start, so it is next.
    assert seen == [
        "S0:session.started", "failed", "S1:session.started", "S2:session.started", "S1:session.ended"
    ]  # fmt: skip
    assert all(e.state == "done" for e in core.events_after(0, 10))
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S3", session("S3"))  # and memory takes over again
    assert seen[-1] == "S3:session.started"
    assert core.bus._quiet is memory


def test_a_row_whose_transaction_rolled_back_is_never_drained() -> None:
    core = _core(True)
    ghost = TokenChanged("emsp", "GHOST", "RFID", "C0", True, "ALLOWED", T)
    with pytest.raises(RuntimeError), core.db.unit() as db:
        core.bus.write(db, [ghost], T)
        raise RuntimeError("the cause failed: the event goes with it")
    core.publish(TokenChanged("emsp", "REAL", "RFID", "C1", True, "ALLOWED", T), T)
    assert [(e.payload["uid"], e.state) for e in core.events_after(0, 10)] == [("REAL", "done")]


def test_a_replayed_event_is_applied_once_from_memory_too() -> None:
    core = _core(True)
    seen: list[str] = []
    core.bus.subscribe(TokenChanged, "count", lambda e, db: seen.append(e.uid))
    event = TokenChanged("emsp", "A", "RFID", "C1", True, "ALLOWED", T)
    core.publish(event, T)
    core.publish(event, T)
    assert core.bus._quiet and seen == ["A"]
    assert [e.state for e in core.events_after(0, 10)] == ["done", "done"]


def test_a_row_no_handler_takes_is_written_done_and_never_counts_against_the_bound() -> None:
    core = _core(True, max_pending_per_partner=1, inline_drain=True)
    cpo = register(core)
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session()).status == 201
    for minute in (10, 20, 30):  # updates: sessions.count_started takes only starts
        patch = {"kwh": minute, "last_updated": f"2025-03-01T09:{minute}:00Z"}
        assert cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch).status == 200
    assert core.bus.pending("cpo1") == 0
    events = core.events_after(0, 10)
    assert [(e.kind, e.state) for e in events] == [("session.started", "done")] + [
        ("session.updated", "done")
    ] * 3


@pytest.mark.parametrize("memory", [True, False])
def test_pending_counts_rows_handlers_write_in_and_out(memory: bool) -> None:
    """A row a handler writes (as a CDR's settlement) is counted in when written and out when
    finished: a drain never counts down a row of the partner that is still pending (here one
    whose commit is announced while the drain runs, held behind its key's earlier row)."""
    core = _core(memory)

    def emit(event: TokenChanged, db: Any) -> None:
        if event.uid == "A" and event.valid:
            append(db, [TokenChanged("emsp", "EMITTED", "RFID", "C8", True, "ALLOWED", T)], T)
            core.bus.committed([late])

    core.bus.subscribe(TokenChanged, "emit", emit)
    core.publish(TokenChanged("emsp", "X", "RFID", "C0", True, "ALLOWED", T), T)  # memory is known now
    first = TokenChanged("emsp", "A", "RFID", "C1", True, "ALLOWED", T)
    late = TokenChanged("emsp", "A", "RFID", "C1", False, "ALLOWED", T + timedelta(seconds=1))
    with core.db.unit() as db:
        core.bus.write(db, [first, late], T)
    core.bus.committed([first])
    core.drain_outbox(T)
    pending = [e.payload["uid"] for e in core.events_after(0, 10) if e.state == "pending"]
    assert pending == (["A"] if memory else [])  # memory: `late` came after the drain took its rows
    assert core.bus.pending("emsp") == len(pending)
