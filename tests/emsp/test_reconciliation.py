"""Reconciliation classes, table-driven: each case changes one thing about a clean session."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from emsp.model import CdrInfo, DuplicateCdrRecord, EmspRecords, InvoiceLine, Money, PartyRef
from emsp.reconciliation import CLASSES, TruthSession, reconcile

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
PARTY = PartyRef("DE", "CPA")

TRUTH = TruthSession(
    party=PARTY,
    key="CS-1/1/T0",
    cpo="cpo-a",
    station_id="CS-1",
    connector_id=1,
    token_uid="AA11",
    token_known=True,
    authorized=True,
    transaction_id="1",
    session_id="S1",
    plugged_at=T0,
    started_at=T0,
    ended_at=T0 + timedelta(hours=1),
    energy_kwh=Decimal("10.000"),
    cost_excl_vat=Decimal("5.50"),
    cost_incl_vat=Decimal("6.545"),
    currency="EUR",
)
CDR = CdrInfo(
    partner="cpo-a",
    party=PARTY,
    cdr_id="S1-CDR",
    session_id="S1",
    token_uid="AA11",
    contract_id="NL-EMS-C1",
    authorization_reference=None,
    location_id="L1",
    total_energy_kwh=Decimal("10.000"),
    total_cost=Money(Decimal("5.50"), Decimal("6.545"), "EUR"),
    start=T0,
    end=T0 + timedelta(hours=1),
    received_at=T0 + timedelta(hours=1, seconds=1),
    credit=False,
)
LINE = InvoiceLine(
    line_no=1,
    partner="cpo-a",
    cdr_id="S1-CDR",
    party=PARTY,
    session_id="S1",
    token_uid="AA11",
    contract_id="NL-EMS-C1",
    currency="EUR",
    energy_kwh=Decimal("10.000"),
    amount_excl_vat=Decimal("5.50"),
    amount_incl_vat=Decimal("6.545"),
    cpo_excl_vat=Decimal("5.50"),
    cpo_incl_vat=Decimal("6.545"),
    delta_excl_vat=Decimal(0),
    tariff_id="STD",
    note="",
    at=T0 + timedelta(hours=1, seconds=1),
)


def _records(
    cdrs: tuple[CdrInfo, ...] = (CDR,),
    lines: tuple[InvoiceLine, ...] = (LINE,),
    dups: tuple[DuplicateCdrRecord, ...] = (),
) -> EmspRecords:
    return EmspRecords(authorizations=(), sessions=(), cdrs=cdrs, duplicate_cdrs=dups, invoice_lines=lines)


CASES = [
    ("clean", [TRUTH], _records(), ["matched"]),
    (
        "unknown token refused",
        [replace(TRUTH, token_known=False, authorized=False, transaction_id=None, session_id=None)],
        _records((), ()),
        ["refused"],
    ),
    (
        "known token refused",
        [replace(TRUTH, authorized=False, transaction_id=None, session_id=None)],
        _records((), ()),
        ["wrongly_refused"],
    ),
    (
        "known token refused because the eMSP never answered",
        [replace(TRUTH, authorized=False, transaction_id=None, session_id=None, unanswered="UNREACHABLE")],
        _records((), ()),
        ["refused_unreachable"],
    ),
    (
        "an app start whose START_SESSION never reached the CPO (review9 M11: was wrongly_refused)",
        [
            replace(
                TRUTH,
                authorized=False,
                transaction_id=None,
                session_id=None,
                start_unreachable="START_SESSION 16 FAILED: HTTP 503",
            )
        ],
        _records((), ()),
        ["refused_unreachable"],
    ),
    (
        "known token turned away by the station itself (a reservation for another token)",
        [replace(TRUTH, authorized=False, transaction_id=None, session_id=None, station_refusal="reserved")],
        _records((), ()),
        ["refused_at_station"],
    ),
    (
        "an unknown token refused while the eMSP was down is still just refused",
        [
            replace(
                TRUTH,
                token_known=False,
                authorized=False,
                transaction_id=None,
                session_id=None,
                unanswered="ERROR_HTTP503",
            )
        ],
        _records((), ()),
        ["refused"],
    ),
    ("unknown token charged", [replace(TRUTH, token_known=False)], _records(), ["wrongly_authorized"]),
    (
        "blocked token charged on the CPO's whitelist copy (the block had not reached it)",
        [replace(TRUTH, token_known=False, whitelisted=True)],
        _records(),
        ["whitelisted_after_block"],
    ),
    ("still plugged in", [replace(TRUTH, ended_at=None)], _records((), ()), ["open_session"]),
    ("no CDR", [TRUTH], _records((), ()), ["missing_cdr"]),
    ("two CDRs", [TRUTH], _records((CDR, replace(CDR, cdr_id="S1-CDR-2"))), ["duplicate_cdr"]),
    (
        "identical CDR retried: billed once, not a mismatch",
        [TRUTH],
        _records(dups=(DuplicateCdrRecord("cpo-a", PARTY, "S1-CDR", T0, identical=True),)),
        ["matched"],
    ),
    (
        "CDR id resent with other content",
        [TRUTH],
        _records(dups=(DuplicateCdrRecord("cpo-a", PARTY, "S1-CDR", T0, identical=False),)),
        ["duplicate_cdr"],
    ),
    (
        "another party's changed resend of the same id is not ours",
        [TRUTH],
        _records(dups=(DuplicateCdrRecord("cpo-b", PartyRef("FR", "CPB"), "S1-CDR", T0, identical=False),)),
        ["matched"],
    ),
    ("CDR without session", [], _records(), ["orphan_cdr"]),
    (
        "energy off by a Wh",
        [TRUTH],
        _records((replace(CDR, total_energy_kwh=Decimal("10.001")),)),
        ["energy_mismatch"],
    ),
    ("not invoiced", [TRUTH], _records(lines=()), ["missing_invoice"]),
    (
        "invoiced a cent too much",
        [TRUTH],
        _records(lines=(replace(LINE, amount_incl_vat=Decimal("6.555")),)),
        ["price_mismatch"],
    ),
    (
        "within half a cent",
        [TRUTH],
        _records(lines=(replace(LINE, amount_incl_vat=Decimal("6.549")),)),
        ["matched"],
    ),
    (
        "VAT unknown: compare excl. VAT",
        [replace(TRUTH, cost_incl_vat=None)],
        _records(lines=(replace(LINE, amount_incl_vat=None),)),
        ["matched"],
    ),
]


@pytest.mark.parametrize(("name", "truths", "records", "classes"), CASES, ids=[c[0] for c in CASES])
def test_classes(name: str, truths: list[TruthSession], records: EmspRecords, classes: list[str]) -> None:
    result = reconcile(truths, records)
    assert [row.klass for row in result.rows] == classes
    counts = result.counts()
    assert set(CLASSES) <= set(counts)
    assert sum(counts.values()) == len(result.rows)


def test_one_row_per_truth_session_plus_orphans() -> None:
    other = replace(TRUTH, key="CS-1/2/T0", connector_id=2, session_id="S2")
    orphan = replace(CDR, cdr_id="X-CDR", session_id="SX")
    result = reconcile([TRUTH, other], _records((CDR, orphan)))
    assert [row.klass for row in result.rows] == ["matched", "missing_cdr", "orphan_cdr"]


def test_two_cpos_sending_the_same_ids_are_graded_independently() -> None:
    """OCPI ids are unique per party: DE*CPA's CDR-1 for S1 says nothing about FR*CPB's S1."""
    other = PartyRef("FR", "CPB")
    truth_b = replace(TRUTH, key="CS-9/1/T0", cpo="cpo-b", station_id="CS-9", party=other)
    cdr_b = replace(CDR, partner="cpo-b", party=other, total_energy_kwh=Decimal("10.000"))
    # B's invoice is off by a euro; A's is right. Same cdr_id and session_id on both sides.
    line_b = replace(LINE, line_no=2, partner="cpo-b", party=other, amount_incl_vat=Decimal("7.545"))
    result = reconcile([TRUTH, truth_b], _records((CDR, cdr_b), (LINE, line_b)))
    assert [(row.truth.cpo if row.truth else None, row.klass) for row in result.rows] == [
        ("cpo-a", "matched"),
        ("cpo-b", "price_mismatch"),
    ]
    assert result.rows[1].invoice is line_b and result.rows[1].cdrs == (cdr_b,)


def test_a_cdr_of_an_unknown_party_is_an_orphan_even_with_a_known_session_id() -> None:
    stranger = replace(CDR, partner="cpo-x", party=PartyRef("BE", "XXX"), cdr_id="S1-CDR")
    result = reconcile([TRUTH], _records((CDR, stranger)))
    assert [row.klass for row in result.rows] == ["matched", "orphan_cdr"]
    assert result.rows[1].cdrs == (stranger,) and "BE*XXX" in result.rows[1].detail


def test_truth_without_a_party_joins_on_the_session_id() -> None:
    assert [r.klass for r in reconcile([replace(TRUTH, party=None)], _records()).rows] == ["matched"]
