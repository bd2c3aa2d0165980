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
from emsp.storage.packed import CDRS, EVENTS, pack, unpack
from emsp.storage.tables import OutboxRow
from emsp.wire import loads

AT = datetime(2026, 3, 2, 7, 0, 5, 123000, tzinfo=UTC)
TEXTS = [
    "",
    "{}",
    '{"partner":"cpo-a","session":{"kwh":"1.2300","end":null},"created":true,"ended":false}',
    '{"text":"ünïcödé ✓ \\u0000","n":[1,2.50,-3e-7]}',
    "x" * 100_000,  # larger than deflate's window and the dictionary
]


@pytest.mark.parametrize("packed_format", [EVENTS, CDRS])
@pytest.mark.parametrize("text", TEXTS)
def test_pack_round_trips_and_text_reads_as_is(text: str, packed_format: bytes) -> None:
    assert unpack(pack(text, packed_format)) == text
    assert unpack(text) == text  # a row written before packing (or on another backend)


@given(st.text(), st.sampled_from([EVENTS, CDRS]))
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
