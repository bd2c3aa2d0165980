"""A CPO's CDR correction (cdr_correction) in each form of its dialect's `credit_cdrs` knob, against
the real eMSP: the credit CDR (only total_cost negated) and the replacement, and what the eMSP holds."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from test_ocpi_cpo import T0, _pump, _world

from emsp.core import EmspCore
from emsp.model import PartyRef
from emsp.reconciliation import TruthSession, reconcile
from emsp.wire import loads
from simulators.cpo.events import AuthorizationRequested, TransactionEnded, TransactionStarted
from simulators.cpo.ocpi_cpo import OcpiCpo


def _one_session(credit_cdrs: str, version: str = "2.2.1") -> tuple[OcpiCpo, EmspCore, datetime]:
    """A CPO whose dialect corrects CDRs the `credit_cdrs` way, and the eMSP, after one session of
    11 kWh that ended and was billed; and when it ended."""
    cpo, emsp = _world(version)
    cpo.dialect = cpo.dialect.model_copy(update={"credit_cdrs": credit_cdrs})
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    end = T0 + timedelta(hours=1)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    _pump(cpo, emsp, cpo.on_event(TransactionEnded("CS1", "7", end, 12000, "EVDisconnected"), end), end)
    return cpo, emsp, end


@pytest.mark.parametrize(
    ("style", "credit_ids", "reference", "truth"),
    [
        ("with_reference", ["-CR"], True, "credit_and_rebill"),
        ("without_reference", ["-CR"], False, "credit_and_rebill_without_reference"),
        ("none", [], False, "rebill_only"),
    ],
)
def test_correction_styles(style: str, credit_ids: list[str], reference: bool, truth: str) -> None:
    cpo, emsp, end = _one_session(style)
    later = end + timedelta(minutes=5)
    out = cpo.correct_cdrs(later, share=1.0, rng=random.Random(1))
    bodies = [loads(r.request.body or "{}") for r in out.requests]
    original = bodies[-1]["id"].removesuffix("-R1")
    assert [b["id"].removeprefix(original) for b in bodies] == [*credit_ids, "-R1"]
    if credit_ids:
        credit = bodies[0]
        assert credit["credit"] is True and ("credit_reference_id" in credit) is reference
        assert Decimal(str(credit["total_cost"]["excl_vat"])) < 0
        assert Decimal(str(credit["total_energy_cost"]["excl_vat"])) > 0  # only total_cost is negated
    assert "credit" not in bodies[-1]
    assert list(cpo.truth.corrections.values()) == [truth]
    _pump(cpo, emsp, out, later)
    held = [c.cdr_id.removeprefix(original) for c in emsp.records().cdrs]
    assert held[0] == "" and held[-1] == "-R1"


def _amounts(price: dict[str, object]) -> list[Decimal]:
    """Every amount of a Price in its wire form (2.2.1 excl/incl VAT, 2.3.0 before taxes + taxes)."""
    keys = ("excl_vat", "incl_vat", "before_taxes")
    taxes = price.get("taxes") or []
    assert isinstance(taxes, list)
    return [Decimal(str(price[k])) for k in keys if k in price] + [Decimal(str(t["amount"])) for t in taxes]


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
def test_a_credit_negates_every_amount_of_total_cost_in_the_versions_price_form(version: str) -> None:
    """2.3.0's Price is before_taxes plus taxes[].amount (types: Price): a credit that left them positive
    was refused by a correct eMSP, and the replacement was then billed as a second CDR (review9 M8)."""
    cpo, emsp, end = _one_session("with_reference", version)
    later = end + timedelta(minutes=5)
    out = cpo.correct_cdrs(later, share=1.0, rng=random.Random(1))
    credit, replacement = (loads(r.request.body or "{}") for r in out.requests)
    sent = _amounts(replacement["total_cost"])
    assert len(sent) >= 2 and all(a > 0 for a in sent)  # the VAT is there to negate, in either form
    assert _amounts(credit["total_cost"]) == [-a for a in sent]
    _pump(cpo, emsp, out, later)
    kept = sorted(c.cdr_id.removeprefix(replacement["id"].removesuffix("-R1")) for c in emsp.records().cdrs)
    assert kept == ["", "-CR", "-R1"]  # the eMSP took the credit: nothing billed twice


def test_a_credit_without_its_reference_is_refused_and_its_session_says_why() -> None:
    # credit_cdrs: without_reference. The eMSP refuses the credit (2001: mod_cdrs requires
    # credit_reference_id on a Credit CDR) and keeps the original and the replacement; the session's
    # row names that, not only "no credit CDR" (which also reads as a credit the eMSP lost).
    cpo, emsp, end = _one_session("without_reference")
    later = end + timedelta(minutes=5)
    _pump(cpo, emsp, cpo.correct_cdrs(later, share=1.0, rng=random.Random(1)), later)
    refused = [(kind, code, text) for _at, kind, code, text in cpo.truth.failed_calls]
    assert len(refused) == 1 and refused[0][:2] == ("cdr", 2001) and "credit_reference_id" in refused[0][2]
    (session_id,) = cpo.truth.corrections
    truth = TruthSession(
        key="CS1/1", cpo="cpo-a", station_id="CS1", connector_id=1, token_uid="AA11", token_known=True,
        authorized=True, transaction_id="7", session_id=session_id, plugged_at=T0, started_at=T0,
        ended_at=end, energy_kwh=Decimal(11), cost_excl_vat=None, cost_incl_vat=None, currency="EUR",
        party=PartyRef("DE", "CPA"), correction=cpo.truth.corrections[session_id],
    )  # fmt: skip
    (row,) = reconcile([truth], emsp.records()).rows
    assert row.klass == "rebill_without_credit"
    assert "named no credit_reference_id" in row.detail and "2001" in row.detail
