"""Per-partner tolerance: what the eMSP accepts from one partner beyond the spec (design principle 4).

The operator's configuration of a partner (`tolerate:` in a scenario's CPO, `partners[].tolerate`
of `serve emsp`, the contract API's partner) names the deviations to accept from it. They are
applied here, in the OCPI front — authentication, the request URL, body parsing and DateTime
reading — before any adapter validates a body or any service sees it, never as a branch above the
adapters. Each accepted deviation is noted (emsp.findings, TOLERATED); without its option the same
request is refused with the status the spec pairs with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from emsp.ocpi.errors import invalid


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Everything False/None: spec-strict (the default for every partner)."""

    plain_token: bool = False  # Authorization: Token <raw token> on 2.2.1/2.3.0 (2.1.1 is raw by spec)
    token_b_as_c: bool = False  # the partner calls with its own token B instead of our token C
    trailing_slash: bool = False  # .../sessions/NL/CPO/S1/
    datetime_offset: bool = False  # 2026-03-02T08:00:00+01:00 (read as the instant it names)
    local_time_zone: str | None = None  # DateTimes without designator are wall time of this zone
    total_cost_number: bool = False  # "total_cost": 12.5 where the version has a Price object

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Tolerance:
        """From configuration; ValueError naming the option when one is unknown or ill-typed."""
        if not data:
            return STRICT
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"unknown tolerance option {key!r}; known: {', '.join(known)}")
            if key == "local_time_zone":
                if value is not None:
                    _zone(value)
            elif not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            values[key] = value
        return cls(**values)

    def as_doc(self) -> dict[str, Any]:
        """The options that differ from strict (what is stored and shown)."""
        return {k: v for k, v in asdict(self).items() if v not in (False, None)}


STRICT = Tolerance()
OPTIONS: tuple[str, ...] = tuple(f.name for f in fields(Tolerance))


def _zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str):
        raise ValueError("local_time_zone must be an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"local_time_zone: unknown IANA time zone {name!r}") from exc


# A DateTime as OCPI writes it, with whatever zone designator a partner put on it.
_DATETIME = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?(?P<zone>Z|[+-]\d{2}:\d{2})?"
)
Note = Callable[[str, str], None]  # (finding kind, example excerpt)


def _utc_text(value: datetime, frac: str) -> str:
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}{frac}Z"


def _fix_datetime(text: str, where: str, tolerance: Tolerance, note: Note, offsets: bool) -> str:
    match = _DATETIME.fullmatch(text)
    if match is None:
        return text
    zone, frac = match["zone"], match["frac"] or ""
    if zone is not None and zone != "Z":
        if offsets:
            return text  # the version allows them (2.1.1): the adapter reads the instant
        if not tolerance.datetime_offset:
            raise invalid(
                f"invalid field '{where}': DateTime {text!r} has a UTC offset; OCPI DateTimes are UTC "
                "(a Z or no zone designator)"
            )
        try:
            utc = _utc_text(datetime.fromisoformat(f"{match['base']}{zone}"), frac)
        except (ValueError, OverflowError):
            return text  # not a real date, or none in UTC: the adapter's validation names it
        note("datetime_offset", f"{where}: {text}")
        return utc
    if zone is None and tolerance.local_time_zone is not None:
        try:
            wall = datetime.fromisoformat(match["base"]).replace(tzinfo=_zone(tolerance.local_time_zone))
            utc = _utc_text(wall, frac)
        except (ValueError, OverflowError):
            return text
        note("local_time", f"{where}: {text} ({tolerance.local_time_zone})")
        return utc
    return text


def normalise_body(
    body: Any,
    tolerance: Tolerance,
    note: Note,
    price_from_number: Callable[[Any], Any] | None = None,
    *,
    offsets_allowed: bool = False,
) -> Any:
    """The body with every tolerated deviation turned into its spec form, each one noted; a
    DateTime with an offset is refused (2001) unless tolerated. `price_from_number`: the adapter's
    Price object for a bare number (None: in this version a cost is a number). `offsets_allowed`:
    the version's DateTimes may carry offsets (2.1.1): left as they are, read by the adapter."""
    if offsets_allowed:
        tolerance = replace(tolerance, datetime_offset=False)
    return _walk(body, "", tolerance, note, price_from_number, offsets_allowed)


def _walk(
    value: Any,
    where: str,
    tolerance: Tolerance,
    note: Note,
    price: Callable[[Any], Any] | None,
    offsets: bool,
) -> Any:
    if isinstance(value, str):
        return _fix_datetime(value, where or "body", tolerance, note, offsets)
    if isinstance(value, list):
        return [_walk(v, f"{where}[{i}]", tolerance, note, price, offsets) for i, v in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if price is not None and tolerance.total_cost_number and _is_cost_number(key, item):
                wrapped = price(item)
                if wrapped is not None:  # None: in this version a cost is a number
                    note("total_cost_number", f"{path}: {item}")
                    out[key] = wrapped
                    continue
            out[key] = _walk(item, path, tolerance, note, price, offsets)
        return out
    return value


def _is_cost_number(key: Any, item: Any) -> bool:
    """A `total_*_cost` field given as a bare JSON number (parsed as int or Decimal)."""
    named = isinstance(key, str) and key.startswith("total_") and key.endswith("_cost")
    return named and isinstance(item, int | Decimal) and not isinstance(item, bool)


_OFFSET_TEXT = re.compile(r"T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?[+-]\d{2}:\d{2}")


def needs_normalising(text: str, tolerance: Tolerance, *, offsets_allowed: bool = False) -> bool:
    """Whether `normalise_body` could change or refuse anything in this body (one scan of the raw
    text, so a spec-strict body from a strict partner costs no walk of its tree)."""
    if tolerance.local_time_zone is not None or tolerance.total_cost_number:
        return True
    return not offsets_allowed and _OFFSET_TEXT.search(text) is not None


def tolerance_of_json(text: str | None) -> Tolerance:
    """The stored tolerance of a partner (PartnerRow.tolerate_json); unreadable is strict."""
    from emsp.wire import loads

    try:
        data = loads(text or "{}")
        return Tolerance.from_mapping(data if isinstance(data, dict) else None)
    except ValueError:
        return STRICT
