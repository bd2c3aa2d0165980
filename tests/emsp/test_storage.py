"""Storage and request-path mechanics: shared session per request, counters, credentials cache."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from emsp_helpers import BASE, T0, Client, V, auth, register, session
from sqlalchemy.orm import Session

from emsp.core import EmspCore, EmspSettings
from emsp.ocpi.credentials_cache import PartyScope
from emsp.storage.db import Counters, Database, next_value
from emsp.storage.queries import insert_session
from emsp.storage.tables import CounterRow, PartnerRow, ProcessedEventRow, SessionRow
from emsp.wire import HttpRequest


def _count(db: Database, model: type) -> int:
    with db.unit() as s:
        return len(s.query(model).all())


def test_units_in_a_scope_are_separate_transactions() -> None:
    db = Database("sqlite://")
    with db.scope():
        with db.unit() as s:
            s.add(CounterRow(name="kept", value=1))
        with pytest.raises(RuntimeError), db.unit() as s:
            s.add(CounterRow(name="rolled-back", value=1))
            s.flush()
            raise RuntimeError("boom")
        with db.unit() as s:  # the session is usable after a rollback
            assert s.get(CounterRow, "kept") is not None
    with db.unit() as s:
        assert [r.name for r in s.query(CounterRow).all()] == ["kept"]


def test_kept_scope_on_memory_starts_each_scope_fresh() -> None:
    """In-memory SQLite keeps the scope's Connection and Session between scopes (db._kept_scope):
    a scope still sees what was written outside it since, never an object loaded by an earlier
    scope, and nothing an aborted scope left open."""
    db = Database("sqlite://")
    with db.unit() as s:
        s.add(CounterRow(name="c", value=1))
    with db.scope(), db.unit() as s:
        first = s.get(CounterRow, "c")
        assert first is not None and first.value == 1
    with db.unit() as s:  # outside any scope: its own session
        row = s.get(CounterRow, "c")
        assert row is not None
        row.value = 2
    with pytest.raises(RuntimeError), db.scope(), db.unit() as s:
        s.add(CounterRow(name="aborted", value=1))
        s.flush()
        raise RuntimeError("boom")
    with db.scope(), db.unit() as s:
        again = s.get(CounterRow, "c")
        assert again is not None and again is not first and again.value == 2
        assert s.get(CounterRow, "aborted") is None
    assert _count(db, CounterRow) == 1


def test_a_kept_scope_left_untouched_is_not_closed_and_one_that_was_used_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """close() of the kept session only resets it: a scope that left no transaction and no
    object (direct statements only, most requests) skips it; any other scope still ends with it,
    so the next scope loads fresh objects and sees nothing left open."""
    db = Database("sqlite://")
    with db.unit() as s:
        s.add(CounterRow(name="c", value=1))
    closed: list[object] = []
    real = Session.close
    monkeypatch.setattr(Session, "close", lambda self: closed.append(self) or real(self))
    for _ in range(3):
        with db.scope(), db.unit() as s:
            insert_session(s, _session_values())  # a direct write, committed bare
    assert closed == []
    with db.scope(), db.unit() as s:
        first = s.get(CounterRow, "c")
    assert len(closed) == 1
    with db.scope(), db.unit() as s:
        again = s.get(CounterRow, "c")  # held: in the identity map when the scope ends
        assert again is not None and again is not first  # the identity map was emptied
    with db.scope():
        with db.unit() as s:
            s.get(CounterRow, "c")
            s.expunge_all()
        s.connection()  # a transaction left open: close() rolls it back
    assert len(closed) == 3
    with db.scope(), db.unit() as s:
        assert s.get_transaction() is None and len(s.identity_map) == 0  # nothing left open
    assert _count(db, SessionRow) == 3


def _session_values() -> dict[str, object]:
    n = next(_SESSION_IDS)
    return {
        "partner": "cpo-a", "country_code": "NL", "party_id": "CPO", "session_id": f"S{n}",
        "status": "ACTIVE", "token_uid": "TOK1", "contract_id": "NL-EMS-C1",
        "authorization_reference": None, "location_id": "LOC1", "kwh": Decimal("1.230"),
        "start": T0, "end": None, "last_updated": T0, "raw": "{}", "wire": None,
    }  # fmt: skip


_SESSION_IDS = itertools.count(1)


def test_next_value_is_transactional() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        assert [next_value(s, "x") for _ in range(3)] == [1, 2, 3]
    with pytest.raises(RuntimeError), db.unit() as s:
        assert next_value(s, "x") == 4
        raise RuntimeError("boom")
    with db.unit() as s:
        assert next_value(s, "x") == 4  # the rolled-back value is given again


def test_memory_counters_reserve_blocks_and_continue_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'emsp.db'}"
    first = Database(url)
    assert [first.counters.next("request_id") for _ in range(Counters.BLOCK + 2)] == list(
        range(1, Counters.BLOCK + 3)
    )
    reserved = Counters.BLOCK + 2 * Counters.BLOCK  # the second block is twice the first
    with first.unit() as s:
        assert s.get(CounterRow, "request_id").value == reserved  # type: ignore[union-attr]
    first.engine.dispose()
    again = Database(url)  # a restart: continues above everything reserved, never repeats
    assert again.counters.next("request_id") == reserved + 1
    again.engine.dispose()


def test_a_busy_counter_reserves_ever_larger_blocks_up_to_the_cap() -> None:
    """Each reservation is a durable commit on the request path: a counter drawn on every
    authorization must not pay one per thousand requests for ever."""
    db = Database("sqlite://")
    counters = db.counters
    counters.BLOCK, counters.MAX_BLOCK = 1, 8  # small, to see the growth in a few draws
    values, marks = [], []
    while len(marks) < 7:
        values.append(counters.next("authorization_reference"))
        with db.unit() as s:
            mark = s.get(CounterRow, "authorization_reference").value  # type: ignore[union-attr]
        if not marks or mark != marks[-1]:
            marks.append(mark)
    assert [b - a for a, b in zip([0, *marks], marks, strict=False)] == [1, 2, 4, 8, 8, 8, 8]
    assert values == list(range(1, len(values) + 1))  # still 1, 2, 3, ...: a block only when one ran out
    assert values[-1] == marks[-2] + 1  # the last block was reserved when the one before ran out


def test_request_ids_count_up_from_one(core: EmspCore) -> None:
    ids = [
        core.handle(HttpRequest("GET", f"{BASE}/versions", {}), T0).header("X-Request-ID") for _ in range(3)
    ]
    assert ids == ["emsp-req-1", "emsp-req-2", "emsp-req-3"]


def test_credentials_cache_follows_token_rotation_and_direct_changes(core: EmspCore, cpo: Client) -> None:
    assert cpo.call("GET", f"{V}/credentials").status == 200  # token C now cached
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        old, row.token_c = row.token_c, "rotated-behind-the-core"
    assert old is not None
    assert Client(core, old).call("GET", f"{V}/credentials").status == 401
    assert Client(core, "rotated-behind-the-core").call("GET", f"{V}/credentials").status == 200


def test_credentials_cache_never_keeps_a_rolled_back_change(core: EmspCore, cpo: Client) -> None:
    with pytest.raises(RuntimeError), core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.token_c = "never-committed"
        db.flush()
        assert core.credentials_cache.lookup(db, "never-committed") == (
            "cpo1",
            "C",
            PartyScope(frozenset({("DE", "CPA")}), cpo=frozenset({("DE", "CPA")}), version="2.2.1"),
        )
        raise RuntimeError("boom")
    assert Client(core, "never-committed").call("GET", f"{V}/credentials").status == 401
    assert cpo.call("GET", f"{V}/credentials").status == 200


def test_unregister_and_register_again_with_the_cache_warm(core: EmspCore, cpo: Client) -> None:
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/S0").status == 404  # authenticated (and cached)
    assert cpo.call("DELETE", f"{V}/credentials").status == 200
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/S0").status == 401
    again = register(core, token_a="token-A-again")
    assert again.token != cpo.token
    assert again.call("GET", f"{V}/sessions/DE/CPA/S0").status == 404


def test_refused_session_write_changes_nothing(cpo: Client) -> None:
    patch = {"kwh": 1, "last_updated": "2025-03-01T09:30:00Z"}
    assert cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch).status == 404
    refused = cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(kwh="1"))  # kwh as a string
    assert refused.json()["status_code"] == 2001
    assert _count(cpo.core.db, SessionRow) == 0
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session()).status == 201
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(kwh=2)).status == 200
    assert _count(cpo.core.db, SessionRow) == 1
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/S1").json()["data"]["kwh"] == 2


def test_a_file_database_survives_a_restart(tmp_path: Path) -> None:
    settings = EmspSettings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}")
    core = EmspCore(settings)
    cpo = register(core)
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session()).status == 201
    patch = {"kwh": 5, "last_updated": "2025-03-01T09:30:00Z"}
    assert cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch).status == 200
    keys = _count(core.db, ProcessedEventRow)
    core.db.engine.dispose()

    again = EmspCore(settings)  # same database, empty caches
    client = Client(again, cpo.token)
    client.now = cpo.now + timedelta(seconds=1)
    assert client.call("GET", f"{V}/sessions/DE/CPA/S1").json()["data"]["kwh"] == 5
    assert client.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch).status == 200  # replayed: no effect
    assert again.records().sessions[0].kwh == 5
    assert _count(again.db, ProcessedEventRow) == keys and again.bus.dead_letters() == []
    resp = again.handle(HttpRequest("GET", f"{V}/credentials", auth(cpo.token)), T0)
    assert resp.status == 200 and resp.header("X-Request-ID") not in (None, "emsp-req-1")
    again.db.engine.dispose()
