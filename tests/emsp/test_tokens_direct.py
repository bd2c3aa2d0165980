"""Token lookups and authorization records on SQLite's cursor (emsp.storage.direct) read and store
exactly what the Core path does, and are seen by the engine's cursor events like any statement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from emsp.services import tokens
from emsp.services.tokens import TokenAuthority
from emsp.storage.db import Database
from emsp.storage.tables import AuthorizationRow, TokenRow

AT = datetime(2026, 3, 2, 7, 0, 5, 123000, tzinfo=UTC)

# Each column's kinds of value: nulls, false booleans, a list of locations, a partner and a driver.
_TOKENS = [
    {"uid": "RFID1", "type": "RFID", "contract_id": "C1", "valid": True, "whitelist": "ALLOWED",
     "issuer": "eMSP", "has_credit": True, "expires_at": None, "allowed_locations_json": None,
     "last_updated": AT, "driver_id": None, "partner": None},
    {"uid": "rfid2", "type": "APP_USER", "contract_id": "C2", "valid": False, "whitelist": "NEVER",
     "issuer": "eMSP", "has_credit": False, "expires_at": AT.replace(year=2027),
     "allowed_locations_json": '[["DE","CPA","LOC1"]]', "last_updated": AT.replace(microsecond=0),
     "driver_id": "D-2", "partner": "cpo-a"},
]  # fmt: skip


def _authority(core_path: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Database, TokenAuthority]:
    if core_path:  # what another backend takes: the Core statements
        monkeypatch.setattr(tokens._direct_token_state, "rows", lambda *_a: None)
        monkeypatch.setattr(tokens._direct_record, "write", lambda *_a: None)
    db = Database("sqlite://")
    with db.unit() as s:
        s.add_all(TokenRow(**values) for values in _TOKENS)
    return db, TokenAuthority(db, "REF-")


def _lookups_and_records(core_path: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[Any]]:
    db, authority = _authority(core_path, monkeypatch)
    states = []
    with db.unit() as s:
        for uid, kind in (("rfid1", "RFID"), ("RFID2", "APP_USER"), ("RFID3", "RFID"), ("RFID1", "OTHER")):
            states.append(authority.lookup(s, uid, kind))
    for uid, location in (("RFID1", "LOC1"), ("RFID2", None), ("UNKNOWN", "LOC2")):
        with db.unit() as s:
            authority.authorize(
                lambda s=s: s, partner="cpo-a", uid=uid, token_type="RFID", party=("DE", "CPA"),
                location_id=location, now=AT,
            )  # fmt: skip
    with db.unit() as s:
        rows = s.connection().exec_driver_sql("select * from authorizations order by pk")
        stored = [tuple(r) for r in rows]
        assert len(list(s.scalars(select(AuthorizationRow)))) == 3
    return states, stored


def test_direct_lookups_and_records_equal_the_core_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    direct = _lookups_and_records(False, monkeypatch)
    with monkeypatch.context() as patched:
        core = _lookups_and_records(True, patched)
    assert direct == core
    states, _records = direct
    assert [s is not None for s in states] == [True, True, False, False]
    assert states[1] is not None and states[1].allowed_locations is not None  # read from its JSON


def test_a_token_read_directly_is_seen_by_the_engines_cursor_events(monkeypatch: pytest.MonkeyPatch) -> None:
    db, authority = _authority(False, monkeypatch)
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2].split()[0]))
    with db.unit() as s:
        assert authority.lookup(s, "RFID1", "RFID") is not None
    assert seen == ["SELECT"]  # what tests counting the statements of an authorization rely on
