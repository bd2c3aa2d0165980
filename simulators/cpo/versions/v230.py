"""OCPI 2.3.0 wire form of the mock CPO: 2.2.1 plus the 2.3.0 tax model.

What differs from 2.2.1 (v2.3.0 types "Price class", "TaxAmount class"; mod_tariffs "TaxIncluded",
"PriceLimit"; credentials):
- a Price is `before_taxes` plus a list of `taxes` (TaxAmount: name, amount) instead of
  `excl_vat`/`incl_vat`; the CPO states its VAT as one TaxAmount named "VAT";
- a Tariff says `tax_included` (required): its component prices exclude VAT here ("NO"), or no
  tax applies when no component names a VAT rate ("N/A"); `min_price`/`max_price` are PriceLimits
  (`before_taxes`, `after_taxes`);
- credentials may name a `hub_party_id`: a bilateral CPO (the only connection the bench has) omits it.
New optional objects (parking, accepted service providers, Plug & Charge flags) are not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulators.cpo.versions.v221 import Wire221

_COSTS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def price(value: Mapping[str, Any]) -> dict[str, Any]:
    """2.2.1 Price (excl_vat, incl_vat?) -> 2.3.0 Price (before_taxes, taxes)."""
    out: dict[str, Any] = {"before_taxes": value["excl_vat"]}
    incl = value.get("incl_vat")
    if incl is not None and incl != value["excl_vat"]:
        out["taxes"] = [{"name": "VAT", "amount": incl - value["excl_vat"]}]
    return out


def _limit(value: Mapping[str, Any]) -> dict[str, Any]:
    out = {"before_taxes": value["excl_vat"]}
    if value.get("incl_vat") is not None:
        out["after_taxes"] = value["incl_vat"]
    return out


def _costs(data: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name in _COSTS:
        if isinstance(out.get(name), Mapping):
            out[name] = price(out[name])
    return out


class Wire230(Wire221):
    version = "2.3.0"

    def tariff(self, tariff: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(tariff)
        for name in ("min_price", "max_price"):
            if isinstance(out.get(name), Mapping):
                out[name] = _limit(out[name])
        comps = [c for e in tariff.get("elements", []) for c in e.get("price_components", [])]
        out["tax_included"] = "NO" if any(c.get("vat") is not None for c in comps) else "N/A"
        return out

    def session(self, session: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        return _costs(session)

    def session_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        return _costs(patch)

    def cdr(self, cdr: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        out = _costs(cdr)
        if out.get("tariffs"):
            out["tariffs"] = [self.tariff(t) for t in out["tariffs"]]
        return out


WIRE = Wire230()
