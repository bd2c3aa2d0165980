"""A subscription's monthly fee: one per contract and period, whatever the length of its contract_ref
(the contract API takes up to 36 characters), on every backend, and never twice on an older database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy
from billing_helpers import RETAIL, T0, cdr_doc, settle
from databases import BACKENDS, database_url
from sqlalchemy.orm import Session

from emsp.billing.accounts import NewAccount, create_account, create_contract, create_driver, retail_rows
from emsp.billing.contracts import ContractTerms, SubscriptionTerms
from emsp.storage.db import Database
from emsp.storage.tables import RetailLineRow

D = Decimal
SUBSCRIPTION = ContractTerms(
    kind="subscription",
    retail=RETAIL,
    subscription=SubscriptionTerms(monthly_fee=D("9.99"), discount_pct=D("10")),
)
LONG_REF = "CONTRACT-2026-ACME-LOGISTICS-000000"  # 35 characters; + one digit below: 36


def _driver(db: Session, n: int, contract_ref: str) -> str:
    create_account(db, NewAccount(f"A{n}", "private", country="NL"), T0)
    create_contract(db, contract_ref, f"A{n}", SUBSCRIPTION, T0)
    emaid = f"NL-EMS-C{n:08d}"
    create_driver(db, f"D{n}", f"A{n}", contract_ref=contract_ref, emaid=emaid, now=T0)
    return emaid


def _fees(db: Session) -> list[tuple[str, str, str, Decimal]]:
    fees = [r for r in retail_rows(db) if r.kind == "fee"]
    return sorted((r.account_id, r.period, r.cdr_id, r.retail_excl) for r in fees)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_36_character_contract_ref_gets_a_fee_every_month_and_its_own(backend: str) -> None:
    with database_url(backend) as url:
        db = Database(url)
        with db.unit() as s:
            one, two = _driver(s, 1, LONG_REF + "1"), _driver(s, 2, LONG_REF + "2")
            settle(s, cdr_doc("C1", "S1", one, D("10"), start=T0))
            settle(s, cdr_doc("C2", "S2", one, D("10"), start=T0 + timedelta(days=31)))
            settle(s, cdr_doc("C3", "S3", two, D("10"), start=T0))
            assert _fees(s) == [
                ("A1", "2026-03", f"FEE-{LONG_REF}1-2026-03", D("9.99")),
                ("A1", "2026-04", f"FEE-{LONG_REF}1-2026-04", D("9.99")),
                ("A2", "2026-03", f"FEE-{LONG_REF}2-2026-03", D("9.99")),
            ]
        db.engine.dispose()


def test_a_fee_an_older_version_wrote_with_a_cut_id_is_not_billed_again() -> None:
    """Before fee ids were whole they were cut to 39 characters: that March fee still counts."""
    db = Database("sqlite://")
    with db.unit() as s:
        emaid = _driver(s, 1, LONG_REF + "1")
        settle(s, cdr_doc("C1", "S1", emaid, D("10"), start=T0))
        fee = s.query(RetailLineRow).filter(RetailLineRow.kind == "fee").one()
        fee.cdr_id = f"FEE-{LONG_REF}1-2026-03"[:39]  # as the older version stored it
        s.flush()
        settle(s, cdr_doc("C2", "S2", emaid, D("10"), start=T0 + timedelta(days=1)))
        settle(s, cdr_doc("C3", "S3", emaid, D("10"), start=T0 + timedelta(days=31)))
        assert [(period, fee_id) for _, period, fee_id, _ in _fees(s)] == [
            ("2026-03", f"FEE-{LONG_REF}1-2026-03"[:39]),
            ("2026-04", f"FEE-{LONG_REF}1-2026-04"),
        ]


def test_an_older_postgresql_database_widens_the_fee_id_column_and_takes_a_whole_fee_id() -> None:
    """PostgreSQL enforces varchar lengths: retail_lines.cdr_id was varchar(39), too short for
    FEE-<36-character contract_ref>-<period>; it is widened at start."""
    with database_url("postgresql") as url:
        Database(url).engine.dispose()
        engine = sqlalchemy.create_engine(url)
        with engine.begin() as connection:
            narrow = "alter table retail_lines alter column cdr_id type varchar(39)"
            connection.execute(sqlalchemy.text(narrow))
        engine.dispose()
        db = Database(url)
        with db.unit() as s:
            emaid = _driver(s, 1, LONG_REF + "1")
            settle(s, cdr_doc("C1", "S1", emaid, D("10"), start=T0))
        with db.unit() as s:
            assert [fee_id for *_, fee_id, _ in _fees(s)] == [f"FEE-{LONG_REF}1-2026-03"]
        db.engine.dispose()
