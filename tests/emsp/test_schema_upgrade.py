"""A database an older eMSP created (its `partners` table without the columns added since) is
upgraded at start, explicitly and only by the known steps; any other missing column refuses the
database with a message naming it and what to do, before anything is changed. SQLite file and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from emsp_helpers import T0, register

from emsp.core import EmspCore, EmspSettings
from emsp.storage.db import Database
from emsp.storage.schema import SchemaMismatch, missing_columns, missing_indexes, narrow_columns
from emsp.storage.tables import AuthorizationRow, FraudDecisionRow, PartnerRow

# The partners table as the first version of the service created it (before registrations we
# start, operator-configured parties and hubs), with one partner in it.
OLD_PARTNERS = """
create table partners (
    partner_id varchar(64) primary key, token_a varchar(64), token_b varchar(64),
    token_c varchar(64), registered boolean not null, versions_url text, version varchar(16),
    roles_json text not null, endpoints_json text not null, endpoints_status varchar(32) not null
)"""
OLD_ROW = """insert into partners values ('cpo-old', 'secret-old', null, null, false, null, null,
    '[]', '[]', 'none')"""


def _old_database(url: str, *extra: str) -> None:
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        for statement in (OLD_PARTNERS, OLD_ROW, *extra):
            connection.execute(sqlalchemy.text(statement))
    engine.dispose()


def test_an_old_database_gains_the_new_partner_columns_and_keeps_its_partner(stored_url: str) -> None:
    _old_database(stored_url)
    db = Database(stored_url)
    assert db.schema_upgrades == [
        "partners.token_pending", "partners.parties_json", "partners.hub", "partners.tolerate_json"
    ]  # fmt: skip
    assert missing_columns(db.engine) == {}
    with db.unit() as session:
        old = session.get(PartnerRow, "cpo-old")
        assert old is not None and (old.parties_json, old.hub, old.token_pending) == ("[]", False, None)
        assert old.tolerate_json == "{}"  # spec-strict, as every partner was
    db.engine.dispose()
    again = Database(stored_url)  # a second start finds nothing to do
    assert again.schema_upgrades == []
    again.engine.dispose()
    core = EmspCore(EmspSettings(database_url=stored_url))  # and the eMSP works on it
    cpo = register(core)
    core.issue_token("RFID1", contract_id="C1", now=T0)
    resp = cpo.call("POST", "http://emsp.local/ocpi/2.2.1/tokens/RFID1/authorize", {"location_id": "L"})
    assert resp.status == 200 and resp.json()["data"]["allowed"] == "ALLOWED"
    core.db.engine.dispose()


def test_a_missing_column_without_an_upgrade_step_refuses_the_database_unchanged(stored_url: str) -> None:
    _old_database(stored_url, "create table tokens (pk integer primary key, uid varchar(36))")
    with pytest.raises(SchemaMismatch) as refused:
        Database(stored_url)
    message = str(refused.value)
    assert "tokens.type" in message and "tokens.contract_id" in message
    assert "partners." not in message  # those it could add; it names only what it cannot
    assert "start on a new database (--database-url)" in message
    engine = sqlalchemy.create_engine(stored_url)
    inspector = sqlalchemy.inspect(engine)
    assert "parties_json" not in {c["name"] for c in inspector.get_columns("partners")}
    assert "sessions" not in inspector.get_table_names()  # nothing created either
    engine.dispose()


WIRE_TABLES = ("locations", "tariffs", "sessions", "cdrs")


def test_a_database_from_before_the_version_adapters_gains_the_wire_columns(stored_url: str) -> None:
    """The adapter layer added `wire` (the partner's own body where its OCPI version differs);
    a database whose rows all came under 2.2.1 gets it empty, and the eMSP works on it."""
    Database(stored_url).engine.dispose()  # today's tables, then back to what the older version made
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:
        for table in WIRE_TABLES:
            connection.execute(sqlalchemy.text(f"alter table {table} drop column wire"))
    engine.dispose()
    db = Database(stored_url)
    assert sorted(db.schema_upgrades) == sorted(f"{table}.wire" for table in WIRE_TABLES)
    assert missing_columns(db.engine) == {}
    db.engine.dispose()
    core = EmspCore(EmspSettings(database_url=stored_url))
    register(core)
    core.db.engine.dispose()


# The cdrs table as it was before a CDR's provenance was recorded (after the adapters' `wire`).
OLD_CDRS = """
create table cdrs (
    pk integer primary key, partner varchar(64) not null, country_code varchar(2) not null,
    party_id varchar(3) not null, cdr_id varchar(39) not null, session_id varchar(36),
    token_uid varchar(36) not null, contract_id varchar(36) not null,
    authorization_reference varchar(36), location_id varchar(36) not null,
    currency varchar(3) not null, total_energy text not null, total_cost_excl text not null,
    total_cost_incl text, start varchar(32) not null, "end" varchar(32) not null,
    received_at varchar(32) not null, credit boolean not null, raw text not null, wire text,
    unique (country_code, party_id, cdr_id)
)"""
OLD_CDR = """insert into cdrs values (1, 'cpo-old', 'DE', 'CPA', 'CDR-OLD', null, 'RFID1', 'C1',
    null, 'LOC-1', 'EUR', '10', '3.50', null, '2025-01-01T10:00:00.000000Z',
    '2025-01-01T11:00:00.000000Z', '2025-01-01T11:05:00.000000Z', false, '{}', null)"""


def test_an_old_database_gains_the_cdr_provenance_columns_and_shows_them_as_unknown(tmp_path: Path) -> None:
    """sqlite file: the old row's text timestamps are the UtcDateTime format of this version."""
    url = f"sqlite:///{tmp_path / 'old-cdrs.db'}"
    _old_database(url, OLD_CDRS, OLD_CDR)
    db = Database(url)
    assert [u for u in db.schema_upgrades if u.startswith("cdrs.")] == [
        "cdrs.ocpi_version",
        "cdrs.validation",
        "cdrs.validation_notes",
        "cdrs.idempotency_key",
    ]
    assert missing_columns(db.engine) == {}
    from emsp.services.provenance import cdr_provenance
    from emsp.storage.tables import CdrRow

    with db.unit() as session:
        row = session.get(CdrRow, 1)
        assert row is not None and row.cdr_id == "CDR-OLD"
        provenance = cdr_provenance(session, row)
    assert provenance["ocpi_version"] is None and provenance["idempotency_key"] is None
    assert provenance["validation"] == {"outcome": "unknown", "notes": []}
    assert provenance["invoice_lines"] == []
    db.engine.dispose()


def test_an_old_database_gains_the_indexes_it_lacks_and_its_narrow_location_ids_are_widened(
    stored_url: str,
) -> None:
    """`create_all` makes a table's indexes only with the table: an older database kept working
    without them (the fraud history warm-up scanning authorizations, findings without their unique
    key). PostgreSQL enforces varchar lengths, and older databases kept location_id varchar(36)
    where a 2.1.1 location id may take 39 characters."""
    Database(stored_url).engine.dispose()  # today's tables, then back to what the older version had
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:
        for index in ("ix_authorizations_token_at", "ix_tokens_driver_id", "ux_findings_partner_party_kind"):
            connection.execute(sqlalchemy.text(f"drop index {index}"))
        if engine.dialect.name == "postgresql":
            connection.execute(
                sqlalchemy.text("alter table authorizations alter column location_id type varchar(36)")
            )
    engine.dispose()
    db = Database(stored_url)
    assert missing_indexes(db.engine) == [] and narrow_columns(db.engine) == []
    inspector = sqlalchemy.inspect(db.engine)
    names = {ix["name"] for t in ("authorizations", "tokens", "findings") for ix in inspector.get_indexes(t)}
    assert {"ix_authorizations_token_at", "ix_tokens_driver_id", "ux_findings_partner_party_kind"} <= names
    location = next(c for c in inspector.get_columns("authorizations") if c["name"] == "location_id")
    assert location["type"].length == 39
    with db.unit() as session:  # a 2.1.1 location id of 39 characters is stored (PostgreSQL refused it)
        session.add(AuthorizationRow(partner="cpo-old", token_uid="RFID1", token_type="RFID",
                                     result="ALLOWED", location_id="L" * 39, at=T0))  # fmt: skip
    with db.unit() as session:
        assert session.scalars(sqlalchemy.select(AuthorizationRow.location_id)).all() == ["L" * 39]
    db.engine.dispose()


def test_a_fraud_decision_about_a_39_character_location_is_stored(stored_url: str) -> None:
    """A 2.1.1 location id may take 39 characters: the authorization was stored, but the fraud
    decision refusing it was varchar(36), which PostgreSQL refused (the answer failed with it);
    older databases are widened at start."""
    Database(stored_url).engine.dispose()
    engine = sqlalchemy.create_engine(stored_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("alter table fraud_decisions alter column location_id type varchar(36)")
            )
    engine.dispose()
    db = Database(stored_url)
    with db.unit() as session:
        session.add(FraudDecisionRow(token_uid="RFID1", token_type="RFID", driver_id=None, partner="cpo-1",
                                     location_id="L" * 39, object_id=None, at=T0, rule="authorization_rate",
                                     decision="refuse", detail="7 in the last hour"))  # fmt: skip
    with db.unit() as session:
        assert session.scalars(sqlalchemy.select(FraudDecisionRow.location_id)).all() == ["L" * 39]
    db.engine.dispose()
