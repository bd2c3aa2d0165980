"""Independent re-pricing of each received CDR from the tariff *we* received, then one invoice line.

The tariff engine (`emsp.settlement.tariff`) is imported lazily so the core works before it lands;
tests inject a fake through the `Pricer` protocol.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy.orm import Session

from emsp.model import VAT_UNKNOWN, PartyRef
from emsp.services.findings import NewFinding, record
from emsp.settlement.facts import CdrFacts, LineFacts, WrittenLine
from emsp.settlement.fed_back import fed_back_kwh, import_only
from emsp.settlement.invoice import Priced, write_line
from emsp.settlement.lookups import location_time_zone, tariff_raw
from emsp.storage.queries import location_raw
from emsp.wire import ci_key, dumps, loads


@dataclass(frozen=True, slots=True)
class PricedTotal:
    excl_vat: Decimal
    incl_vat: Decimal | None
    energy_kwh: Decimal


class Pricer(Protocol):
    def price(
        self, tariffs: Mapping[str, Mapping[str, Any]], cdr: Mapping[str, Any], *, tz: str
    ) -> PricedTotal:
        """Price `cdr` with the tariffs it references, by id (the first is in effect at the start)."""
        ...


class PricingUnavailable(Exception):
    """No tariff engine installed (yet)."""


_imported: list[Any] = []  # the engine once imported (import_module is a lookup per CDR otherwise)


def _engine() -> Any:
    """The tariff engine package, imported lazily (it is built in parallel with this module)."""
    if _imported:
        return _imported[0]
    try:
        engine = importlib.import_module("emsp.settlement.tariff")
    except ImportError:
        return None
    _imported.append(engine)
    return engine


def _parse(engine: Any, tariff: Mapping[str, Any]) -> Any:
    """A canonical tariff; one whose VAT is unknown is read without VAT (incl. VAT stays unknown)."""
    if tariff.get(VAT_UNKNOWN):
        return engine.parse_tariff_211(tariff, country_code=tariff.get("country_code") or "",
                                       party_id=tariff.get("party_id") or "")  # fmt: skip
    return engine.parse_tariff(tariff)


class TariffEnginePricer:
    """Adapter to `emsp.settlement.tariff` (parse_tariff / price_cdr), imported on first use.

    Parsed tariffs (frozen) are kept per JSON text: every CDR of a site names the same few
    tariffs, and parsing one cost about as much as pricing the CDR. The text is the whole input
    of the parse (numbers keep their digits), so the same text always parses the same."""

    PARSED_KEPT = 256  # distinct tariff texts kept; a run's tariffs (and their versions) fit

    def __init__(self) -> None:
        self._parsed: dict[str, Any] = {}

    def _parsed_tariff(self, engine: Any, tariff: Mapping[str, Any]) -> Any:
        text = dumps(tariff)
        parsed = self._parsed.get(text)
        if parsed is None:
            parsed = _parse(engine, tariff)  # a TariffError is raised, never kept
            if len(self._parsed) >= self.PARSED_KEPT:
                self._parsed.pop(next(iter(self._parsed)), None)  # the oldest text goes first
            self._parsed[text] = parsed
        return parsed

    def price(
        self, tariffs: Mapping[str, Mapping[str, Any]], cdr: Mapping[str, Any], *, tz: str
    ) -> PricedTotal:
        engine = _engine()
        if engine is None or not hasattr(engine, "price_cdr"):
            raise PricingUnavailable("tariff engine not installed")
        parsed = {tariff_id: self._parsed_tariff(engine, t) for tariff_id, t in tariffs.items()}
        # One tariff: the engine prices every period with it (and warns about foreign tariff_ids).
        result = engine.price_cdr(next(iter(parsed.values())) if len(parsed) == 1 else parsed, cdr, tz=tz)
        total = result.totals.total_cost
        return PricedTotal(total.excl_vat, total.incl_vat, result.totals.total_energy)

    @staticmethod
    def check(tariff: Mapping[str, Any]) -> str | None:
        engine = _engine()
        if engine is None or not hasattr(engine, "parse_tariff"):
            return None  # engine not there yet: minimal validation only
        try:
            _parse(engine, tariff)
        except engine.TariffError as exc:
            return str(exc) or type(exc).__name__
        return None


def _tariff_ids(cdr: Mapping[str, Any], location: Callable[[], Mapping[str, Any] | None]) -> list[str]:
    """CDR tariffs, then charging periods' tariff_id, then the connector's tariff_ids (the location
    is read only then: its JSON holds the whole site)."""
    ids: list[str] = []
    for tariff in cdr.get("tariffs") or []:
        if isinstance(tariff, Mapping) and isinstance(tariff.get("id"), str):
            ids.append(tariff["id"])
    for period in cdr.get("charging_periods") or []:
        if isinstance(period, Mapping) and isinstance(period.get("tariff_id"), str):
            ids.append(period["tariff_id"])
    site = None if ids else location()
    if site is not None:
        where = cdr.get("cdr_location") or {}
        for evse in site.get("evses") or []:
            if not _same(evse.get("uid"), where.get("evse_uid")):
                continue
            for connector in evse.get("connectors") or []:
                if _same(connector.get("id"), where.get("connector_id")):
                    ids.extend(t for t in connector.get("tariff_ids") or [] if isinstance(t, str))
    first: dict[str, str] = {}  # ordered de-duplication (deterministic), in any case (CiStrings)
    for tariff_id in ids:
        first.setdefault(ci_key(tariff_id), tariff_id)
    return list(first.values())


def _same(a: object, b: object) -> bool:
    """Tariff ids, EVSE uids and Connector ids are CiStrings: the same id in any case."""
    return isinstance(a, str) and isinstance(b, str) and ci_key(a) == ci_key(b)


@functools.lru_cache(maxsize=256)
def _tariff_document(raw: str) -> Mapping[str, Any]:
    """A stored tariff's JSON, parsed once per distinct text: every CDR of a site names the same
    few tariffs. Shared between calls, so read-only (pricers take a Mapping and only read it)."""
    return cast(Mapping[str, Any], loads(raw))


def _strip(tariff: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tariff.items() if k != "last_updated"}


def reprice(db: Session, cdr_row: CdrFacts, pricer: Pricer) -> Priced:
    cdr = loads(cdr_row.raw)
    where = (cdr_row.country_code, cdr_row.party_id, cdr_row.location_id)
    zone = location_time_zone(db, *where)
    notes: list[str] = []
    tz = zone[0] if zone is not None else (cdr.get("cdr_location") or {}).get("time_zone")
    if not isinstance(tz, str) or not tz:
        tz = "UTC"
        notes.append("no time zone known: priced in UTC")

    def location() -> Mapping[str, Any] | None:
        raw = None if zone is None else location_raw(db, *where)
        return None if raw is None else cast(Mapping[str, Any], loads(raw))

    ids = _tariff_ids(cdr, location)
    if not ids:
        return Priced(None, None, None, "no tariff referenced by CDR or connector")
    if len(ids) > 1:
        notes.append(f"periods switch tariffs {ids}")
    tariffs: dict[str, Mapping[str, Any]] = {}
    for tariff_id in ids:
        stored = tariff_raw(db, cdr_row.country_code, cdr_row.party_id, tariff_id)
        embedded = next((t for t in cdr.get("tariffs") or [] if _same(t.get("id"), tariff_id)), None)
        if stored is not None:
            tariffs[tariff_id] = _tariff_document(stored)
            if embedded is not None and _strip(embedded) != _strip(tariffs[tariff_id]):
                notes.append(f"tariff {tariff_id} embedded in CDR differs from the one received")
        elif embedded is not None:
            tariffs[tariff_id] = embedded
            notes.append(f"tariff {tariff_id} not received: priced from the CDR-embedded tariff")
        else:
            return Priced(None, None, ids[0], "; ".join([*notes, f"tariff {tariff_id} unknown"]))
    tariff_id = ids[0]
    fed_back = fed_back_kwh(cdr)
    findings: tuple[NewFinding, ...] = ()
    if fed_back:  # V2G: priced on what was charged only (emsp.settlement.fed_back)
        cdr = import_only(cdr)
        notes.append(f"{fed_back} kWh fed back to the grid: not priced (a tariff has no feed-in price)")
    if fed_back and not cdr_row.credit:  # a Credit CDR repeats its original's data: noticed once
        example = f"CDR {cdr_row.cdr_id}: {fed_back} kWh fed back to the grid"
        findings += (NewFinding("negative_energy_cdr", _party(cdr_row), example, "cdrs", cdr_row.cdr_id),)
    foreign = _foreign_currencies(cdr_row.currency, tariffs)
    if foreign:
        # A CDR is valid OCPI whatever tariff it names, so it is stored; but its tariff cannot price
        # it in another currency (no exchange rate is agreed in OCPI): the line carries the CPO's
        # total unverified (no amount of ours) and the CDR is a finding (cdr_currency_mismatch).
        example = f"CDR {cdr_row.cdr_id} in {cdr_row.currency}, {foreign}"
        note = f"not repriced: {foreign}, the CDR is in {cdr_row.currency} (no exchange rate)"
        findings += (NewFinding("cdr_currency_mismatch", _party(cdr_row), example, "cdrs", cdr_row.cdr_id),)
        return Priced(None, None, tariff_id, "; ".join([*notes, note]), findings)
    try:
        total = pricer.price(tariffs, cdr, tz=tz)
    except Exception as exc:  # the engine refusing one CDR must still leave exactly one line
        failed = f"pricing failed: {type(exc).__name__}: {exc}"
        return Priced(None, None, tariff_id, "; ".join([*notes, failed]), findings)
    excl, incl = total.excl_vat, total.incl_vat
    if cdr_row.credit:  # credit CDRs carry negative totals (cdrs, credit CDRs)
        excl, incl = -excl, (None if incl is None else -incl)
    return Priced(excl, incl, tariff_id, "; ".join(notes), findings)


def _party(cdr_row: CdrFacts) -> PartyRef:
    return PartyRef(cdr_row.country_code, cdr_row.party_id)


def _foreign_currencies(currency: str, tariffs: Mapping[str, Mapping[str, Any]]) -> str:
    """The tariffs whose currency is not the CDR's, said as 'tariff T in EUR' ('' when none)."""
    return ", ".join(
        f"tariff {tariff_id} in {t.get('currency')}"
        for tariff_id, t in tariffs.items()
        if t.get("currency") != currency
    )


def settle_cdr(db: Session, cdr_row: CdrFacts, pricer: Pricer, now: datetime) -> LineFacts:
    priced = reprice(db, cdr_row, pricer)
    line = write_line(db, cdr_row, priced, now)
    # A line written now (not one found from an earlier settlement of this CDR): counted once per CDR.
    if priced.findings and isinstance(line, WrittenLine):
        record(db, cdr_row.partner, priced.findings, now)
    return line
