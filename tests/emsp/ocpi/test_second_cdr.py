"""A second CDR (new id) for a session whose earlier CDR was not credited is stored, billed and
noticed (second_cdr_for_session); a Credit CDR and its replacement are no finding (review item 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, cdr

from emsp.core import EmspCore

D = Decimal


def credit(credited: str, cdr_id: str) -> dict[str, Any]:
    body = cdr(cdr_id, credit=True, credit_reference_id=credited)
    body["total_cost"] = {"excl_vat": D("-3.15"), "incl_vat": D("-3.81")}
    return body


# (case, CDRs posted in order, findings expected: count of second_cdr_for_session)
CASES: list[tuple[str, list[dict[str, Any]], int]] = [
    ("one CDR", [cdr("C1")], 0),
    ("same id again (duplicate_cdr, not this)", [cdr("C1"), cdr("C1")], 0),
    ("second CDR, new id", [cdr("C1"), cdr("C2")], 1),
    ("third CDR, new id", [cdr("C1"), cdr("C2"), cdr("C3")], 2),
    ("credit then replacement", [cdr("C1"), credit("C1", "C1-CR"), cdr("C1-R1")], 0),
    ("replacement without credit", [cdr("C1"), cdr("C1-R1")], 1),
    ("another session", [cdr("C1"), cdr("C2", session_id="S2")], 0),
    ("no session id", [cdr("C1", session_id=None), cdr("C2", session_id=None)], 0),
]


@pytest.mark.parametrize(("posted", "expected"), [pytest.param(p, e, id=c) for c, p, e in CASES])
def test_a_second_cdr_for_a_session_is_noticed(
    core: EmspCore, cpo: Client, posted: list[dict[str, Any]], expected: int
) -> None:
    for body in posted:
        assert cpo.call("POST", f"{V}/cdrs", body).json()["status_code"] == 1000
    records = core.records()
    found = [f for f in records.findings if f.kind == "second_cdr_for_session"]
    assert sum(f.count for f in found) == expected
    assert len(records.invoice_lines) == len({b["id"] for b in posted})  # each still billed once
    if expected:
        assert found[0].object_id == posted[1]["id"] and "has CDR C1" in found[0].detail
