"""One session, CDR, location or tariff per party and id whatever the id's case (CiString), held by
the database (a unique index on country_code, party_id, upper(id)) on SQLite and PostgreSQL; an
older database gains the index at start, or is refused, naming the objects, when two ids of one
party differ only in case (review 4, G1)."""

from __future__ import annotations

import pytest
import sqlalchemy
from emsp_helpers import T0

from emsp.storage.db import Database
from emsp.storage.schema import SchemaMismatch, missing_indexes
from emsp.storage.tables import TariffRow


def _tariff(tariff_id: str, party_id: str = "CPA") -> TariffRow:
    return TariffRow(partner="cpo1", country_code="DE", party_id=party_id, tariff_id=tariff_id,
                     currency="EUR", last_updated=T0, raw="{}")  # fmt: skip


def _older_database(url: str, *tariffs: tuple[str, str]) -> None:
    """Today's tables without the case-insensitive index, as the previous version had them."""
    Database(url).engine.dispose()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("drop index ux_tariffs_party_id_ci"))
    engine.dispose()
    engine = sqlalchemy.create_engine(url)
    with sqlalchemy.orm.Session(engine) as session, session.begin():
        session.add_all(_tariff(tariff_id, pid) for pid, tariff_id in tariffs)
    engine.dispose()


def test_the_database_refuses_a_second_object_of_one_party_in_another_case(stored_url: str) -> None:
    db = Database(stored_url)
    with db.unit() as session:
        session.add_all([_tariff("TAR-A"), _tariff("tar-a", party_id="CPB")])  # another party: allowed
    with pytest.raises(sqlalchemy.exc.IntegrityError), db.unit() as session:
        session.add(_tariff("Tar-A"))
    db.engine.dispose()


def test_an_older_database_gains_the_case_insensitive_index(stored_url: str) -> None:
    _older_database(stored_url, ("CPA", "TAR-A"), ("CPB", "tar-a"))
    db = Database(stored_url)
    assert missing_indexes(db.engine) == []
    with pytest.raises(sqlalchemy.exc.IntegrityError), db.unit() as session:
        session.add(_tariff("tar-a"))
    db.engine.dispose()


def test_an_older_database_with_ids_differing_only_in_case_is_refused_naming_them(stored_url: str) -> None:
    _older_database(stored_url, ("CPA", "TAR-A"), ("CPA", "tar-a"), ("CPA", "TAR-B"))
    with pytest.raises(SchemaMismatch, match="DE/CPA TAR-A / tar-a") as refused:
        Database(stored_url)
    assert "TAR-B" not in str(refused.value)
    engine = sqlalchemy.create_engine(stored_url)
    with engine.begin() as connection:  # the operator keeps one: the next start upgrades
        connection.execute(sqlalchemy.text("delete from tariffs where tariff_id = 'tar-a'"))
    engine.dispose()
    db = Database(stored_url)
    assert missing_indexes(db.engine) == []
    db.engine.dispose()
