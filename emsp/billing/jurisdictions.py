"""Jurisdiction plug-ins, chosen by the charging location's country.

A plug-in says, for its country: the VAT rate on charging (and whether a service fee is taxable),
what a driver is shown before authorizing (AFIR price display), which fields its invoice lines must
carry, and which CDR evidence is required. `register` adds or replaces one (a deployment may call it
from its own package at start, or publish it as an `emsp_bench.jurisdictions` entry point and call
`load_entry_points`); `for_country` falls back to `DEFAULT`, which knows no VAT rule and
says so on every line it touches.

Built in, deliberately different:

- DE: 19 % VAT; Eichrecht (MessEG/MessEV): the measurement-law signed meter data (OCPI `signed_data`,
  e.g. OCMF) must come with the CDR and stay with the invoice line so the driver can verify it with
  transparency software; invoice lines name the EVSE id and the CPO (party) that metered.
- NL: 21 % VAT; no signed-meter evidence required; invoice lines name the EVSE id, the CPO and the
  location address.

Rates and requirements here are plausible defaults for a simulation bench, not tax advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")

ALPHA3 = {"DEU": "DE", "NLD": "NL", "BEL": "BE", "FRA": "FR", "AUT": "AT", "GBR": "GB", "DNK": "DK"}


def country_of(code: str | None) -> str:
    """ISO 3166 alpha-2 from an OCPI location country (alpha-3) or a party country (alpha-2)."""
    if not code:
        return ""
    code = code.upper()
    return ALPHA3.get(code, code if len(code) == 2 else "")


@dataclass(frozen=True)
class Jurisdiction:
    country: str  # alpha-2; "" for the default
    vat_rate: Decimal | None  # percent; None: unknown (VAT 0 on the line, with a note)
    signed_data_required: bool = False
    invoice_fields: tuple[str, ...] = ()  # evidence keys every line must carry
    fee_taxable: bool = True  # subscription fees bear VAT at the account's country rate
    label: str = ""

    def vat(self, excl: Decimal) -> Decimal:
        """VAT on one line amount, rounded to the cent half-up (per line, never on a total)."""
        if self.vat_rate is None:
            return Decimal("0.00")
        return (excl * self.vat_rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)

    def price_display(self, energy_price_excl: Decimal | None, currency: str) -> dict[str, str]:
        """What the driver sees before authorizing: the per-kWh price incl. VAT (AFIR ad-hoc price)."""
        shown: dict[str, str] = {"jurisdiction": self.country or "unknown", "currency": currency}
        if energy_price_excl is not None:
            rate = self.vat_rate or Decimal(0)
            incl = (energy_price_excl * (100 + rate) / 100).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            shown["price_per_kwh_incl_vat"] = str(incl)
            shown["price_per_kwh_excl_vat"] = str(energy_price_excl)
        shown["vat_rate"] = "unknown" if self.vat_rate is None else str(self.vat_rate)
        return shown

    def evidence(self, cdr: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The invoice-line evidence from a canonical CDR and what is missing for this jurisdiction."""
        where = cdr.get("cdr_location") or {}
        available: dict[str, Any] = {
            "evse_id": where.get("evse_id"),
            "cpo": f"{cdr.get('country_code', '')}*{cdr.get('party_id', '')}",
            "location_address": ", ".join(
                str(where[k]) for k in ("address", "postal_code", "city") if where.get(k)
            ),
            "signed_data": cdr.get("signed_data"),
        }
        fields = {k: available.get(k) for k in self.invoice_fields}
        missing = [k for k, v in fields.items() if not v]
        if self.signed_data_required:
            fields["signed_data"] = available["signed_data"]
            if not _signed_ok(available["signed_data"]):
                missing.append("signed_data")
        return fields, sorted(set(missing))


def _signed_ok(signed: Any) -> bool:
    """2.2.1 SignedData: an encoding method and at least one signed value with signed_data."""
    if not isinstance(signed, Mapping) or not signed.get("encoding_method"):
        return False
    values = signed.get("signed_values") or []
    return any(isinstance(v, Mapping) and v.get("signed_data") for v in values)


DEFAULT = Jurisdiction("", None, label="no jurisdiction plug-in: VAT unknown, charged as 0")

_REGISTRY: dict[str, Jurisdiction] = {}


def register(jurisdiction: Jurisdiction) -> None:
    _REGISTRY[jurisdiction.country] = jurisdiction


ENTRY_POINT_GROUP = "emsp_bench.jurisdictions"  # an installed package's Jurisdiction objects


def load_entry_points() -> list[str]:
    """Register every Jurisdiction an installed package offers under `ENTRY_POINT_GROUP` (optional:
    the operator calls it at start); returns the countries registered, in name order."""
    from importlib.metadata import entry_points

    added = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        plugin = entry.load()
        if isinstance(plugin, Jurisdiction):
            register(plugin)
            added.append(plugin.country)
    return added


def for_country(code: str | None) -> Jurisdiction:
    return _REGISTRY.get(country_of(code), DEFAULT)


def known() -> list[str]:
    return sorted(_REGISTRY)


register(
    Jurisdiction(
        "DE",
        Decimal(19),
        signed_data_required=True,
        invoice_fields=("evse_id", "cpo"),
        label="Germany: 19% VAT; Eichrecht signed meter data required",
    )
)
register(
    Jurisdiction(
        "NL",
        Decimal(21),
        invoice_fields=("evse_id", "cpo", "location_address"),
        label="Netherlands: 21% VAT; no signed meter data required",
    )
)
