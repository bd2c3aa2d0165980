"""A CPO's correction of a CDR it sent: a Credit CDR that cancels it and a replacement CDR.

mod_cdrs: a CDR is never changed once sent; a CPO that got one wrong sends a Credit CDR
(`credit: true`, `credit_reference_id` = the id of the CDR it credits, all the original's data with
only `total_cost` negated) and then a new CDR with a new id. The dialect knob `credit_cdrs` says how
this CPO does it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.timeutil import format_utc

MAX_CREDIT_ID = 39  # a Credit CDR's id: CiString(39), room for a suffix
MAX_ID = 36  # any other CDR's id


def _minus(value: Any) -> Any:
    if value is None or Decimal(str(value)) == 0:
        return value
    return -Decimal(str(value))


def _negate(price: Any) -> Any:
    """A Price with every amount negated, in the CDR's wire form: 2.2.1 `excl_vat`/`incl_vat`, 2.3.0
    `before_taxes` and each of its `taxes` (types: Price, TaxAmount)."""
    if not isinstance(price, Mapping):
        return price
    out = dict(price)
    for key in ("excl_vat", "incl_vat", "before_taxes"):
        if key in out:
            out[key] = _minus(out[key])
    if isinstance(out.get("taxes"), list):
        out["taxes"] = [
            {**tax, "amount": _minus(tax.get("amount"))} if isinstance(tax, Mapping) else tax
            for tax in out["taxes"]
        ]
    return out


def _suffixed(cdr_id: str, suffix: str, limit: int) -> str:
    return f"{cdr_id[: limit - len(suffix)]}{suffix}"


def credit_cdr(original: Mapping[str, Any], now: datetime, *, reference: bool) -> dict[str, Any]:
    """The Credit CDR of `original`: the same data, `total_cost` negated."""
    credit = dict(original)
    credit["id"] = _suffixed(str(original["id"]), "-CR", MAX_CREDIT_ID)
    credit["credit"] = True
    if reference:
        credit["credit_reference_id"] = original["id"]
    credit["total_cost"] = _negate(credit.get("total_cost"))
    credit["remark"] = f"credits CDR {original['id']}"
    credit["last_updated"] = format_utc(now)
    return credit


def replacement_cdr(original: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The corrected CDR: a new id, the session's facts (the simulation's original was right)."""
    replacement = dict(original)
    replacement["id"] = _suffixed(str(original["id"]), "-R1", MAX_ID)
    replacement["remark"] = f"replaces CDR {original['id']}"
    replacement["last_updated"] = format_utc(now)
    return replacement
