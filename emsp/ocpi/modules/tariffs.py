"""Tariffs module, Receiver interface (every version): PUT, GET, DELETE {tariffs}/{cc}/{pid}/{id}.

Validation here is the minimal shape; when the tariff engine is importable its `parse_tariff`
also runs so a tariff we could never price is refused (2001) at the door, not at settlement.
A PUT older (last_updated) than the stored tariff is accepted but not applied (a finding).
"""

from __future__ import annotations

from datetime import datetime

from emsp.bus import TariffDeleted, TariffUpserted
from emsp.model import PartyRef
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, method_not_allowed, not_found
from emsp.ocpi.modules.common import check_not_ahead, check_owner, party_and_ids, stale_update, wire_of
from emsp.storage.queries import find_tariff
from emsp.storage.tables import TariffRow, TariffVersionRow
from emsp.wire import dumps, loads

ALLOWED = ["GET", "PUT", "DELETE"]


def find(ctx: Ctx, party: PartyRef, tariff_id: str) -> TariffRow | None:
    return find_tariff(ctx.db, party.country_code, party.party_id, tariff_id)


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on tariffs (receiver)", ALLOWED)
    party, (tariff_id,) = party_and_ids(ctx, 1, 1, module="tariffs")
    row = find(ctx, party, tariff_id)
    if method == "GET":
        if row is None:
            raise not_found("unknown tariff")
        return OcpiResult(loads(wire_of(row)))
    ctx.busy_check()
    if method == "DELETE":
        if row is None:
            raise not_found("unknown tariff")
        ctx.db.delete(row)
        _history(ctx, party, tariff_id, row.last_updated, deleted=True)
        ctx.publish(TariffDeleted(ctx.partner_id, party, tariff_id, ctx.now))
        return OcpiResult()
    body = ctx.json_object()
    check_owner(body, party, "id", tariff_id)
    mapped = ctx.adapter.tariff(body, party)
    check_not_ahead(ctx, mapped.last_updated)
    problem = ctx.services.check_tariff(mapped.doc)
    if problem is not None:
        raise invalid(f"tariff rejected: {problem}")
    if row is not None:
        kept = stale_update(ctx, party, "tariffs", tariff_id, mapped.last_updated, row.last_updated)
        if kept is not None:
            return kept
    created = row is None
    if row is None:
        row = TariffRow(country_code=party.country_code, party_id=party.party_id, tariff_id=tariff_id)
        ctx.db.add(row)
    row.partner = ctx.partner_id
    row.currency = mapped.extra["currency"]
    row.last_updated = mapped.last_updated
    row.raw = dumps(mapped.doc)
    row.wire = None if mapped.doc is body else dumps(body)
    _history(ctx, party, tariff_id, mapped.last_updated)
    ctx.db.flush()
    ctx.publish(TariffUpserted(ctx.partner_id, party, tariff_id, mapped.last_updated))
    return OcpiResult(http_status=201 if created else 200)


def _history(
    ctx: Ctx, party: PartyRef, tariff_id: str, last_updated: datetime, *, deleted: bool = False
) -> None:
    """Keep the version (a CDR's provenance names the versions in effect at its instants)."""
    ctx.db.add(
        TariffVersionRow(
            partner=ctx.partner_id, country_code=party.country_code, party_id=party.party_id,
            tariff_id=tariff_id, last_updated=last_updated, received_at=ctx.now, deleted=deleted,
        )
    )  # fmt: skip
