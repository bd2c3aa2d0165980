"""Sessions module, Receiver interface (every version): GET, PUT, PATCH {sessions}/{cc}/{pid}/{id}.

PUT replaces the whole Session including charging_periods (absent/empty list removes them).
PATCH replaces the fields it carries, except charging_periods, which are *added* to the existing
list; an absent or empty list changes nothing (2.2.1 sessions, PATCH method; a 2.1.1 PATCH is "the
same as PUT" for the fields it carries, so there they replace). A PATCH of a session we do
not know answers HTTP 404 so the CPO does a GET/PUT (transport_and_format, PATCH). A PUT or PATCH
whose last_updated is older than the stored session's is accepted but not applied (a finding).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.bus import TERMINAL_SESSION_STATUSES, SessionUpserted
from emsp.model import PartyRef
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, method_not_allowed, not_found
from emsp.ocpi.modules.common import check_owner, party_and_ids, stale_update
from emsp.services.sessions import resolve_session, row_values
from emsp.storage.queries import insert_session, session_raw, update_session
from emsp.wire import dumps, loads

ALLOWED = ["GET", "PUT", "PATCH"]


def find(
    ctx: Ctx, party: PartyRef, session_id: str, *, remember: bool = True
) -> tuple[int, str, datetime] | None:
    """(row key, raw JSON, last_updated) of the stored session, or None. `remember=False`: a read
    that does not precede a write of the session (a CDR's check) is not kept in memory."""
    stored, key = ctx.stored_sessions, (party.country_code, party.party_id, session_id)
    row = None if stored is None else stored.get(key)
    if row is None:
        row = session_raw(ctx.db, *key)
        if row is not None and stored is not None and remember:  # read before this unit wrote
            stored.update({key: row})
    return row


def merge_patch(current: dict[str, Any], patch: dict[str, Any], *, append_periods: bool) -> dict[str, Any]:
    merged = dict(current)
    for key, value in patch.items():
        if key == "charging_periods" and append_periods:
            if not isinstance(value, list):
                raise invalid("invalid field 'charging_periods': must be a list")
            # mod_sessions PATCH: periods are *added*. A period already stored (same content) is a
            # replayed PATCH (a retry after a lost response), not new charging: adding it again would
            # count its energy twice, so handlers stay idempotent (design principle 8).
            stored = list(current.get("charging_periods") or [])
            merged["charging_periods"] = stored + [p for p in value if p not in stored]
        else:
            merged[key] = value
    return merged


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on sessions (receiver)", ALLOWED)
    party, (session_id,) = party_and_ids(ctx, 1, 1, module="sessions")
    row = find(ctx, party, session_id)
    if method == "GET":
        if row is None:
            raise not_found("unknown session")
        return OcpiResult(loads(row[1]))
    ctx.busy_check()
    body = ctx.json_object()
    check_owner(body, party, "id", session_id)
    stored: dict[str, Any] | None = None
    if method == "PATCH":
        patched_at = ctx.adapter.patch_last_updated(body)
        if row is None:
            raise not_found("unknown session; PUT the full Session first")
        stored = loads(row[1])
        final = stored.get("status")
        if final in TERMINAL_SESSION_STATUSES:  # noticed: the session had ended (still applied in order)
            fields = ", ".join(sorted(str(k) for k in body))
            ctx.note(
                "patch_after_final", f"PATCH {{{fields}}} after {final}", party=party, module="sessions",
                object_id=session_id,
            )  # fmt: skip
        if patched_at is not None:
            kept = stale_update(ctx, party, "sessions", session_id, patched_at, row[2])
            if kept is not None:
                return kept
        body = merge_patch(stored, body, append_periods=ctx.adapter.patch_appends_periods)
    info, doc = ctx.adapter.session(body, party, ctx.partner_id)
    if method == "PUT" and row is not None:
        kept = stale_update(ctx, party, "sessions", session_id, info.last_updated, row[2])
        if kept is not None:
            return kept
    info = resolve_session(ctx.db, info)
    values = {**row_values(info), "raw": dumps(doc), "wire": None if doc is body else dumps(body)}
    created = row is None
    if row is None:
        identity = {"country_code": party.country_code, "party_id": party.party_id, "session_id": session_id}
        pk = insert_session(ctx.db, {**identity, **values})
    else:
        pk = row[0]
        update_session(ctx.db, pk, values)
    # As session_raw would read it back (aware UTC round-trips exactly), once the unit commits.
    text = values["wire"] if values["wire"] is not None else values["raw"]
    key = (party.country_code, party.party_id, session_id)
    ended_now = info.status in TERMINAL_SESSION_STATUSES  # forgotten: no more PATCHes expected
    ctx.written_sessions[key] = None if ended_now else (pk, text, info.last_updated)
    ended = False
    if info.status in TERMINAL_SESSION_STATUSES:  # a transition only: a later update is not a new end
        if stored is None and row is not None:
            stored = loads(row[1])
        ended = stored is None or stored.get("status") not in TERMINAL_SESSION_STATUSES
    if created:
        ctx.publish(SessionUpserted(ctx.partner_id, info, created=True))
    if ended or not created:
        ctx.publish(SessionUpserted(ctx.partner_id, info, created=False, ended=ended))
    return OcpiResult(http_status=201 if created else 200)
