"""The durable bus: events as outbox rows with their cause, processed after the response."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from emsp_helpers import Client, FakePricer, V, cdr, location, register, session, tariff
from hypothesis import given
from hypothesis import strategies as st

from emsp.bus import KINDS, CdrReceived, SessionUpserted, decode, encode
from emsp.core import EmspCore, EmspSettings
from emsp.model import CdrInfo, Money, PartyRef, SessionInfo

T = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def _settings(**changes: Any) -> EmspSettings:
    return replace(EmspSettings(), **changes)


def _session_event(partner: str = "cpo1", sid: str = "S1") -> SessionUpserted:
    info = SessionInfo(
        partner, PartyRef("DE", "CPA"), sid, "ACTIVE", "RFID1", "C1", None, "LOC1", Decimal(0), T, None, T
    )
    return SessionUpserted(partner, info, created=True)


def _billable(cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())


def test_same_event_twice_one_effect(core: EmspCore) -> None:
    seen: list[str] = []
    core.bus.subscribe(SessionUpserted, "count", lambda e, db: seen.append(e.session.session_id))
    core.publish(_session_event(), T)
    core.publish(_session_event(), T)
    assert seen == ["S1"]
    assert [e.state for e in core.events_after(0, 10)] == ["done", "done"]


def test_replayed_cdr_event_bills_once(core: EmspCore, cpo: Client) -> None:
    _billable(cpo)
    cpo.call("POST", f"{V}/cdrs", cdr())
    info = core.records().cdrs[0]
    core.publish(CdrReceived("cpo1", info), T)
    core.publish(CdrReceived("cpo1", info), T)
    assert len(core.records().invoice_lines) == 1
    assert 'emsp_cdrs_received_total{partner="cpo1"} 1.0' in core.metrics_text()


def test_full_partner_queue_is_transient_error_and_nothing_stored() -> None:
    core = EmspCore(EmspSettings(max_pending_per_partner=0), pricer=FakePricer())
    cpo = register(core)
    resp = cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    assert resp.status == 503 and resp.json()["status_code"] == 3000
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/S1").status == 404


def test_bound_counts_unprocessed_rows_and_frees_after_the_drain() -> None:
    core = EmspCore(_settings(max_pending_per_partner=2, inline_drain=False), pricer=FakePricer())
    cpo = register(core)
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session()).status == 201
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S2", session("S2")).status == 201
    busy = cpo.call("PUT", f"{V}/sessions/DE/CPA/S3", session("S3"))
    assert busy.status == 503 and busy.header("Retry-After") == "1"
    assert core.bus.pending("cpo1") == 2
    assert core.drain_outbox(cpo.now) == 2 and core.bus.pending("cpo1") == 0
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S3", session("S3")).status == 201


def test_a_failing_handler_never_changes_the_answer_nor_skips_billing(core: EmspCore, cpo: Client) -> None:
    def boom(event: Any, db: Any) -> None:
        raise RuntimeError("CRM down")

    core.bus._handlers[CdrReceived].insert(0, ("crm.notify", boom))  # runs before billing's handlers
    core.bus.on_error = lambda *args: 1 / 0  # type: ignore[assignment]  # even a failing error callback
    _billable(cpo)
    resp = cpo.call("POST", f"{V}/cdrs", cdr())
    assert resp.status == 201 and resp.json()["status_code"] == 1000
    assert len(core.records().invoice_lines) == 1
    row = next(e for e in core.events_after(0, 100) if e.kind == "cdr.received")
    assert row.state == "pending" and row.attempts == 1 and "CRM down" in (row.last_error or "")


def test_retries_back_off_then_dead_letter_and_unblock_the_session() -> None:
    core = EmspCore(_settings(max_attempts=3), pricer=FakePricer())
    cpo = register(core)
    calls: list[datetime] = []
    order: list[str] = []

    def flaky(event: SessionUpserted, db: Any) -> None:
        calls.append(cpo.now)
        raise RuntimeError("flaky")

    def maybe_flaky(event: SessionUpserted, db: Any) -> None:
        if event.session.session_id == "S1" and event.created:
            flaky(event, db)

    core.bus.subscribe(SessionUpserted, "flaky", maybe_flaky)
    core.bus.subscribe(
        SessionUpserted, "order", lambda e, db: order.append(f"{e.session.session_id}:{e.kind}")
    )
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", {"kwh": 1, "last_updated": "2025-03-01T09:10:00Z"})
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S2", session("S2"))  # another session is not held up
    assert order == ["S1:session.started", "S2:session.started"]
    assert len(calls) == 2  # retried once the 1 s backoff had passed (at the next request's drain)
    assert calls[1] - calls[0] == timedelta(seconds=1)
    for _ in range(10):  # a second apart: the backoff (1 s, 2 s) lets some drains pass by
        cpo.now += timedelta(seconds=1)
        core.drain_outbox(cpo.now)
    assert len(calls) == 3  # max_attempts
    assert [e.kind for e in core.bus.dead_letters()] == ["session.started"]
    assert order[-1] == "S1:session.updated"  # unblocked once its predecessor was dead-lettered
    assert 'emsp_bus_dead_letters_total{kind="session.started",partner="cpo1"} 1.0' in core.metrics_text()


def test_stream_kinds_cursor_and_idempotency_keys(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="NL-EMS-C00000001-X", now=T)
    _billable(cpo)
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", {"kwh": 5, "last_updated": "2025-03-01T09:30:00Z"})
    done = {"status": "COMPLETED", "last_updated": "2025-03-01T10:00:00Z"}
    cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", done)
    cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", done)  # a replay: same key, not a second end
    cpo.call("POST", f"{V}/cdrs", cdr())
    events = core.events_after(0, 100)
    kinds = [e.kind for e in events]
    assert kinds == [
        "token.changed", "location.upserted", "tariff.upserted", "session.started",
        "session.updated", "session.ended", "session.updated", "cdr.received", "cdr.settled",
    ]  # fmt: skip
    assert set(kinds) <= set(KINDS)
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert all(e.state == "done" for e in events)
    settled = events[-1]
    assert settled.idempotency_key == "cdr-settled:DE*CPA:CDR1"
    assert settled.payload["amount_excl_vat"] == "3.15" and settled.ordering_key == "session:DE*CPA:S1"
    assert events[-3].idempotency_key != events[-4].idempotency_key
    page = core.events_after(events[2].seq, 2)
    assert [e.seq for e in page] == [events[3].seq, events[4].seq]


def test_a_session_first_seen_completed_is_started_and_ended(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status="COMPLETED"))
    assert [e.kind for e in core.events_after(0, 10)] == ["session.started", "session.ended"]
    assert 'emsp_sessions_started_total{partner="cpo1"} 1.0' in core.metrics_text()


def test_a_restart_resumes_what_was_not_processed(tmp_path: Path) -> None:
    """Events committed but never processed (a crash before the drain) are billed after the restart."""
    settings = _settings(database_url=f"sqlite:///{tmp_path / 'emsp.db'}", inline_drain=False)
    core = EmspCore(settings, pricer=FakePricer())
    cpo = register(core)
    _billable(cpo)
    assert cpo.call("POST", f"{V}/cdrs", cdr()).status == 201
    assert core.records().invoice_lines == ()
    core.db.engine.dispose()  # "crash": nothing was drained

    again = EmspCore(settings, pricer=FakePricer())
    retry = Client(again, cpo.token)
    retry.now = cpo.now
    assert retry.call("POST", f"{V}/cdrs", cdr()).json()["status_message"] == "CDR already received"
    assert again.bus.pending("cpo1") == 0  # unknown until the first drain looks
    assert again.drain_outbox(retry.now) >= 1
    assert [line.cdr_id for line in again.records().invoice_lines] == ["CDR1"]
    assert again.drain_outbox(retry.now, force=True) == 0  # nothing left, nothing billed twice
    assert len(again.records().invoice_lines) == 1
    again.db.engine.dispose()


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
_moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
_money = st.decimals(allow_nan=False, allow_infinity=False, places=4)


@given(
    cdr_id=_text, sid=st.none() | _text, energy=_money, excl=_money, incl=st.none() | _money,
    start=_moment, credit=st.booleans(),
)  # fmt: skip
def test_payloads_round_trip_exactly(
    cdr_id: str, sid: str | None, energy: Decimal, excl: Decimal, incl: Decimal | None,
    start: datetime, credit: bool,
) -> None:  # fmt: skip
    info = CdrInfo(
        "p", PartyRef("DE", "CPA"), cdr_id, sid, "U", "C", None, "L", energy,
        Money(excl, incl, "EUR"), start, start + timedelta(hours=1), start, credit,
    )  # fmt: skip
    event = CdrReceived("p", info)
    assert decode(event.kind, encode(event)) == event


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        decode("nope", {})


def test_two_changes_of_a_token_within_one_millisecond_have_distinct_stable_keys(tmp_path: Path) -> None:
    """The key was the change's time in milliseconds: issue and block in the same millisecond
    shared it, so a handler (and JetStream's de-duplication) took the block for a repeat."""
    url = f"sqlite:///{tmp_path / 'e.db'}"
    core = EmspCore(_settings(database_url=url))
    at = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
    core.issue_token("RFID1", contract_id="C1", now=at)
    core.issue_token("RFID1", contract_id="C1", valid=False, now=at + timedelta(microseconds=10))
    core.issue_token("RFID2", contract_id="C2", now=at)
    keys = [e.idempotency_key for e in core.bus.events_after(0, 10)]
    assert len(keys) == 3 and len(set(keys)) == 3
    core.db.engine.dispose()
    restarted = EmspCore(_settings(database_url=url))  # numbers go on above the last ones given
    restarted.issue_token("RFID1", contract_id="C1", now=at)
    again = [e.idempotency_key for e in restarted.bus.events_after(0, 10)]
    assert again[:3] == keys and again[3] not in keys  # stored keys never change; new ones are new
    decoded = [decode(e.kind, e.payload).idempotency_key for e in restarted.bus.events_after(0, 10)]
    assert decoded == again  # what a consumer recomputes from the payload is the stored key
    restarted.db.engine.dispose()
