"""A CPO's correction of a CDR it sent: a Credit CDR that cancels it and a replacement CDR.

mod_cdrs: a CDR is never changed once sent; a CPO that got one wrong sends a Credit CDR
(`credit: true`, every cost negated, `credit_reference_id` = the id of the CDR it credits) and then a
new CDR with a new id. The dialect knob `credit_cdrs` says how this CPO does it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.timeutil import format_utc

COST_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
MAX_ID = 39  # CDR id: CiString(39)


def _negate(price: Any) -> Any:
    if not isinstance(price, Mapping):
        return price
    out = dict(price)
    for key in ("excl_vat", "incl_vat"):
        value = out.get(key)
        if value is not None and Decimal(str(value)) != 0:
            out[key] = -Decimal(str(value))
    return out


def _suffixed(cdr_id: str, suffix: str) -> str:
    return f"{cdr_id[: MAX_ID - len(suffix)]}{suffix}"


def credit_cdr(original: Mapping[str, Any], now: datetime, *, reference: bool) -> dict[str, Any]:
    """The Credit CDR of `original`: the same session and facts, every cost negated."""
    credit = dict(original)
    credit["id"] = _suffixed(str(original["id"]), "-CR")
    credit["credit"] = True
    if reference:
        credit["credit_reference_id"] = original["id"]
    for name in COST_FIELDS:
        if name in credit:
            credit[name] = _negate(credit[name])
    credit["remark"] = f"credits CDR {original['id']}"
    credit["last_updated"] = format_utc(now)
    return credit


def replacement_cdr(original: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The corrected CDR: a new id, the session's facts (the simulation's original was right)."""
    replacement = dict(original)
    replacement["id"] = _suffixed(str(original["id"]), "-R1")
    replacement["remark"] = f"replaces CDR {original['id']}"
    replacement["last_updated"] = format_utc(now)
    return replacement
