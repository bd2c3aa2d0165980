"""`Database.scope()` and `unit()`, entered several times per OCPI request, as small classes
(emsp.storage.db): a request's write commits, a failing unit rolls back, a nested unit is its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from emsp.storage.db import Database
from emsp.storage.queries import insert_session, update_session
from emsp.storage.tables import PartnerRow, SessionRow

AT = datetime(2026, 3, 2, 7, 0, 5, tzinfo=UTC)


def _values(session_id: str) -> dict[str, Any]:
    return {
        "partner": "cpo-a", "country_code": "NL", "party_id": "CPO", "session_id": session_id,
        "status": "ACTIVE", "token_uid": "TOK1", "contract_id": "NL-EMS-C1",
        "authorization_reference": None, "location_id": "LOC1", "kwh": Decimal("1.230"),
        "start": AT, "end": None, "last_updated": AT, "raw": "{}", "wire": None,
    }  # fmt: skip


def _status(db: Database) -> str:
    with db.unit() as s:
        return s.scalars(select(SessionRow.status)).one()


def test_a_request_shaped_scope_commits_its_write() -> None:
    """A request's scope (entered again by the router), its unit and one direct UPDATE, as a session
    PATCH. Its cost (53 Python calls with @contextmanager generators, 36 as classes, the UPDATE's own
    ~25 of them SQLAlchemy's) is a benchmark's figure, not asserted: it moves with SQLAlchemy."""
    db = Database("sqlite://")
    with db.scope(), db.unit() as s:
        insert_session(s, _values("S1"))
    statuses = iter(["CHARGING", "COMPLETED"])

    def request() -> None:
        with db.scope(), db.scope(), db.unit() as s:
            update_session(s, 1, {"status": next(statuses)})

    request()
    assert _status(db) == "CHARGING"
    request()
    assert _status(db) == "COMPLETED"


def test_a_failing_unit_in_a_scope_rolls_back_and_the_next_unit_works() -> None:
    db = Database("sqlite://")
    with db.scope():
        with db.unit() as s:
            insert_session(s, _values("S1"))
        with pytest.raises(RuntimeError), db.unit() as s:
            update_session(s, 1, {"status": "COMPLETED"})
            s.add(PartnerRow(partner_id="cpo-a", token_a="A"))
            raise RuntimeError("boom")
        with db.unit() as s:  # the scope's session is usable again, and a unit nested in it is its own
            with db.unit() as inner:
                assert inner is not s
            assert s.scalars(select(PartnerRow.partner_id)).all() == []
    assert _status(db) == "ACTIVE"
