"""One token per uid and type whatever the uid's case (Token.uid is a CiString), held by the
database itself (a unique index on upper(uid), type) on SQLite and PostgreSQL; an older database
gains that index at start, or is refused, naming the tokens, when two of its uids differ only in
case (two contracts' tokens: neither can be merged into nor dropped for the other unasked)."""

from __future__ import annotations

import pytest
import sqlalchemy
from emsp_helpers import T0

from emsp.services.tokens import TokenSpec, upsert_token
from emsp.storage.db import Database
from emsp.storage.schema import SchemaMismatch, missing_indexes
from emsp.storage.tables import TokenRow

INDEX = "ux_tokens_uid_ci_type"


def _row(uid: str, token_type: str = "RFID") -> TokenRow:
    return TokenRow(uid=uid, type=token_type, contract_id=f"C-{uid}", valid=True, whitelist="ALLOWED",
                    issuer="t", last_updated=T0)  # fmt: skip


def test_the_database_refuses_a_second_uid_differing_only_in_case(stored_url: str) -> None:
    db = Database(stored_url)
    with db.unit() as session:
        session.add_all([_row("TOK001"), _row("tok001", "APP_USER")])  # another type: another token
    with pytest.raises(sqlalchemy.exc.IntegrityError), db.unit() as session:
        session.add(_row("Tok001"))
    with db.unit() as session:  # the upsert finds the token in any case: updated, not doubled
        upsert_token(session, TokenSpec("tok001", "C-NEW"), T0)
    with db.unit() as session:
        rows = session.execute(sqlalchemy.select(TokenRow.uid, TokenRow.type, TokenRow.contract_id)).all()
    assert sorted(map(tuple, rows)) == [("TOK001", "RFID", "C-NEW"), ("tok001", "APP_USER", "C-tok001")]
    db.engine.dispose()


def _older_database(url: str, *uids: str) -> None:
    """Today's tables, without the case-insensitive index (as an older version made them), holding
    tokens of these uids."""
    Database(url).engine.dispose()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"drop index {INDEX}"))
        for uid in uids:
            connection.execute(
                sqlalchemy.insert(TokenRow),
                {"uid": uid, "type": "RFID", "contract_id": f"C-{uid}", "valid": True, "whitelist": "ALLOWED",
                 "issuer": "t", "has_credit": True, "last_updated": T0},
            )  # fmt: skip
    engine.dispose()


def test_an_older_database_gains_the_case_insensitive_index(stored_url: str) -> None:
    _older_database(stored_url, "TOK001", "TOK002")
    db = Database(stored_url)
    assert missing_indexes(db.engine) == []
    with pytest.raises(sqlalchemy.exc.IntegrityError), db.unit() as session:
        session.add(_row("tok002"))
    db.engine.dispose()


def test_an_older_database_with_uids_differing_only_in_case_is_refused_naming_them(stored_url: str) -> None:
    _older_database(stored_url, "TOK001", "tok001", "TOK002", "Tok001")
    with pytest.raises(SchemaMismatch, match="RFID TOK001 / tok001 / Tok001") as refused:
        Database(stored_url)
    assert "TOK002" not in str(refused.value)
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:  # the operator re-issues two of them: the next start upgrades
        connection.execute(sqlalchemy.text("delete from tokens where uid in ('tok001', 'Tok001')"))
    engine.dispose()
    db = Database(stored_url)
    assert missing_indexes(db.engine) == []
    db.engine.dispose()
