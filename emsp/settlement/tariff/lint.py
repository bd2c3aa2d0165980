"""Tariff lint: structural errors plus warnings for the constructs that trip real partners."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import FLAT, TIME, Tariff, TariffError, TariffRestrictions, parse_tariff

_REQUIRED = ("country_code", "party_id", "id", "last_updated")


@dataclass(slots=True)
class LintReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def lint_tariff(data: Mapping[str, Any]) -> LintReport:
    report = LintReport()
    try:
        tariff = parse_tariff(data)
    except TariffError as exc:
        report.errors.append(str(exc))
        return report
    for key in _REQUIRED:  # mandatory in 2.2.1, not needed for pricing (see parse_tariff)
        if not data.get(key):
            report.errors.append(f"{key}: is required")
    _check_components(tariff, report.warnings)
    _check_restrictions(tariff, report.warnings)
    _check_dimensions(tariff, report.warnings)
    lo, hi = tariff.min_price, tariff.max_price
    if lo is not None and hi is not None and lo.excl_vat > hi.excl_vat:
        report.warnings.append("min_price: excl_vat is above max_price.excl_vat")
    if tariff.start_date_time and tariff.end_date_time and tariff.end_date_time <= tariff.start_date_time:
        report.warnings.append("end_date_time: not after start_date_time, the tariff is never valid")
    return report


def _check_components(tariff: Tariff, out: list[str]) -> None:
    for el in tariff.elements:
        seen: set[str] = set()
        for j, c in enumerate(el.price_components):
            path = f"elements[{el.index}].price_components[{j}]"
            if c.type in seen:
                out.append(f"{path}: second {c.type} component in one element is never used")
            seen.add(c.type)
            if c.vat is None and c.price != 0:
                if tariff.version == "2.1.1":
                    out.append(f"{path}: OCPI 2.1.1 has no vat, so costs incl. VAT are unknown")
                else:  # 2.2.1 PriceComponent: omitted means no VAT applies (not the same as 0 %)
                    out.append(f"{path}.vat: missing, read as no VAT applicable (incl_vat = excl_vat)")
            if c.type != FLAT and c.step_size == 0:
                out.append(f"{path}.step_size: 0 has no block size; it is billed unrounded, use 1 for exact")
            if c.type == FLAT and c.step_size > 1:
                out.append(f"{path}.step_size: FLAT has no unit, step_size {c.step_size} is meaningless")
            if c.price < 0:
                out.append(f"{path}.price: negative price")
        r = el.restrictions
        if r is not None and r.reservation is not None and seen - {FLAT, TIME}:
            out.append(f"elements[{el.index}]: a reservation element can only have FLAT and TIME components")


def _check_restrictions(tariff: Tariff, out: list[str]) -> None:
    for el in tariff.elements:
        r = el.restrictions
        if r is None:
            continue
        path = f"elements[{el.index}].restrictions"
        if r == TariffRestrictions():
            out.append(f"{path}: empty restrictions object, the element is a fallback")
        if r.start_time is not None and r.end_time is not None and r.start_time == r.end_time:
            out.append(f"{path}: start_time equals end_time; read as the whole day (ambiguous)")
        for lo_name, hi_name in (
            ("min_kwh", "max_kwh"),
            ("min_power", "max_power"),
            ("min_current", "max_current"),
            ("min_duration", "max_duration"),
            ("start_date", "end_date"),
        ):
            lo, hi = getattr(r, lo_name), getattr(r, hi_name)
            if lo is not None and hi is not None and lo >= hi:
                out.append(f"{path}: {lo_name} >= {hi_name}, the element never applies")


def _check_dimensions(tariff: Tariff, out: list[str]) -> None:
    for dim, pairs in tariff.by_dimension.items():
        session = [el for el, _c in pairs if el.restrictions is None or el.restrictions.reservation is None]
        if session and all(el.restrictions is not None for el in session):
            out.append(f"{dim}: no element without restrictions (fallback); when none matches, {dim} is free")
        for j, later in enumerate(session):
            for earlier in session[:j]:
                if _covers(earlier.restrictions, later.restrictions):
                    out.append(
                        f"elements[{later.index}]: {dim} is unreachable, "
                        f"shadowed by elements[{earlier.index}]"
                    )
                    break
                if (
                    later.restrictions is not None
                    and not _covers(later.restrictions, earlier.restrictions)
                    and _overlap(earlier.restrictions, later.restrictions)
                ):
                    out.append(
                        f"elements[{later.index}]: {dim} restrictions overlap elements[{earlier.index}] "
                        "partially; the earlier element wins where both match"
                    )


def _window(r: TariffRestrictions) -> set[int]:
    """The minutes of the day a time restriction allows (1440-element sets are cheap enough)."""
    lo = 0 if r.start_time is None else r.start_time
    hi = 1440 if r.end_time is None else r.end_time
    if lo < hi:
        return set(range(lo, hi))
    if lo == hi:
        return set(range(1440))
    return set(range(lo, 1440)) | set(range(0, hi))


def _within(inner: tuple[Any, Any], outer: tuple[Any, Any]) -> bool:
    """[lo, hi) inner ⊆ outer, None = unbounded."""
    (ilo, ihi), (olo, ohi) = inner, outer
    lo_ok = olo is None or (ilo is not None and ilo >= olo)
    hi_ok = ohi is None or (ihi is not None and ihi <= ohi)
    return lo_ok and hi_ok


def _intersects(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    lo = max((v for v in (a[0], b[0]) if v is not None), default=None)
    hi = min((v for v in (a[1], b[1]) if v is not None), default=None)
    return lo is None or hi is None or lo < hi


_RANGES = (
    ("min_kwh", "max_kwh"),
    ("min_power", "max_power"),
    ("min_current", "max_current"),
    ("min_duration", "max_duration"),
    ("start_date", "end_date"),
)


def _covers(outer: TariffRestrictions | None, inner: TariffRestrictions | None) -> bool:
    """Every situation `inner` matches is matched by `outer` too (conservative)."""
    if outer is None:
        return True
    if inner is None:
        return outer == TariffRestrictions()
    if outer.reservation != inner.reservation:
        return False
    if outer.day_of_week and (not inner.day_of_week or not inner.day_of_week <= outer.day_of_week):
        return False
    if (outer.start_time is not None or outer.end_time is not None) and not _window(inner) <= _window(outer):
        return False
    return all(
        _within((getattr(inner, lo), getattr(inner, hi)), (getattr(outer, lo), getattr(outer, hi)))
        for lo, hi in _RANGES
    )


def _overlap(a: TariffRestrictions | None, b: TariffRestrictions | None) -> bool:
    """Some situation may match both (conservative: fields are checked independently)."""
    if a is None or b is None:
        return True
    if a.day_of_week and b.day_of_week and not a.day_of_week & b.day_of_week:
        return False
    if not _window(a) & _window(b):
        return False
    return all(
        _intersects((getattr(a, lo), getattr(a, hi)), (getattr(b, lo), getattr(b, hi))) for lo, hi in _RANGES
    )
