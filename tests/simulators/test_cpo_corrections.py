"""A CPO's CDR correction (cdr_correction) in each form of its dialect's `credit_cdrs` knob, against
the real eMSP: the credit CDR (only total_cost negated) and the replacement, and what the eMSP holds."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from test_ocpi_cpo import T0, _pump, _world

from emsp.wire import loads
from simulators.cpo.events import AuthorizationRequested, TransactionEnded, TransactionStarted


@pytest.mark.parametrize(
    ("style", "credit_ids", "reference", "truth"),
    [
        ("with_reference", ["-CR"], True, "credit_and_rebill"),
        ("without_reference", ["-CR"], False, "credit_and_rebill_without_reference"),
        ("none", [], False, "rebill_only"),
    ],
)
def test_correction_styles(style: str, credit_ids: list[str], reference: bool, truth: str) -> None:
    cpo, emsp = _world()
    cpo.dialect = cpo.dialect.model_copy(update={"credit_cdrs": style})
    _pump(cpo, emsp, cpo.start(T0), T0)
    _pump(cpo, emsp, cpo.on_event(AuthorizationRequested("r1", "CS1", "AA11", T0), T0), T0)
    end = T0 + timedelta(hours=1)
    _pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 1000, T0), T0), T0)
    _pump(cpo, emsp, cpo.on_event(TransactionEnded("CS1", "7", end, 12000, "EVDisconnected"), end), end)
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
