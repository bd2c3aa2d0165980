"""A CDR names its session as the CPO spells it; OCPI session ids are CiStrings, so the retail ledger
finds a session's lines and CDRs by that id in any case (a CDR in another case is no new session)."""

from __future__ import annotations

from decimal import Decimal

from billing_helpers import cdr_doc, make_driver, settle

from emsp.storage.db import Database

D = Decimal


def test_a_second_cdr_naming_the_session_in_another_case_is_not_billed_again() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        emaid = make_driver(s, 1, "pay_as_you_go")
        [charge] = settle(s, cdr_doc("C1", "SES-1", emaid, D("10")))
        assert charge.kind == "charge"
        assert settle(s, cdr_doc("C2", "ses-1", emaid, D("10"))) == []  # the session's line stands


def test_a_replacement_naming_the_session_in_another_case_is_a_rebill() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        emaid = make_driver(s, 1, "pay_as_you_go")
        settle(s, cdr_doc("C1", "SES-1", emaid, D("10")))
        settle(s, cdr_doc("C1-CR", "Ses-1", emaid, D("10"), credit_ref="C1"))
        [rebill] = settle(s, cdr_doc("C1-R1", "ses-1", emaid, D("8")))
        assert (rebill.kind, rebill.replaces_cdr) == ("rebill", "C1")


def test_a_replacement_held_before_its_credit_is_found_in_any_case() -> None:
    db = Database("sqlite://")
    with db.unit() as s:
        emaid = make_driver(s, 1, "pay_as_you_go")
        settle(s, cdr_doc("C1", "SES-1", emaid, D("10")))
        assert settle(s, cdr_doc("C1-R1", "ses-1", emaid, D("8"))) == []
        reversal, rebill = settle(s, cdr_doc("C1-CR", "SES-1", emaid, D("10"), credit_ref="C1"))
        assert (reversal.kind, rebill.kind, rebill.cdr_id) == ("reversal", "rebill", "C1-R1")
