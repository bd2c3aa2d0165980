"""A Credit CDR names the CDR it credits (review r7 K5): 2.2.1 and 2.3.0 mod_cdrs say
credit_reference_id "is required to be filled for a Credit CDR". Without it nothing says what is
reversed, and the session counted as credited hid a later second CDR: refused 2001, nothing stored.
2.1.1 has no Credit CDRs (no `credit` field), so there the rule has nothing to apply to."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_cdr_session_bounds import cdr_221, cdr_230
from test_versions_e2e import cdr_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

D = Decimal
CREDITS = {
    "2.2.1": lambda **c: cdr_221(id="CDR1-CR", credit=True, total_cost={"excl_vat": D("-3.15")}, **c),
    "2.3.0": lambda **c: cdr_230(id="CDR1-CR", credit=True, **c) | {"total_cost": {"before_taxes": D("-3")}},
}
ORIGINALS = {"2.2.1": cdr_221, "2.3.0": cdr_230}


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


@pytest.mark.parametrize("version", list(CREDITS))
def test_a_credit_cdr_without_its_reference_is_refused(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    assert cpo.call("POST", "cdrs", ORIGINALS[version]()).status == 201
    answer = cpo.call("POST", "cdrs", CREDITS[version]())
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert "credit_reference_id required for a Credit CDR" in answer.json()["status_message"]
    assert [c.cdr_id for c in core.records().cdrs] == ["CDR1"]


@pytest.mark.parametrize("version", list(CREDITS))
def test_a_credit_cdr_with_its_reference_is_taken(core: EmspCore, version: str) -> None:
    cpo = register_as(core, version)
    assert cpo.call("POST", "cdrs", ORIGINALS[version]()).status == 201
    answer = cpo.call("POST", "cdrs", CREDITS[version](credit_reference_id="CDR1"))
    assert answer.status == 201, answer.body
    assert [(c.cdr_id, c.credit) for c in core.records().cdrs] == [("CDR1", False), ("CDR1-CR", True)]


def test_211_knows_no_credit_cdr(core: EmspCore) -> None:
    """A `credit` member is not 2.1.1's: the CDR is an ordinary one, as before."""
    cpo = register_as(core, "2.1.1")
    assert cpo.call("POST", "cdrs", cdr_211(credit=True)).status == 201
    assert [c.credit for c in core.records().cdrs] == [False]
