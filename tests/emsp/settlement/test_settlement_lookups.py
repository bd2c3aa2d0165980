"""Settlement's column reads and its invoice-line INSERT (emsp.settlement.lookups) give what the ORM
gives, on SQLite (straight on the cursor) and on PostgreSQL (Core)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from databases import BACKENDS, database_url

from emsp.billing.identity import driver_for
from emsp.settlement import lookups
from emsp.settlement.facts import StoredCdr
from emsp.storage.db import Database
from emsp.storage.queries import find_invoice_line
from emsp.storage.tables import CdrRow, DriverRow, LocationRow, TariffRow, TokenRow

T = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest) -> Iterator[Database]:
    with database_url(request.param) as url:
        database = Database(url)
        yield database
        database.engine.dispose()


def _cdr(cdr_id: str, *, credit: bool, incl: Decimal | None) -> CdrRow:
    return CdrRow(
        partner="cpo1", country_code="DE", party_id="CPA", cdr_id=cdr_id, session_id=None,
        token_uid="TOK1", contract_id="DE-EMS-C1", authorization_reference="AUTH",
        location_id="LOC1", currency="EUR", total_energy=Decimal("12.345"),
        total_cost_excl=Decimal("3.10"), total_cost_incl=incl, start=T, end=T.replace(hour=10),
        received_at=T.replace(hour=11), credit=credit, raw=f'{{"id": "{cdr_id}"}}',
    )  # fmt: skip


def test_reads_match_the_orm_rows(db: Database) -> None:
    with db.unit() as session:
        session.add_all([_cdr("C1", credit=False, incl=Decimal("3.69")), _cdr("C2", credit=True, incl=None)])
        session.add(TariffRow(partner="cpo1", country_code="DE", party_id="CPA", tariff_id="T1",
                              currency="EUR", last_updated=T, raw='{"id": "T1"}'))  # fmt: skip
        session.add(LocationRow(partner="cpo1", country_code="DE", party_id="CPA", location_id="LOC1",
                                time_zone="Europe/Berlin", last_updated=T, raw='{"id": "LOC1"}'))  # fmt: skip
    with db.unit() as session:
        for cdr_id in ("C1", "C2"):
            stored = lookups.stored_cdr(session, "DE", "CPA", cdr_id)
            row = session.query(CdrRow).filter_by(cdr_id=cdr_id).one()
            assert stored == StoredCdr(*(getattr(row, name) for name in StoredCdr.__slots__))
        assert lookups.stored_cdr(session, "DE", "CPA", "nope") is None
        assert lookups.tariff_raw(session, "DE", "CPA", "T1") == '{"id": "T1"}'
        assert lookups.tariff_raw(session, "DE", "CPA", "T2") is None
        assert lookups.location_time_zone(session, "DE", "CPA", "LOC1") == ("Europe/Berlin",)
        assert lookups.location_time_zone(session, "DE", "CPB", "LOC1") is None
        assert lookups.location_zone_and_raw(session, "DE", "CPA", "LOC1") == (
            "Europe/Berlin",
            '{"id": "LOC1"}',
        )


def test_an_inserted_line_reads_back_as_written(db: Database) -> None:
    values = dict(
        partner="cpo1", country_code="DE", party_id="CPA", cdr_id="C1", session_id=None,
        token_uid="TOK1", contract_id="DE-EMS-C1", currency="EUR", energy_kwh=Decimal("-12.345"),
        amount_excl_vat=Decimal("3.1000"), amount_incl_vat=None, cpo_excl_vat=Decimal("3.10"),
        cpo_incl_vat=None, delta_excl_vat=Decimal("0.0000"), tariff_id="T1", note="", at=T,
    )  # fmt: skip
    with db.unit() as session:
        assert not lookups.has_invoice_line(session, "DE", "CPA", "C1")
        first = lookups.insert_invoice_line(session, dict(values))
        second = lookups.insert_invoice_line(session, dict(values, cdr_id="C2"))
        assert lookups.has_invoice_line(session, "DE", "CPA", "C1")
    assert second.line_no == first.line_no + 1
    with db.unit() as session:
        stored = find_invoice_line(session, "DE", "CPA", "C1")
        assert stored is not None
        assert {name: getattr(stored, name) for name in first.__slots__} == {
            name: getattr(first, name) for name in first.__slots__
        }


def test_driver_for_reads_the_first_federated_token_then_the_emaid(db: Database) -> None:
    with db.unit() as session:
        for driver_id, emaid in (("D2", "DE-EMS-C1"), ("D1", "DE-EMS-C1"), ("D3", None)):
            session.add(DriverRow(driver_id=driver_id, account_id="A", emaid=emaid, created_at=T))
        session.add(TokenRow(uid="FED", type="RFID", contract_id="X", valid=True, whitelist="ALWAYS",
                             issuer="us", last_updated=T, driver_id="D3", partner="cpo1"))  # fmt: skip
    with db.unit() as session:
        by_emaid = driver_for(session, token_uid="OTHER", contract_id="DE-EMS-C1")
        assert by_emaid is not None and by_emaid.driver_id == "D1"  # the first by driver_id
        federated = driver_for(session, token_uid="FED", contract_id="DE-EMS-C1", partner="cpo1")
        assert federated is not None and federated.driver_id == "D3"
        assert driver_for(session, token_uid="FED", contract_id="DE-EMS-C1", partner="cpo2") is None
        assert driver_for(session, token_uid="OTHER", contract_id="") is None
        assert driver_for(session, token_uid="OTHER", contract_id="DE-EMS-NONE") is None
