"""`POST /api/v1/quotes`: the price a driver sees before authorizing (AFIR price display).

The tariff in effect at a connector is the first of its `tariff_ids` that we received from the
location's party, that is active at the start (`start_date_time` <= start < `end_date_time`) and
applies to a contract driver: `type` REGULAR or absent (mod_tariffs TariffType; AD_HOC_PAYMENT and
the PROFILE_* types need ad-hoc payment or charging preferences). A connector without
`tariff_ids` falls back to the party's default: its only such tariff in effect, if it has one.
The per-kWh price displayed is that tariff's ENERGY component in force at the quote's start, chosen
by the engine's own element selection (`component_at`): a time-of-use tariff shows the off-peak
price at 11:00, the price the quote itself bills, not its first ENERGY component whatever it says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.billing.jurisdictions import for_country
from emsp.contract.common import invalid, not_found
from emsp.contract.deps import Run, now
from emsp.contract.guard import NOT_FOUND
from emsp.contract.models import (
    ConnectorRef,
    DisplayText,
    QuoteOut,
    QuoteRequest,
    TariffQuote,
    money,
    text,
)
from emsp.core import EmspCore
from emsp.services.quotes import in_effect
from emsp.settlement.tariff import PriceResult, Tariff, TariffError, component_at, parse_tariff, quote
from emsp.storage.queries import find_location
from emsp.storage.tables import TariffRow
from emsp.wire import loads

_HOURS = Decimal("0.0001")  # volumes shown to 4 decimals, as in CDRs


@dataclass(frozen=True)
class _Stored:
    tariff: Tariff
    raw: dict[str, Any]


class _Tariffs:
    """The party's stored tariffs, parsed once per request; unparseable ones are skipped."""

    def __init__(self, db: Session, country_code: str, party_id: str) -> None:
        rows = db.scalars(
            select(TariffRow)
            .where(TariffRow.country_code == country_code, TariffRow.party_id == party_id)
            .order_by(TariffRow.pk)
        )
        self.by_id: dict[str, _Stored] = {}
        for row in rows:
            raw = loads(row.raw)
            try:
                self.by_id[row.tariff_id] = _Stored(parse_tariff(raw), raw)
            except TariffError:
                continue  # accepted on the wire but not priceable: never "in effect" for a quote

    def pick(self, tariff_ids: list[str], at: datetime) -> str | None:
        candidates = tariff_ids or list(self.by_id)
        active = [i for i in candidates if i in self.by_id and in_effect(self.by_id[i].tariff, at)]
        if not tariff_ids and len(active) != 1:
            return None  # no connector reference and no single default: nothing we can show
        return active[0] if active else None


def _connectors(location: dict[str, Any], req: QuoteRequest) -> list[tuple[ConnectorRef, list[str]]]:
    evses = [e for e in location.get("evses") or [] if isinstance(e, dict)]
    if req.evse_uid is not None:
        evses = [e for e in evses if e.get("uid") == req.evse_uid]
        if not evses:
            raise not_found(f"EVSE {req.evse_uid} at location {req.location_id}")
    found: list[tuple[ConnectorRef, list[str]]] = []
    for evse in evses:
        if evse.get("status") == "REMOVED":  # mod_locations: no longer exists
            continue
        for c in evse.get("connectors") or []:
            if req.connector_id is not None and c.get("id") != req.connector_id:
                continue
            ids = [t for t in c.get("tariff_ids") or [] if isinstance(t, str)]
            found.append((ConnectorRef(evse_uid=str(evse.get("uid")), connector_id=str(c.get("id"))), ids))
    if req.connector_id is not None and not found:
        raise not_found(f"connector {req.connector_id} of EVSE {req.evse_uid}")
    return found


def _alt_text(raw: dict[str, Any]) -> list[DisplayText]:
    texts = raw.get("tariff_alt_text") or []
    return [
        DisplayText(language=str(t.get("language", "")), text=str(t.get("text", "")))
        for t in texts
        if isinstance(t, dict)
    ]


def _tariff_quote(stored: _Stored, where: list[ConnectorRef], result: PriceResult) -> TariffQuote:
    totals, cur = result.totals, result.currency

    def price(p: Any) -> Any:
        return None if p is None else money(p.excl_vat, p.incl_vat, cur)

    total = money(totals.total_cost.excl_vat, totals.total_cost.incl_vat, cur)
    assert total is not None
    return TariffQuote(
        tariff_id=stored.tariff.id,
        currency=cur,
        connectors=where,
        total_cost=total,
        total_energy_cost=price(totals.total_energy_cost),
        total_time_cost=price(totals.total_time_cost),
        total_parking_cost=price(totals.total_parking_cost),
        total_fixed_cost=price(totals.total_fixed_cost),
        total_energy_kwh=text(totals.total_energy),
        total_time_hours=text(totals.total_time.quantize(_HOURS)),
        total_parking_time_hours=text(totals.total_parking_time.quantize(_HOURS)),
        tariff_alt_text=_alt_text(stored.raw),
        warnings=list(result.warnings),
    )


def _priced(
    stored: _Stored,
    where: list[ConnectorRef],
    req: QuoteRequest,
    start: datetime,
    duration: timedelta,
    tz: str,
) -> TariffQuote:
    try:
        result = quote(
            stored.tariff,
            start=start,
            energy_kwh=req.energy_kwh,
            duration=duration,
            power_kw=req.power_kw,
            tz=tz,
        )
    except TariffError as exc:
        raise invalid(f"cannot quote with tariff {stored.tariff.id}: {exc}", loc=("body",)) from None
    except (ArithmeticError, ValueError) as exc:  # OverflowError: times at the end of the calendar
        raise invalid(
            f"cannot quote with tariff {stored.tariff.id}: out of range ({exc})", loc=("body",)
        ) from None
    return _tariff_quote(stored, where, result)


def _energy_price(tariff: Tariff, start: datetime, tz: str, power_kw: Decimal | None) -> Decimal | None:
    """The per-kWh price (excl. VAT) in force at the quote's start, as the tariff engine selects it."""
    component = component_at(tariff, "ENERGY", start, tz=tz, power_kw=power_kw)
    return None if component is None else component.price


def make_router(core: EmspCore) -> APIRouter:
    router = APIRouter(tags=["quotes"])

    @router.post("/quotes", response_model=QuoteOut, responses=NOT_FOUND)
    async def make_quote(req: QuoteRequest, at: Annotated[datetime, Depends(now)], run: Run) -> QuoteOut:
        """Price `energy_kwh` over `duration_minutes` at a location (or one EVSE / connector)."""
        if req.connector_id is not None and req.evse_uid is None:
            raise invalid(
                "connector_id needs evse_uid (connector ids are unique per EVSE only)",
                loc=("body", "connector_id"),
            )
        start = req.start or at
        cc, pid = req.country_code.upper(), req.party_id.upper()

        def load() -> tuple[Any, str, _Tariffs]:
            with core.db.unit() as db:
                row = find_location(db, cc, pid, req.location_id)
                if row is None:
                    raise not_found(f"location {cc}/{pid}/{req.location_id}")
                return loads(row.raw), row.time_zone, _Tariffs(db, cc, pid)

        # Only the reads go where the core runs; pricing needs no database and stays off its thread.
        location, tz, tariffs = await run(load)
        groups: dict[str, list[ConnectorRef]] = {}
        unpriced: list[ConnectorRef] = []
        for ref, ids in _connectors(location, req):
            chosen = tariffs.pick(ids, start)
            if chosen is None:
                unpriced.append(ref)
            else:
                groups.setdefault(chosen, []).append(ref)
        if not groups:
            raise not_found(f"tariff in effect at {start:%Y-%m-%dT%H:%M:%SZ} for the connectors asked about")
        duration = timedelta(microseconds=int(req.duration_minutes * 60_000_000))
        return QuoteOut(
            country_code=cc,
            party_id=pid,
            location_id=req.location_id,
            start=start,
            energy_kwh=text(req.energy_kwh),
            duration_minutes=text(req.duration_minutes),
            quotes=[
                _priced(tariffs.by_id[t], where, req, start, duration, tz) for t, where in groups.items()
            ],
            unpriced=unpriced,
            price_display=[
                for_country(location.get("country")).price_display(
                    _energy_price(tariffs.by_id[t].tariff, start, tz, req.power_kw),
                    tariffs.by_id[t].tariff.currency,
                )
                | {"tariff_id": t}
                for t in groups
            ],
        )

    return router
