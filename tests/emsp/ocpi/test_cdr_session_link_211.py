"""A 2.1.1 CDR names no session: the eMSP links it to the stored session of the same party,
contract, location and start (review r7 K4). One contract (a fleet card) may start at two EVSEs of
one location in the same second; each CDR then belongs to the session at its own EVSE, and among
sessions still alike, to one not billed yet. Never both to the first, which raised a false
second_cdr_for_session against the CPO."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from test_versions_e2e import cdr_211, location_211, session_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

PATH = "DE/CPA"


def _site() -> dict[str, Any]:
    loc = location_211()
    second = copy.deepcopy(loc["evses"][0]) | {"uid": "EVSE2"}
    loc["evses"].append(second)
    return loc


def _at(evse_uid: str | None) -> dict[str, Any]:
    """The site as a Session or CDR embeds it: only the EVSE used (None: the first, EVSE1)."""
    loc = _site()
    loc["evses"] = [e for e in loc["evses"] if e["uid"] == (evse_uid or "EVSE1")]
    return loc


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


def _links(core: EmspCore) -> dict[str, str | None]:
    return {c.cdr_id: c.session_id for c in core.records().cdrs}


def _second_cdr_findings(core: EmspCore) -> int:
    return sum(f.count for f in core.records().findings if f.kind == "second_cdr_for_session")


@pytest.mark.parametrize("order", [("C1", "C2"), ("C2", "C1")])
def test_each_cdr_goes_to_the_session_at_its_evse(core: EmspCore, order: tuple[str, str]) -> None:
    cpo = register_as(core, "2.1.1")
    assert cpo.call("PUT", f"locations/{PATH}/LOC1", _site()).status == 201
    for sid, evse in (("S1", "EVSE1"), ("S2", "EVSE2")):
        body = session_211(id=sid, location=_at(evse))
        assert cpo.call("PUT", f"sessions/{PATH}/{sid}", body).status == 201
    evse_of = {"C1": "EVSE1", "C2": "EVSE2"}
    for cdr_id in order:
        body = cdr_211(id=cdr_id, location=_at(evse_of[cdr_id]))
        assert cpo.call("POST", "cdrs", body).status == 201
    assert _links(core) == {"C1": "S1", "C2": "S2"}
    assert _second_cdr_findings(core) == 0


def test_of_sessions_alike_one_not_billed_yet_is_taken(core: EmspCore) -> None:
    """Two sessions at the same EVSE, same start (a CPO rounding to the minute; a restart)."""
    cpo = register_as(core, "2.1.1")
    for sid in ("S1", "S2"):
        assert cpo.call("PUT", f"sessions/{PATH}/{sid}", session_211(id=sid)).status == 201
    for cdr_id, kwh in (("C1", "5"), ("C2", "7")):
        body = cdr_211(id=cdr_id, total_energy=Decimal(kwh))
        assert cpo.call("POST", "cdrs", body).status == 201
    assert _links(core) == {"C1": "S1", "C2": "S2"}
    assert _second_cdr_findings(core) == 0


def test_an_unambiguous_cdr_is_linked_as_before(core: EmspCore) -> None:
    """One candidate: it is the CDR's session even if the EVSE differs (and a second CDR for it
    is still noticed)."""
    cpo = register_as(core, "2.1.1")
    assert cpo.call("PUT", f"sessions/{PATH}/S1", session_211()).status == 201
    assert cpo.call("POST", "cdrs", cdr_211(id="C1", location=_at("EVSE2"))).status == 201
    assert cpo.call("POST", "cdrs", cdr_211(id="C2")).status == 201
    assert _links(core) == {"C1": "S1", "C2": "S1"}
    assert _second_cdr_findings(core) == 1


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_the_ambiguous_link_uses_no_deprecated_api(core: EmspCore) -> None:
    """Where warnings are errors (review r8 L4: Result.tuples(), deprecated in SQLAlchemy 2.1),
    a CDR with two candidate sessions must still be linked, not answered 500."""
    cpo = register_as(core, "2.1.1")
    for sid in ("S1", "S2"):
        assert cpo.call("PUT", f"sessions/{PATH}/{sid}", session_211(id=sid)).status == 201
    assert cpo.call("POST", "cdrs", cdr_211(id="C1")).status == 201
    assert _links(core) == {"C1": "S1"}
