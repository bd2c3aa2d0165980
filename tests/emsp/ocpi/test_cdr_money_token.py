"""Money the spec rules out in an accepted CDR, a credit for a CDR never received and a token of
another eMSP are findings where the CDR (or Session) is accepted, never silence (review 4, G2/G3).
The CDR is still stored and answered 1000: it cannot be changed once sent, so refusing it would
only lose it for the CPO (emsp.ocpi.modules.cdr_checks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import T0, Client, V, cdr, session

from emsp.core import EmspCore

D = Decimal


def _price(excl: str, incl: str | None = None) -> dict[str, Decimal]:
    return {"excl_vat": D(excl)} | ({} if incl is None else {"incl_vat": D(incl)})


def _credit(cdr_id: str, reference: str, **changes: Any) -> dict[str, Any]:
    body = cdr(cdr_id, credit=True, credit_reference_id=reference, total_cost=_price("-3.15", "-3.81"))
    return body | changes


def _findings(core: EmspCore) -> dict[str, int]:
    return {f.kind: f.count for f in core.records().findings}


# (case, CDRs posted in order, findings expected)
MONEY: list[tuple[str, list[dict[str, Any]], dict[str, int]]] = [
    ("plain CDR", [cdr("C1")], {}),
    ("no incl_vat (allowed)", [cdr("C1", total_cost=_price("3.15"))], {}),
    ("zero VAT", [cdr("C1", total_cost=_price("3.15", "3.15"))], {}),
    ("negative VAT", [cdr("C1", total_cost=_price("10", "5"))], {"cdr_totals_mismatch": 1}),
    ("negative VAT in a part", [cdr("C1", total_energy_cost=_price("2", "1"))], {"cdr_totals_mismatch": 1}),
    ("part above the total", [cdr("C1", total_energy_cost=_price("100", "121"))], {"cdr_totals_mismatch": 1}),
    ("part within the total", [cdr("C1", total_energy_cost=_price("3", "3.63"))], {}),
    ("credit of a known CDR", [cdr("C1"), _credit("C1-CR", "C1")], {}),
    ("credit naming it in another case", [cdr("C1"), _credit("C1-CR", "c1")], {}),
    ("credit of an unknown CDR", [_credit("C9-CR", "NOPE")], {"credit_unknown_cdr": 1}),
    ("credit: parts stay positive (only total_cost is negative)",
     [cdr("C1"), _credit("C1-CR", "C1", total_energy_cost=_price("2", "2.42"))], {}),
    ("credit with positive VAT", [cdr("C1"), _credit("C1-CR", "C1", total_cost=_price("-3.15", "-3"))],
     {"cdr_totals_mismatch": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("posted", "expected"), [pytest.param(p, e, id=c) for c, p, e in MONEY])
def test_impossible_cdr_money_is_a_finding_and_the_cdr_is_kept(
    core: EmspCore, cpo: Client, posted: list[dict[str, Any]], expected: dict[str, int]
) -> None:
    for body in posted:
        assert cpo.call("POST", f"{V}/cdrs", body).json()["status_code"] == 1000
    found = _findings(core)
    found.pop("second_cdr_for_session", None)  # not this test's business
    assert found == expected
    assert [c.cdr_id for c in core.records().cdrs] == [b["id"] for b in posted]


def _token(country_code: str, party_id: str, uid: str = "FOREIGN1") -> dict[str, str]:
    return {"uid": uid, "type": "RFID", "contract_id": "FR-XYZ-C0001-X", "country_code": country_code,
            "party_id": party_id}  # fmt: skip


TOKENS = [
    ("our party", _token("NL", "EMS"), {}),
    ("our party, lower case", _token("nl", "ems"), {}),
    ("another eMSP's token", _token("FR", "XYZ"), {"foreign_token": 2}),
]


@pytest.mark.parametrize(("token", "expected"), [pytest.param(t, e, id=c) for c, t, e in TOKENS])
def test_a_session_and_cdr_for_another_emsps_token_are_a_finding(
    core: EmspCore, cpo: Client, token: dict[str, str], expected: dict[str, int]
) -> None:
    assert (
        cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session("S1", cdr_token=token)).json()["status_code"]
        == 1000
    )
    patch = {"kwh": 3, "last_updated": "2025-03-01T09:10:00Z"}
    assert cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch).json()["status_code"] == 1000  # not again
    assert cpo.call("POST", f"{V}/cdrs", cdr("C1", cdr_token=token)).json()["status_code"] == 1000
    found = _findings(core)
    assert {k: v for k, v in found.items() if k == "foreign_token"} == expected
    if expected:
        example = next(f for f in core.records().findings if f.kind == "foreign_token")
        assert "FOREIGN1" in example.detail and "FR/XYZ" in example.detail


def test_our_token_labelled_with_another_issuer_is_no_foreign_token(core: EmspCore, cpo: Client) -> None:
    from emsp.services.tokens import TokenSpec, upsert_token

    with core.db.unit() as db:
        upsert_token(db, TokenSpec(uid="RFID9", contract_id="NL-EMS-C00000009-X"), T0)
    assert (
        cpo.call("POST", f"{V}/cdrs", cdr("C1", cdr_token=_token("FR", "XYZ", "rfid9"))).json()["status_code"]
        == 1000
    )
    assert "foreign_token" not in _findings(core)
