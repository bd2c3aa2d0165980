"""OCPI 2.3.0 adapter: 2.3.0 wire objects to and from the canonical documents.

Mapping (from the 2.3.0 text of types, mod_tariffs, mod_cdrs, credentials):
- Price {before_taxes, taxes[]} -> {excl_vat: before_taxes, incl_vat: before_taxes + the tax amounts};
  no `taxes` at all means no tax applies to the amount (cardinality *), so incl_vat = before_taxes;
- PriceLimit {before_taxes, after_taxes} -> {excl_vat, incl_vat};
- Tariff `tax_included`: NO -> component prices exclude tax, as in 2.2.1; N/A -> no tax applies
  (the component `vat` is dropped: incl. = excl.); YES -> prices include the component's `vat`, so
  the canonical price is price / (1 + vat/100) (12 decimals), or the price itself without a `vat`;
- credentials `hub_party_id` -> the hub party (checked like a declared HUB role);
- everything else has the 2.2.1 shape; objects the bench does not model stay in the wire body.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emsp.model import CdrInfo, PartyRef, SessionInfo
from emsp.ocpi.adapter import CredentialsInfo, Doc, SessionPatch, Stamped
from emsp.ocpi.v221 import schemas as v221
from emsp.ocpi.v221.adapter import V221Adapter, cdr_info, credentials_info, session_info
from emsp.ocpi.v230 import schemas
from emsp.ocpi.validation import validate

VERSION = "2.3.0"
_PRICE_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
_CANONICAL_DIGITS = Decimal("1e-12")


def price(wire: Any) -> Doc | None:
    if not isinstance(wire, dict):
        return None
    before = wire["before_taxes"]
    taxes = wire.get("taxes") or []
    return {"excl_vat": before, "incl_vat": before + sum((t["amount"] for t in taxes), Decimal(0))}


def price_limit(wire: Any) -> Doc | None:
    if not isinstance(wire, dict):
        return None
    out: Doc = {"excl_vat": wire["before_taxes"]}
    if wire.get("after_taxes") is not None:
        out["incl_vat"] = wire["after_taxes"]
    return out


def _component(component: dict[str, Any], tax_included: str) -> dict[str, Any]:
    out = dict(component)
    vat = component.get("vat")
    if tax_included == "N/A":
        out.pop("vat", None)
    elif tax_included == "YES" and isinstance(vat, Decimal | int) and vat >= 0:
        # A negative vat is left for the tariff check to refuse (2001), never divided by (100 + vat).
        out["price"] = (component["price"] * 100 / (100 + Decimal(vat))).quantize(_CANONICAL_DIGITS)
    return out


def tariff_doc(wire: dict[str, Any]) -> Doc:
    """The canonical tariff of a (validated) 2.3.0 tariff."""
    doc = {k: v for k, v in wire.items() if k not in ("tax_included", "preauthorize_amount")}
    for bound in ("min_price", "max_price"):
        if bound in wire:
            doc[bound] = price_limit(wire[bound])
    tax_included = wire.get("tax_included", "NO")
    doc["elements"] = [
        {**el, "price_components": [_component(c, tax_included) for c in el.get("price_components", [])]}
        for el in wire.get("elements", [])
    ]
    return doc


def _with_prices(wire: dict[str, Any]) -> Doc:
    doc = dict(wire)
    for name in _PRICE_FIELDS:
        if wire.get(name) is not None:
            doc[name] = price(wire[name])
    return doc


class V230Adapter(V221Adapter):
    version = VERSION

    def price_from_number(self, value: Any) -> Doc | None:
        return {"before_taxes": value}  # 2.3.0 types: Price (taxes are optional)

    def credentials(self, body: Any) -> CredentialsInfo:
        creds = validate(schemas.Credentials, body)
        info = credentials_info(creds)
        hub = creds.hub_party_id
        if hub is None:
            return info
        return CredentialsInfo(info.token, info.url, info.roles, (hub[:2], hub[2:]))

    def tariff(self, body: Any, party: PartyRef) -> Stamped:
        model = validate(schemas.Tariff, body)
        return Stamped(tariff_doc(body), model.last_updated, {"currency": model.currency})

    def session(self, body: Any, party: PartyRef, partner: str) -> tuple[SessionInfo, Doc]:
        validate(schemas.Session, body)
        doc = _with_prices(body)
        return session_info(partner, validate(v221.Session, doc)), doc

    def session_patch(self, body: Any) -> SessionPatch | None:
        return None  # the canonical Session is not the wire body (prices added): the general path

    def cdr(self, body: Any, party: PartyRef | None, partner: str, now: Any) -> tuple[CdrInfo, Doc]:
        validate(schemas.Cdr, body)
        doc = _with_prices(body)
        if isinstance(body.get("tariffs"), list):
            doc["tariffs"] = [tariff_doc(t) for t in body["tariffs"]]
        return cdr_info(partner, validate(v221.Cdr, doc), now), doc


ADAPTER = V230Adapter()
