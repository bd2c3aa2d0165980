"""CDRs settled from memory (emsp.services.cdrs.FreshCdrs): what the receiver just stored, as
reading the row back would give it, and the same settlement as from the table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import FakePricer, V, cdr, register, session

from emsp.core import EmspCore, EmspSettings
from emsp.settlement.lookups import stored_cdr

CDRS = {
    "plain": cdr(),
    "credit": cdr("CDR2", credit=True, credit_reference_id="CDR1",
                  total_cost={"excl_vat": Decimal("-3.15"), "incl_vat": Decimal("-3.81")}),
    "no incl_vat, integer energy, fractions of seconds": cdr(
        "CDR3", total_cost={"excl_vat": Decimal("3.150")}, total_energy=10,
        end_date_time="2025-03-01T10:00:00.123456Z"),
    "id in another case than its session's": cdr("cdr-4", session_id="s1"),
}  # fmt: skip


@pytest.mark.parametrize("body", CDRS.values(), ids=list(CDRS))
def test_a_fresh_cdr_is_what_reading_its_row_back_gives(body: dict[str, Any]) -> None:
    core = EmspCore(EmspSettings(inline_drain=False), pricer=FakePricer())
    cpo = register(core)
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    assert cpo.call("POST", f"{V}/cdrs", body).status == 201
    assert core.fresh_cdrs is not None and len(core.fresh_cdrs) == 1
    fresh = core.fresh_cdrs.take("DE", "CPA", body["id"].upper())  # an id in any case: a CiString
    with core.db.unit() as db:
        assert fresh == stored_cdr(db, "DE", "CPA", body["id"])
    assert core.fresh_cdrs.take("DE", "CPA", body["id"]) is None  # taken once


def _settled(fresh: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    reads: list[str] = []

    def counted(db: Any, country_code: str, party_id: str, cdr_id: str) -> Any:
        reads.append(cdr_id)
        return stored_cdr(db, country_code, party_id, cdr_id)

    monkeypatch.setattr("emsp.services.cdrs.stored_cdr", counted)
    core = EmspCore(EmspSettings(), pricer=FakePricer())
    if not fresh:
        core.fresh_cdrs = None  # the router keeps none: settlement reads every CDR from the table
    cpo = register(core)
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session())
    for body in CDRS.values():
        assert cpo.call("POST", f"{V}/cdrs", body).status == 201
    assert core.fresh_cdrs is None or len(core.fresh_cdrs) == 0  # every one settled
    assert len(reads) == (0 if fresh else len(CDRS))  # the table read back only without the memo
    records = core.records()
    return [records.invoice_lines, records.findings, core.events_after(0, 1000)]


def test_settling_from_memory_writes_what_settling_from_the_table_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _settled(True, monkeypatch) == _settled(False, monkeypatch)
