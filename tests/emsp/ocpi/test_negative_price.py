"""One rule at both doors: a cost is never negative outside a Credit CDR's total_cost (mod_cdrs).

Review item: the eMSP accepted a Tariff with a negative price (lint only warned) and then refused,
with 2001, every CDR priced with it (its costs negative). The tariff is now refused at its PUT
(2001, the field named and why), in every version; a price of 0 stays valid.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import cdr, tariff
from test_versions_e2e import cdr_211, tariff_211
from version_helpers import register_as

from emsp.core import EmspCore, EmspSettings

D = Decimal
VERSIONS = ["2.1.1", "2.2.1", "2.3.0"]


def _tariff(version: str) -> dict[str, Any]:
    if version == "2.1.1":
        return tariff_211()
    body = tariff()
    if version == "2.3.0":
        body["tax_included"] = "NO"
    return body


def _priced(version: str, price: str) -> dict[str, Any]:
    body = copy.deepcopy(_tariff(version))
    body["elements"][0]["price_components"][0]["price"] = D(price)
    return body


def _bounded(version: str, bound: str, amount: str) -> dict[str, Any]:
    key = "before_taxes" if version == "2.3.0" else "excl_vat"
    return _tariff(version) | {bound: {key: D(amount)}}


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings())


# (case, tariff maker, expected: None = accepted, else a piece of the 2001 message)
TARIFF_CASES: list[tuple[str, Any, str | None]] = [
    ("positive price", lambda v: _priced(v, "0.30"), None),
    ("free", lambda v: _priced(v, "0"), None),
    ("negative price", lambda v: _priced(v, "-0.10"), "0.price': Value error, must not be negative"),
    ("negative min_price", lambda v: _bounded(v, "min_price", "-1"), "min_price"),
    ("negative max_price", lambda v: _bounded(v, "max_price", "-1"), "max_price"),
    ("min_price 0", lambda v: _bounded(v, "min_price", "0"), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "make", "expected"),
    [
        pytest.param(v, m, e, id=f"{c}-{v}")
        for c, m, e in TARIFF_CASES
        for v in VERSIONS
        if not (v == "2.1.1" and "_price" in c)  # 2.1.1's Tariff has no min_price/max_price
    ],
)
def test_tariff_door(core: EmspCore, version: str, make: Any, expected: str | None) -> None:
    cpo = register_as(core, version)
    answer = cpo.call("PUT", "tariffs/DE/CPA/TAR1", make(version)).json()
    stored = cpo.call("GET", "tariffs/DE/CPA/TAR1").status
    if expected is None:
        assert answer["status_code"] == 1000 and stored == 200, answer
        return
    assert answer["status_code"] == 2001, answer
    assert expected in answer["status_message"], answer
    assert stored == 404  # nothing stored


def _negative_cost_cdr(version: str) -> dict[str, Any]:
    if version == "2.1.1":
        return cdr_211(total_cost=D("-0.10"))
    if version == "2.3.0":
        return cdr(session_id=None, total_cost={"before_taxes": D("-0.10")})
    return cdr(session_id=None, total_cost={"excl_vat": D("-0.10")})


@pytest.mark.parametrize("version", VERSIONS)
def test_cdr_door_keeps_the_same_rule(core: EmspCore, version: str) -> None:
    """What a negative price gives, a negative cost outside a Credit CDR, is 2001 at the CDR door."""
    cpo = register_as(core, version)
    answer = cpo.call("POST", "cdrs", _negative_cost_cdr(version)).json()
    assert answer["status_code"] == 2001 and "negative" in answer["status_message"], answer


def test_230_cdr_embedding_a_negative_priced_tariff_is_refused(core: EmspCore) -> None:
    cpo = register_as(core, "2.3.0")
    body = cdr(session_id=None, total_cost={"before_taxes": D("3.15")}, tariffs=[_priced("2.3.0", "-1")])
    answer = cpo.call("POST", "cdrs", body).json()
    assert answer["status_code"] == 2001 and "must not be negative" in answer["status_message"], answer
