"""CDRs module, Receiver interface (every version): POST {cdrs}, GET at the URL we return.

The POST answer carries a `Location` header with the URL of the stored CDR (cdrs, response
headers). We choose {cdrs}/{country_code}/{party_id}/{id}: a CDR id is unique only per party
(a version whose CDR names no party, 2.1.1, gets {cdrs}/{id} within the partner's one party).
A CDR can never be changed (cdrs, flow and lifecycle). A repeated POST of the same id is recorded
as a duplicate and never billed again: identical content is answered as success (a retry), a
different content with 2001 (a change must come as a Credit CDR with a new id).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from emsp.bus import CdrReceived
from emsp.model import CdrInfo, PartyRef
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, method_not_allowed, not_found
from emsp.ocpi.modules.cdr_checks import note_cdr_money, note_foreign_token
from emsp.ocpi.modules.common import party_and_ids, party_from, wire_of
from emsp.ocpi.modules.sessions import stored_status
from emsp.services.cdrs import resolve_cdr
from emsp.storage.queries import cdr_wire, find_cdr, insert_cdr, session_cdrs
from emsp.storage.tables import CdrRow, DuplicateCdrRow, PulledCdrRow, same_id
from emsp.wire import dumps, loads


def find(ctx: Ctx, party: PartyRef, cdr_id: str) -> CdrRow | None:
    return find_cdr(ctx.db, party.country_code, party.party_id, cdr_id)


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    if not ctx.segments:
        if method != "POST":
            raise method_not_allowed(f"{method} not supported on the CDRs receiver endpoint", ["POST"])
        return _post(ctx)
    if method != "GET":
        raise method_not_allowed(f"{method} not supported on a CDR (CDRs cannot be changed)", ["GET"])
    if ctx.adapter.cdr_url_has_party:
        party, (cdr_id,) = party_and_ids(ctx, 1, 1, module="cdrs")
    else:
        if len(ctx.segments) != 1 or not ctx.segments[0]:
            raise not_found("unknown resource", status_code=2000)
        own = party_from(ctx, {})
        if own is None:
            raise not_found("unknown CDR")
        party, cdr_id = own, ctx.segments[0]
    row = find(ctx, party, cdr_id)
    if row is None or row.partner != ctx.partner_id:
        raise not_found("unknown CDR")
    return OcpiResult(loads(wire_of(row)))


def _first_push_after_pull(ctx: Ctx, party: PartyRef, cdr_id: str) -> bool:
    marker = ctx.db.scalars(
        select(PulledCdrRow).where(
            PulledCdrRow.country_code == party.country_code,
            PulledCdrRow.party_id == party.party_id,
            func.upper(PulledCdrRow.cdr_id) == same_id(cdr_id),  # any case: CiString
        )
    ).first()
    if marker is None:
        return False
    ctx.db.delete(marker)  # a second POST of it is a repeat again
    return True


def _post(ctx: Ctx) -> OcpiResult:
    ctx.busy_check()
    body = ctx.json_object()
    info, doc = ctx.adapter.cdr(body, party_from(ctx, body), ctx.partner_id, ctx.now)
    party = info.party
    ctx.require_owner(party.country_code, party.party_id)
    where = (party.country_code, party.party_id) if ctx.adapter.cdr_url_has_party else ()
    location = {"Location": ctx.url_for("cdrs", *where, info.cdr_id)}
    stored = cdr_wire(ctx.db, party.country_code, party.party_id, info.cdr_id)
    identical = stored is not None and _same_cdr(loads(stored), body)
    if identical and _first_push_after_pull(ctx, party, info.cdr_id):
        # We pulled it from the CPO's Sender before its POST got through: stored and billed once
        # already, and this is no repeat of the CPO's (emsp.ocpi.pull).
        return OcpiResult(message="CDR already received", headers=location)
    if stored is not None:
        ctx.db.add(
            DuplicateCdrRow(
                partner=ctx.partner_id,
                country_code=party.country_code,
                party_id=party.party_id,
                cdr_id=info.cdr_id,
                at=ctx.now,
                identical=identical,
            )
        )
        ctx.log.warning("duplicate_cdr", cdr_id=info.cdr_id, identical=identical)
        what = "identical" if identical else "different content"
        ctx.note(
            "duplicate_cdr",
            f"CDR {info.cdr_id} again ({what})",
            party=party,
            module="cdrs",
            object_id=info.cdr_id,
        )
        if identical:
            return OcpiResult(message="CDR already received", headers=location)
        err = invalid("CDR id already received with other content; CDRs cannot be changed, send a Credit CDR")
        err.commit = True  # the duplicate must be recorded even though the request is refused
        raise err
    _notice(ctx, info, doc)
    at = doc.get("cdr_location")
    info = resolve_cdr(ctx.db, info, at.get("evse_uid") if isinstance(at, dict) else None)
    _notice_second(ctx, info)
    event = CdrReceived(ctx.partner_id, info)
    # One Core INSERT: an ORM object and its flush cost several times the statement itself.
    # Provenance: the version's tables held (the adapter validated the body before this point).
    values = row_columns(info, dumps(doc), None if doc is body else dumps(body))
    values.update(ocpi_version=ctx.adapter.version, validation="valid", idempotency_key=event.idempotency_key)
    insert_cdr(ctx.db, values)
    ctx.written_cdrs.append(values)
    ctx.publish(event)
    return OcpiResult(http_status=201, headers=location)


def _same_cdr(stored: dict[str, Any], body: dict[str, Any]) -> bool:
    """`body` is the stored CDR again: the same content, its id in any case (CiString: the same id)."""
    return stored == body or stored == {**body, "id": stored.get("id")}


def row_columns(info: CdrInfo, raw: str, wire: str | None) -> dict[str, Any]:
    """Every column of a new CdrRow but its key, as `emsp.services.cdrs.new_row` fills them (and the
    defaults it leaves to the table: no credit unless said, no provenance yet)."""
    cost = info.total_cost
    return {
        "partner": info.partner,
        "country_code": info.party.country_code,
        "party_id": info.party.party_id,
        "cdr_id": info.cdr_id,
        "session_id": info.session_id,
        "token_uid": info.token_uid,
        "contract_id": info.contract_id,
        "authorization_reference": info.authorization_reference,
        "location_id": info.location_id,
        "currency": cost.currency,
        "total_energy": info.total_energy_kwh,
        "total_cost_excl": cost.excl_vat,
        "total_cost_incl": cost.incl_vat,
        "start": info.start,
        "end": info.end,
        "received_at": info.received_at,
        "credit": info.credit,
        "raw": raw,
        "wire": wire,
        "ocpi_version": None,
        "validation": None,
        "validation_notes": None,
        "idempotency_key": None,
    }


KWH_TOLERANCE = Decimal("0.001")  # a CPO rounding its periods' energy is no disagreement


def _notice(ctx: Ctx, info: CdrInfo, doc: dict[str, Any]) -> None:
    """What a valid CDR says about its partner (emsp.findings, NOTICED): accepted all the same."""
    party, cdr_id = info.party, info.cdr_id

    def note(kind: str, example: str) -> None:
        ctx.note(kind, example, party=party, module="cdrs", object_id=cdr_id)

    note_cdr_money(ctx, party, cdr_id, doc, info.credit)
    note_foreign_token(ctx, party, "cdrs", cdr_id, doc)
    cost = info.total_cost
    if not info.credit and info.total_energy_kwh > 0 and cost.excl_vat == 0 and not cost.incl_vat:
        note("zero_cost_cdr", f"CDR {cdr_id}: {info.total_energy_kwh} kWh, total_cost 0 {cost.currency}")
    periods_kwh = _periods_energy(doc.get("charging_periods"))
    if periods_kwh is not None and abs(periods_kwh - abs(info.total_energy_kwh)) > KWH_TOLERANCE:
        note(
            "cdr_totals_mismatch",
            f"CDR {cdr_id}: total_energy {info.total_energy_kwh}, periods {periods_kwh}",
        )
    if info.session_id and stored_status(ctx, party, info.session_id) == "PENDING":
        note("session_left_pending", f"CDR {cdr_id} for session {info.session_id}, still PENDING")


def _periods_energy(periods: Any) -> Decimal | None:
    """The ENERGY volume of a CDR's charging periods (canonical form); None when they carry none."""
    if not isinstance(periods, list):
        return None
    total, seen = Decimal(0), False
    for period in periods:
        for dimension in (period.get("dimensions") or []) if isinstance(period, dict) else []:
            if isinstance(dimension, dict) and dimension.get("type") == "ENERGY":
                volume = dimension.get("volume")
                if isinstance(volume, int | Decimal) and not isinstance(volume, bool):
                    total, seen = total + Decimal(volume), True
    return total if seen else None


def _notice_second(ctx: Ctx, info: CdrInfo) -> None:
    """A non-credit CDR for a session that already has one not credited since: stored and billed
    (the CPO's business: it may be right) but noticed, so a double bill is visible. A credit CDR and
    its replacement (mod_cdrs, Credit CDRs) balance out and are no finding."""
    if info.credit or not info.session_id:
        return
    party = info.party
    earlier = session_cdrs(ctx.db, party.country_code, party.party_id, info.session_id)
    charged = [cdr_id for cdr_id, credit in earlier if not credit]
    if len(charged) > len(earlier) - len(charged):
        ctx.note(
            "second_cdr_for_session",
            f"CDR {info.cdr_id} for session {info.session_id}, which has CDR {', '.join(charged)}",
            party=party,
            module="cdrs",
            object_id=info.cdr_id,
        )
