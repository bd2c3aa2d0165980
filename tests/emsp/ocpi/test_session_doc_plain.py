"""A running session's document is stored as plain text (it is rewritten by the next PATCH); the
document it ends with is packed, as every session document was (emsp.storage.packed, Plain). Every
reader gets the same text either way."""

from __future__ import annotations

from decimal import Decimal

from emsp_helpers import Client, V, session
from sqlalchemy import select

from emsp.core import EmspCore
from emsp.storage.packed import SESSIONS, unpack
from emsp.storage.tables import SessionRow
from emsp.wire import loads


def _stored(core: EmspCore) -> tuple[object, str]:
    """(the raw column as SQLite holds it, the text the ORM reads)."""
    with core.db.unit() as s:
        held = s.connection().exec_driver_sql("select raw from sessions").scalar_one()
        return held, s.scalars(select(SessionRow.raw)).one()


def test_a_running_session_is_stored_plain_and_its_end_packed(core: EmspCore, cpo: Client) -> None:
    url = f"{V}/sessions/DE/CPA/S1"
    assert cpo.call("PUT", url, session("S1")).status == 201
    held, text = _stored(core)
    assert isinstance(held, str) and held == text and loads(text)["status"] == "ACTIVE"
    patch = {"kwh": Decimal("2.5"), "last_updated": "2025-03-01T09:30:00Z"}
    assert cpo.call("PATCH", url, patch).status == 200
    held, text = _stored(core)
    assert isinstance(held, str) and held == text and loads(text)["kwh"] == Decimal("2.5")
    ended = {
        "status": "COMPLETED",
        "end_date_time": "2025-03-01T10:00:00Z",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    assert cpo.call("PATCH", url, ended).status == 200
    held, text = _stored(core)
    assert isinstance(held, bytes) and held[:1] == SESSIONS and unpack(held) == text
    assert loads(text)["status"] == "COMPLETED" and loads(text)["kwh"] == Decimal("2.5")
    assert cpo.call("GET", url).json()["data"] == loads(text)
