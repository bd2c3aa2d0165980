"""Two CDRs the spec allows but a tariff cannot price as they stand (review items): each is stored,
gets its one invoice line with a defined amount, and is a finding.

- a CDR in another currency than the tariff it names: not repriced (no exchange rate), the line keeps
  the CPO's total unverified; finding cdr_currency_mismatch (before: a null line, no finding);
- a negative ENERGY volume (V2G, mod_cdrs CdrDimensionType ENERGY, 2.2.1/2.3.0): the fed-back kWh
  are not priced (a tariff has no feed-in price); finding negative_energy_cdr (before: a negative
  line paying the driver the import price, no finding).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import V, cdr, location, period, register, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.findings import KINDS
from emsp.model import EmspRecords
from emsp.settlement.fed_back import fed_back_kwh, import_only

D = Decimal


def _post(bodies: list[dict[str, Any]], tariffs: list[dict[str, Any]]) -> EmspRecords:
    core = EmspCore(EmspSettings())  # the real tariff engine
    cpo = register(core)
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location()).json()["status_code"] == 1000
    for t in tariffs:
        assert cpo.call("PUT", f"{V}/tariffs/DE/CPA/{t['id']}", t).json()["status_code"] == 1000
    for body in bodies:
        assert cpo.call("POST", f"{V}/cdrs", body).json()["status_code"] == 1000
    return core.records()


def _counts(records: EmspRecords) -> dict[str, int]:
    return {
        f.kind: f.count
        for f in records.findings
        if f.kind in ("cdr_currency_mismatch", "negative_energy_cdr")
    }


def _usd(tariff_id: str) -> dict[str, Any]:
    return tariff(tariff_id) | {"currency": "USD"}


def _periods(*kwh: str, second_tariff: str = "TAR1") -> list[dict[str, Any]]:
    starts = ("2025-03-01T09:00:00Z", "2025-03-01T09:30:00Z")
    out = [period(starts[i], k) for i, k in enumerate(kwh)]
    if len(out) > 1:
        out[1]["tariff_id"] = second_tariff
    return out


def _v2g(cdr_id: str, *kwh: str, total: str, cost: str = "0", **changes: Any) -> dict[str, Any]:
    body = cdr(cdr_id, charging_periods=_periods(*kwh), total_energy=D(total), **changes)
    body["total_cost"] = {"excl_vat": D(cost), "incl_vat": D(cost)}
    return body


# (case, tariffs, CDRs, expected (cdr_id, amount_excl_vat, piece of the note), findings)
CASES: list[
    tuple[str, list[dict[str, Any]], list[dict[str, Any]], list[tuple[str, Any, str]], dict[str, int]]
] = [
    ("same currency", [tariff()], [cdr("C1")], [("C1", D("3.15"), "")], {}),
    (
        "CDR in USD, tariff in EUR",
        [tariff()],
        [cdr("C1", currency="USD")],
        [("C1", None, "not repriced: tariff TAR1 in EUR, the CDR is in USD (no exchange rate)")],
        {"cdr_currency_mismatch": 1},
    ),
    (
        "second tariff of the periods in another currency",
        [tariff(), _usd("TAR2")],
        [cdr("C1", charging_periods=_periods("6", "4.5", second_tariff="TAR2"))],
        [("C1", None, "tariff TAR2 in USD")],
        {"cdr_currency_mismatch": 1},
    ),
    (
        "charged only",
        [tariff()],
        [_v2g("C1", "8", total="8", cost="2.40")],
        [("C1", D("2.40"), "")],
        {},
    ),
    (
        "fed back only: nothing priced, nothing paid out",
        [tariff()],
        [_v2g("C1", "-5", total="0")],
        [("C1", D(0), "5 kWh fed back to the grid: not priced")],
        {"negative_energy_cdr": 1},
    ),
    (
        "charged then fed back: the charged kWh priced",
        [tariff()],
        [_v2g("C1", "8", "-5", total="3", cost="2.40")],
        [("C1", D("2.40"), "5 kWh fed back")],
        {"negative_energy_cdr": 1},
    ),
    (
        "its Credit CDR negates the same amount, noticed once",
        [tariff()],
        [
            _v2g("C1", "8", "-5", total="3", cost="2.40"),
            _v2g("C1-CR", "8", "-5", total="3", cost="-2.40", credit=True, credit_reference_id="C1"),
        ],
        [("C1", D("2.40"), "5 kWh fed back"), ("C1-CR", D("-2.40"), "5 kWh fed back")],
        {"negative_energy_cdr": 1},
    ),
]


@pytest.mark.parametrize(
    ("tariffs", "bodies", "lines", "findings"),
    [pytest.param(t, b, ln, f, id=case) for case, t, b, ln, f in CASES],
)
def test_a_cdr_its_tariff_cannot_price_as_it_stands_is_billed_as_defined_and_noticed(
    tariffs: list[dict[str, Any]],
    bodies: list[dict[str, Any]],
    lines: list[tuple[str, Any, str]],
    findings: dict[str, int],
) -> None:
    records = _post(bodies, tariffs)
    assert [c.cdr_id for c in records.cdrs] == [b["id"] for b in bodies]  # stored: valid OCPI
    got = [(ln.cdr_id, ln.amount_excl_vat, ln.note) for ln in records.invoice_lines]
    assert [(cdr_id, amount) for cdr_id, amount, _ in got] == [(c, a) for c, a, _ in lines]
    for (_, _, note), (_, _, piece) in zip(got, lines, strict=True):
        assert piece in note
    assert _counts(records) == findings


def test_the_new_kinds_are_finding_kinds() -> None:
    """Every summary counts every kind (0 when none), and an expectation may name them."""
    assert {"cdr_currency_mismatch", "negative_energy_cdr"} <= set(KINDS)


# (volumes of the ENERGY dimensions per period, fed back kWh, volumes once import-only)
FED_BACK: list[tuple[list[list[Any]], Decimal, list[list[Any]]]] = [
    ([[D("10.5")]], D(0), [[D("10.5")]]),
    ([[D(-5)]], D(5), [[D(0)]]),
    ([[8], [D("-2.5")], [D("-0.5")]], D(3), [[8], [D(0)], [D(0)]]),
    ([[0]], D(0), [[0]]),
]


@pytest.mark.parametrize(("volumes", "fed_back", "imported"), FED_BACK)
def test_fed_back_energy_is_the_negative_energy_volumes(
    volumes: list[list[Any]], fed_back: Decimal, imported: list[list[Any]]
) -> None:
    def body(vols: list[list[Any]]) -> dict[str, Any]:
        periods = [
            {"start_date_time": "x", "dimensions": [{"type": "ENERGY", "volume": v} for v in p]
             + [{"type": "TIME", "volume": D("0.5")}]}
            for p in vols
        ]  # fmt: skip
        return {"id": "C", "charging_periods": periods}

    assert fed_back_kwh(body(volumes)) == fed_back
    assert import_only(body(volumes)) == body(imported)  # TIME and the charged kWh untouched
