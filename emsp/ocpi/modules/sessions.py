"""Sessions module, Receiver interface (every version): GET, PUT, PATCH {sessions}/{cc}/{pid}/{id}.

PUT replaces the whole Session including charging_periods (absent/empty list removes them).
PATCH replaces the fields it carries, except charging_periods, which are *added* to the existing
list; an absent or empty list changes nothing (2.2.1 sessions, PATCH method; a 2.1.1 PATCH is "the
same as PUT" for the fields it carries, so there they replace). A PATCH of a session we do
not know answers HTTP 404 so the CPO does a GET/PUT (transport_and_format, PATCH). A PUT or PATCH
whose last_updated is older than the stored session's is accepted but not applied (a finding).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, NamedTuple

from emsp.bus import TERMINAL_SESSION_STATUSES, SessionUpserted
from emsp.model import PartyRef, SessionInfo
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, method_not_allowed, not_found
from emsp.ocpi.modules.cdr_checks import note_foreign_token
from emsp.ocpi.modules.common import (
    check_not_ahead,
    check_owner,
    party_and_ids,
    stale_update,
    superseded_by_pull,
)
from emsp.services.sessions import resolve_session, row_values
from emsp.storage.packed import Plain
from emsp.storage.queries import SessionKey, insert_session, session_raw, session_status, update_session
from emsp.storage.tables import SessionRow
from emsp.wire import ci_key, dumps, loads

ALLOWED = ["GET", "PUT", "PATCH"]


def find(ctx: Ctx, party: PartyRef, session_id: str) -> tuple[int, str, datetime] | None:
    """(row key, raw JSON, last_updated) of the stored session, or None; a read is kept in memory
    (it precedes a write of the session)."""
    stored, key = ctx.stored_sessions, _key(party, session_id)
    row = None if stored is None else stored.get(key)
    if row is None:
        row = session_raw(ctx.db, *key)
        if row is not None and stored is not None:  # read before this unit wrote
            stored.update({key: row})
    return row


def stored_status(ctx: Ctx, party: PartyRef, session_id: str) -> str | None:
    """The stored session's status, or None (no such session): a CDR's check, which comes once the
    session has ended and is no longer remembered, reads the status column rather than the document."""
    key = _key(party, session_id)
    row = None if ctx.stored_sessions is None else ctx.stored_sessions.get(key)
    if row is not None:  # still running (remembered): its text is at hand
        status = loads(row[1]).get("status")
        return status if isinstance(status, str) else None
    return session_status(ctx.db, *key)


def _key(party: PartyRef, session_id: str) -> SessionKey:
    """A session's key in memory: its id in any case is the same session (CiString), as in the table."""
    return party.country_code, party.party_id, ci_key(session_id)


class _Written(NamedTuple):
    """What this process wrote last of a session, remembered with it (StoredSessions' fact)."""

    version: str  # the OCPI version that read the Session
    read: SessionInfo  # what that version read from it (before resolve_session)
    values: dict[str, Any]  # the row's columns but its key and identity, as written
    # What the stored text (wire, else raw) parses to: the body it was written from. The next PATCH
    # merges into it instead of parsing that text again (loads(dumps(x)) == x for what loads gives:
    # Decimal keeps its digits). Shared, so never changed: merge_patch copies what it changes.
    sent: dict[str, Any]


def _known(ctx: Ctx, key: SessionKey) -> _Written | None:
    """The session as this process wrote it last, in this version, when remembered with the
    stored entry; None: not known without reading it again."""
    fact = None if ctx.stored_sessions is None else ctx.stored_sessions.fact(key)
    return fact if isinstance(fact, _Written) and fact.version == ctx.adapter.version else None


def _same(value: Any, stored: Any) -> bool:
    """`value` is what the column holds already (same type and text: Decimal 1.0 is not 1.00)."""
    return value is stored or (type(value) is type(stored) and value == stored and str(value) == str(stored))


def _changed(values: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """The columns of `values` the row does not hold already (an UPDATE of only these leaves the
    row as one of all of them would, with less to write and no index of an unchanged column to
    rewrite, a driver's token_uid)."""
    return {
        name: value
        for name, value in values.items()
        if name not in written or not _same(value, written[name])
    }


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


def _check_final(
    ctx: Ctx, pk: int, final: str, info: SessionInfo, doc: dict[str, Any], stored: dict[str, Any]
) -> SessionInfo:
    """A Session that has ended stays ended and stays the driver's: SessionStatus COMPLETED and
    INVALID make no more changes to it, and cdr_token names who charged (2.2.1 mod_sessions). An
    update that reopens it, or moves it to another token, would undo an end already settled and
    billed against one contract, unseen: refused (2001), nothing stored. Other late updates (kwh,
    periods) still apply in order, PATCHes noticed as patch_after_final. `doc`: the canonical
    document now sent; `stored`: what the stored text parses to. Returns `info` charged on the
    stored token."""
    if info.status not in TERMINAL_SESSION_STATUSES:
        raise invalid(f"invalid field 'status': the session is {final}; an ended Session is not reopened")
    row = ctx.db.get(SessionRow, pk)
    if row is None:
        return info
    # What the CPO sent, in the canonical form every adapter maps its wire token to (2.1.1: the
    # auth_id as contract_id), not our token_uid: for a 2.1.1 contract that is resolved anew per
    # request and moves once we issue a token for the contract after the session was stored (r8 L1).
    before = stored if row.wire is None else loads(row.raw)  # the stored text is the canonical one
    if _charged_on(doc) != _charged_on(before):
        raise invalid(
            f"invalid field 'cdr_token': the session is {final}; the token it was charged on cannot change"
        )
    return dataclasses.replace(info, token_uid=row.token_uid)  # the same token: not re-attributed


def _charged_on(doc: dict[str, Any]) -> tuple[str, ...]:
    """The canonical document's cdr_token as who charged: uid, type, contract_id, any case (CiString)."""
    token = doc.get("cdr_token")
    token = token if isinstance(token, dict) else {}
    return tuple(ci_key(str(token.get(name) or "")) for name in ("uid", "type", "contract_id"))


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
    key = _key(party, session_id)
    known = _known(ctx, key)
    lean = ctx.adapter.session_patch(body) if known is not None and method == "PATCH" else None
    if method == "PATCH":
        patched_at = lean.last_updated if lean is not None else ctx.adapter.patch_last_updated(body)
        check_not_ahead(ctx, patched_at)
        if row is None:
            raise not_found("unknown session; PUT the full Session first")
        stored = known.sent if known is not None else loads(row[1])
        final = stored.get("status")
        # Noticed: the session had ended (still applied in order). Not so a PATCH older than the
        # ended version our pull fetched: queued before the end and delivered late, as after an outage.
        if final in TERMINAL_SESSION_STATUSES and not (
            patched_at is not None
            and patched_at < row[2]
            and superseded_by_pull(ctx, party, "sessions", session_id, patched_at, row[2])
        ):
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
    if lean is not None and known is not None:  # the stored Session, valid, changed in valid fields
        info, doc = lean.apply(known.read, ctx.partner_id), body
    else:
        info, doc = ctx.adapter.session(body, party, ctx.partner_id)
    read = info  # what this version reads from the Session now stored (before resolve_session)
    if method == "PUT":
        check_not_ahead(ctx, info.last_updated)
    if method == "PUT" and row is not None:
        kept = stale_update(ctx, party, "sessions", session_id, info.last_updated, row[2])
        if kept is not None:
            return kept
        stored = known.sent if known is not None else loads(row[1])  # what the stored text parses to
    info = resolve_session(ctx.db, info)
    if row is not None and stored is not None and stored.get("status") in TERMINAL_SESSION_STATUSES:
        info = _check_final(ctx, row[0], str(stored["status"]), info, doc, stored)
    ended_now = info.status in TERMINAL_SESSION_STATUSES  # forgotten: no more PATCHes expected
    raw = dumps(doc) if ended_now else Plain(dumps(doc))  # packed once, when it is kept for good
    values = {**row_values(info), "raw": raw, "wire": None if doc is body else dumps(body)}
    created = row is None
    if row is None:
        note_foreign_token(ctx, party, "sessions", session_id, doc)  # once, when the session is new
        identity = {"country_code": party.country_code, "party_id": party.party_id, "session_id": session_id}
        pk = insert_session(ctx.db, {**identity, **values})
    else:
        pk = row[0]
        changed = values if known is None else _changed(values, known.values)
        if changed:  # else the row holds this very session already (a replayed PATCH)
            update_session(ctx.db, pk, changed)
    # As session_raw would read it back (aware UTC round-trips exactly), once the unit commits.
    text = values["wire"] if values["wire"] is not None else values["raw"]
    ctx.written_sessions[key] = None if ended_now else (pk, text, info.last_updated)
    if not ended_now:
        ctx.session_facts[key] = _Written(ctx.adapter.version, read, values, body)
    ended = False
    if info.status in TERMINAL_SESSION_STATUSES:  # a transition only: a later update is not a new end
        if stored is None and row is not None:  # a PUT: what the stored text parses to, known or read
            stored = known.sent if known is not None else loads(row[1])
        ended = stored is None or stored.get("status") not in TERMINAL_SESSION_STATUSES
    if created:
        ctx.publish(SessionUpserted(ctx.partner_id, info, created=True))
    if ended or not created:
        ctx.publish(SessionUpserted(ctx.partner_id, info, created=False, ended=ended))
    return OcpiResult(http_status=201 if created else 200)
