"""Outbox payloads packed on SQLite read back as the exact text written, on every path and backend
(emsp.storage.packed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from databases import BACKENDS, database_url
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert, select

from emsp.bus import SessionUpserted
from emsp.model import PartyRef, SessionInfo
from emsp.outbox import Outbox, row_values
from emsp.storage import outbox_sql as sql
from emsp.storage.db import Database
from emsp.storage.packed import CDRS, EVENTS, SESSIONS, pack, unpack
from emsp.storage.queries import insert_session, session_raw, update_session
from emsp.storage.tables import OutboxRow, SessionRow
from emsp.wire import loads

AT = datetime(2026, 3, 2, 7, 0, 5, 123000, tzinfo=UTC)
TEXTS = [
    "",
    "{}",
    '{"partner":"cpo-a","session":{"kwh":"1.2300","end":null},"created":true,"ended":false}',
    '{"text":"ünïcödé ✓ \\u0000","n":[1,2.50,-3e-7]}',
    "x" * 100_000,  # larger than deflate's window and the dictionary
]


@pytest.mark.parametrize("packed_format", [EVENTS, CDRS, SESSIONS])
@pytest.mark.parametrize("text", TEXTS)
def test_pack_round_trips_and_text_reads_as_is(text: str, packed_format: bytes) -> None:
    assert unpack(pack(text, packed_format)) == text
    assert unpack(text) == text  # a row written before packing (or on another backend)


@given(st.text(), st.sampled_from([EVENTS, CDRS, SESSIONS]))
def test_pack_round_trips_any_text(text: str, packed_format: bytes) -> None:
    assert unpack(pack(text, packed_format)) == text


def test_an_unknown_format_is_refused_not_misread() -> None:
    with pytest.raises(ValueError, match="unknown packed payload format"):
        unpack(b"\x7f" + pack("{}")[1:])


def _event(sid: str) -> SessionUpserted:
    info = SessionInfo(
        "cpo-a", PartyRef("DE", "CPA"), sid, "ACTIVE", "TOK1", "NL-EMS-C1", None, "LOC1",
        Decimal("1.2300"), AT, None, AT,
    )  # fmt: skip
    return SessionUpserted("cpo-a", info, created=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_write_and_read_path_gives_back_the_text(backend: str) -> None:
    """Direct (SQLite cursor) and Core inserts; the claim, the ORM readers (events, NATS): the same
    text. On SQLite it is stored packed and smaller, on PostgreSQL as the text itself."""
    with database_url(backend) as url:
        db = Database(url)
        outbox = Outbox(db)
        values = [row_values(_event(f"S{n}"), AT) for n in range(3)]
        texts = [v["payload"] for v in values]
        with db.unit() as session:
            outbox.write(session, [_event("S0")], AT)  # the request path (direct on SQLite)
            session.connection().execute(insert(OutboxRow), values[1:])  # the Core path
        assert [e.payload for e in outbox.events_after(0, 10)] == [loads(t) for t in texts]
        assert [e.payload for e in outbox.unpublished(10)] == [loads(t) for t in texts]
        with db.session_factory() as session:
            claimed = session.connection().execute(sql.CLAIM, {"now": AT, "size": 10}).all()
            assert [row.payload for row in claimed] == texts  # three sessions: all due
            assert session.scalars(select(OutboxRow.payload).order_by(OutboxRow.seq)).all() == texts
            raw = [
                p for (p,) in session.connection().exec_driver_sql("select payload from outbox order by seq")
            ]
        if backend == "sqlite":
            assert all(isinstance(p, bytes) and len(p) < len(t) / 2 for p, t in zip(raw, texts, strict=True))
        else:
            assert raw == texts
        db.engine.dispose()


# A stored Session's canonical document as the eMSP writes it (OCPI 2.2.1 shape), active then ended.
SESSION_DOC = (
    '{"country_code":"DE","party_id":"CPA","id":"cpo-a-S00001","start_date_time":"2026-03-02T07:00:12Z",'
    '"kwh":7.155,"cdr_token":{"country_code":"NL","party_id":"EMS","uid":"AED23B0F","type":"RFID",'
    '"contract_id":"NL-EMS-C93056658"},"auth_method":"AUTH_REQUEST","location_id":"LOC-UTR-1-30",'
    '"evse_uid":"CS-A-16-1-L30-1","connector_id":"1","currency":"EUR","status":"ACTIVE",'
    '"last_updated":"2026-03-02T07:32:00.206Z","authorization_reference":"NLEMS0000000001"}'
)
SESSION_ENDED = SESSION_DOC.replace('"ACTIVE"', '"COMPLETED"')[:-1] + (
    ',"end_date_time":"2026-03-02T07:32:00Z","charging_periods":[{"start_date_time":"2026-03-02T07:00:12Z",'
    '"dimensions":[{"type":"ENERGY","volume":7.1550},{"type":"TIME","volume":0.5300}],"tariff_id":"STD"}],'
    '"total_cost":{"excl_vat":3.5710,"incl_vat":4.2494}}'
)


def _session_values(sid: str, raw: str) -> dict[str, object]:
    return {
        "partner": "cpo-a", "country_code": "DE", "party_id": "CPA", "session_id": sid, "status": "ACTIVE",
        "token_uid": "AED23B0F", "contract_id": "NL-EMS-C93056658", "authorization_reference": None,
        "location_id": "LOC-UTR-1-30", "kwh": Decimal("1.2"), "start": AT, "end": None, "last_updated": AT,
        "raw": raw, "wire": None,
    }  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stored_session_document_reads_back_as_written_on_every_path(backend: str) -> None:
    """The PUT's INSERT and the PATCH's UPDATE (direct on SQLite), the Core insert, the ORM and the
    PATCH's SELECT all give back the text; SQLite holds it packed (format 3, under a third of it)."""
    with database_url(backend) as url:
        db = Database(url)
        with db.unit() as session:
            pk = insert_session(session, _session_values("S1", SESSION_DOC))
            session.connection().execute(insert(SessionRow), _session_values("S2", SESSION_DOC))
        with db.unit() as session:
            update_session(session, pk, {**_session_values("S1", SESSION_ENDED), "status": "COMPLETED"})
        with db.unit() as session:
            stored = session_raw(session, "DE", "CPA", "S1")
            assert stored is not None and stored[1] == SESSION_ENDED
            docs = session.scalars(select(SessionRow.raw).order_by(SessionRow.pk)).all()
            assert docs == [SESSION_ENDED, SESSION_DOC]
            raw = [p for (p,) in session.connection().exec_driver_sql("select raw from sessions order by pk")]
        if backend == "sqlite":
            assert all(isinstance(p, bytes) and p[:1] == SESSIONS for p in raw)
            assert len(raw[0]) < len(SESSION_ENDED) / 3 and unpack(raw[0]) == SESSION_ENDED
        else:
            assert raw == docs
        db.engine.dispose()


def test_a_session_document_stored_as_text_by_an_older_version_still_reads() -> None:
    db = Database("sqlite://")
    with db.unit() as session:
        session.connection().exec_driver_sql(
            "insert into sessions (partner, country_code, party_id, session_id, status, token_uid,"
            " contract_id, location_id, kwh, start, last_updated, raw) values ('cpo-a', 'DE', 'CPA', 'OLD',"
            " 'ACTIVE', 'T', 'C', 'L', '1', '2026-03-02 07:00:00.000000', '2026-03-02 07:00:00.000000', ?)",
            (SESSION_DOC,),
        )
    with db.unit() as session:
        stored = session_raw(session, "DE", "CPA", "OLD")
        assert stored is not None and stored[1] == SESSION_DOC
        assert session.scalars(select(SessionRow.raw)).all() == [SESSION_DOC]
    db.engine.dispose()
