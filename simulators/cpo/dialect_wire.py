"""How a dialect dresses the objects the mock CPO sends, applied once to every outgoing body.

The CPO builds spec-strict objects (versions/*.py give each OCPI version's wire form); a `Dress`
made once from the dialect then rewrites what a partner in the field gets wrong in formats only:
DateTime text (types, DateTime: UTC with `Z`), the case of country codes (CiString, but upper case
in every example), unknown extra fields, `total_cost` as a bare number, prices without `incl_vat`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from emsp.timeutil import parse_utc
from simulators.dialects.profile import DialectProfile

_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_COSTS = frozenset(
    {
        "total_cost",
        "total_fixed_cost",
        "total_energy_cost",
        "total_time_cost",
        "total_parking_cost",
        "total_reservation_cost",
    }
)


def _fraction(moment: datetime, fraction: str) -> str:
    if fraction == "millis":
        return f".{moment.microsecond // 1000:03d}"
    if fraction == "micros":
        return f".{moment.microsecond:06d}"
    return ""


def restamp(text: str, *, zone: str, fraction: str, local_tz: str) -> str:
    """A `...Z` DateTime in the dialect's form: `Z`, no designator, `+00:00`, or local with offset."""
    moment = parse_utc(text)
    if zone == "local":
        moment = moment.astimezone(ZoneInfo(local_tz))
    head = moment.strftime("%Y-%m-%dT%H:%M:%S") + _fraction(moment, fraction)
    if zone == "z":
        return head + "Z"
    if zone == "none":
        return head
    offset = moment.strftime("%z")  # +0000, +0100
    return f"{head}{offset[:3]}:{offset[3:]}"


def _price_as_number(value: Any) -> Any:
    """total_cost as a bare number: the price excl. VAT (2.2.1 excl_vat, 2.3.0 before_taxes)."""
    if isinstance(value, dict):
        return value.get("excl_vat", value.get("before_taxes"))
    return value


def _without_incl_vat(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k not in ("incl_vat", "taxes", "after_taxes")}
    return value


@dataclass(frozen=True, slots=True)
class Dress:
    """The format knobs of one dialect, read once (`from_dialect`); `apply` rewrites a body."""

    timestamp_zone: str
    timestamp_fraction: str
    local_tz: str
    lower_country: bool
    extension_field: str | None
    number_total_cost: bool
    omit_incl_vat: bool

    @classmethod
    def from_dialect(cls, dialect: DialectProfile, *, local_tz: str, cpo_id: str) -> Dress:
        return cls(
            timestamp_zone=dialect.timestamp_zone,
            timestamp_fraction=dialect.timestamp_fraction,
            local_tz=local_tz,
            lower_country=dialect.country_code_case == "lower",
            extension_field=f"x_{cpo_id.replace('-', '_')}_backoffice" if dialect.extension_fields else None,
            number_total_cost=dialect.total_cost_format == "number",
            omit_incl_vat=dialect.incl_vat == "omitted",
        )

    @property
    def _restamps(self) -> bool:
        return self.timestamp_zone != "z" or self.timestamp_fraction != "none"

    @property
    def changes_nothing(self) -> bool:
        return (
            not self._restamps
            and not self.lower_country
            and self.extension_field is None
            and not self.number_total_cost
            and not self.omit_incl_vat
        )

    def apply(self, body: Any) -> Any:
        if self.changes_nothing:
            return body
        if isinstance(body, list):
            return [self._object(item) if isinstance(item, dict) else item for item in body]
        return self._object(body) if isinstance(body, dict) else body

    def url(self, url: str, country_code: str, party_id: str) -> str:
        """An object URL `.../{country_code}/{party_id}/...` with the dialect's country code case."""
        if not self.lower_country:
            return url
        return url.replace(f"/{country_code}/{party_id}/", f"/{country_code.lower()}/{party_id}/")

    def _object(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = self._walk(obj, top=True)
        if self.extension_field is not None and "last_updated" in obj:
            out[self.extension_field] = {"source": "backoffice", "revision": 1}
        return out

    def _walk(self, value: Any, *, top: bool = False) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if key in _COSTS and item is not None:
                    if self.omit_incl_vat:
                        item = _without_incl_vat(item)
                    if key == "total_cost" and self.number_total_cost:
                        item = _price_as_number(item)
                if key == "country_code" and top and self.lower_country and isinstance(item, str):
                    item = item.lower()
                out[key] = self._walk(item)
            return out
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, str) and self._restamps and _STAMP.match(value):
            return restamp(
                value, zone=self.timestamp_zone, fraction=self.timestamp_fraction, local_tz=self.local_tz
            )
        return value
