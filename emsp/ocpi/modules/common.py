"""Helpers shared by the client-owned-object modules (transport_and_format, client owned push)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from emsp.model import PartyRef
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, not_found
from emsp.storage.queries import find_pulled_version
from emsp.timeutil import format_utc, parse_ocpi_datetime
from emsp.wire import ci_key


def party_and_ids(
    ctx: Ctx, min_ids: int, max_ids: int, *, id_length: int = 36, module: str | None = None
) -> tuple[PartyRef, list[str]]:
    """{country_code}/{party_id}/{id}[/...]: party upper-cased (CiString is case-insensitive).

    Ids are what the version's tables say of the `module`'s objects (`VersionAdapter.url_ids`;
    without a module, CiString(`id_length`)): an id that is not one names no object that can
    exist, so it is a 404 on every method and every database alike (before any lookup or write).
    """
    segs = ctx.segments
    if not 2 + min_ids <= len(segs) <= 2 + max_ids or any(s == "" for s in segs):
        raise not_found("unknown resource", status_code=2000)
    cc, pid = segs[0], segs[1]
    if len(cc) != 2 or len(pid) != 3 or not (_ascii(cc) and _ascii(pid)):
        raise invalid("country_code must have 2 and party_id 3 characters")
    rules = ctx.adapter.url_ids.get(module, ()) if module is not None else ()
    for position, object_id in enumerate(segs[2:]):
        length, ci = rules[position] if position < len(rules) else (id_length, True)
        if len(object_id) > length or not (_ascii(object_id) if ci else object_id.isprintable()):
            kind = f"CiString({length}), printable ASCII" if ci else f"string({length}), printable"
            raise not_found(f"invalid id in the URL: this version's ids here are {kind}")
    ctx.require_owner(cc, pid)
    return PartyRef(cc.upper(), pid.upper()), segs[2:]


class _Stored(Protocol):
    raw: str
    wire: str | None


def wire_of(row: _Stored) -> str:
    """A stored object as the partner sent it (its canonical document when the two are the same)."""
    return row.wire if row.wire is not None else row.raw


def party_from(ctx: Ctx, body: dict[str, Any]) -> PartyRef | None:
    """The party of an object whose version names none in the body or URL (a 2.1.1 CDR): the
    partner's one CPO party; None when it cannot be told."""
    single = None if ctx.parties is None else ctx.parties.single_cpo()
    return None if single is None else PartyRef(*single)


def _ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def check_owner(body: dict[str, Any], party: PartyRef, id_field: str | None, object_id: str | None) -> None:
    """The URL and the pushed object must agree; a mismatch is a 2001 (transport_and_format)."""
    for field, expected in (("country_code", party.country_code), ("party_id", party.party_id)):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or value.upper() != expected):
            raise invalid(f"'{field}' in body ({value}) differs from the URL ({expected})")
    if id_field is not None and object_id is not None:
        value = body.get(id_field)  # ids are CiStrings: the same in any case
        if value is not None and (not isinstance(value, str) or ci_key(value) != ci_key(object_id)):
            raise invalid(f"'{id_field}' in body ({value}) differs from the URL ({object_id})")


def stored_last_updated(obj: dict[str, Any] | None) -> datetime | None:
    """last_updated of a stored object (validated when it was stored); None when absent."""
    value = None if obj is None else obj.get("last_updated")
    if not isinstance(value, str):
        return None
    try:
        return parse_ocpi_datetime(value)
    except ValueError:
        return None


# How far a pushed last_updated may lie ahead of this platform's clock. The rule is there for the
# clock fault no later update can follow (a wrong year, a 2999 placeholder), not to police offsets a
# sender keeps consistently: local time sent as UTC (up to 14 hours ahead) still orders its own
# pushes, and refusing them all would cut the partner off. A day covers every zone with room.
CLOCK_SKEW = timedelta(days=1)


def check_not_ahead(ctx: Ctx, when: datetime | None, field: str = "last_updated") -> None:
    """A last_updated beyond our clock plus CLOCK_SKEW is refused (2001). last_updated is the only
    order of pushes (`stale_update`): one from the future (a clock fault, 2999) would outrank every
    genuine update after it, each then answered "accepted, not applied" while nothing changes."""
    if when is not None and when > ctx.now + CLOCK_SKEW:
        raise invalid(
            f"invalid field '{field}': {format_utc(when)} is more than a day ahead of this "
            f"platform's clock ({format_utc(ctx.now)})"
        )


def stale_update(
    ctx: Ctx,
    party: PartyRef,
    module: str,
    object_id: str,
    incoming: datetime,
    stored: datetime | None,
    part_of: tuple[str, datetime | None] | None = None,
) -> OcpiResult | None:
    """The answer to a push older than what is stored, which is then not applied; None: apply it.

    Pushes can overtake each other (retries, parallel connections, a hub), and last_updated is the
    only order OCPI gives (transport_and_format: the Hub SHALL NOT change it), so an older object
    must never replace a newer one. Equal times are a replay and apply again (idempotent). The push
    itself is a valid object, so it is answered as accepted (status_codes: HTTP 200 + 1000; an
    error would only make the CPO resend it) and kept as a finding on the partner, unless it is
    only behind a version our own pull fetched (`superseded_by_pull`). `part_of`: the pulled object
    this one is inside (an EVSE or Connector's Location: its id and stored last_updated), the one our
    pull recorded.
    """
    if stored is None or incoming >= stored:
        return None
    detail = f"last_updated {format_utc(incoming)} is older than the stored {format_utc(stored)}: not applied"
    pulled_id, pulled_at = (object_id, stored) if part_of is None else part_of
    if pulled_at is not None and superseded_by_pull(
        ctx, party, module, pulled_id, incoming, pulled_at, advance=part_of is None
    ):
        ctx.log.info("superseded_by_pull", module=module, object_id=object_id, detail=detail)
        return OcpiResult(message=f"accepted, not applied: {detail} (fetched by our pull)")
    ctx.note("stale_update", detail, party=party, module=module, object_id=object_id)
    ctx.log.warning("stale_update", module=module, object_id=object_id, detail=detail)
    return OcpiResult(message=f"accepted, not applied: {detail}")


def superseded_by_pull(
    ctx: Ctx,
    party: PartyRef,
    module: str,
    object_id: str,
    incoming: datetime,
    stored: datetime,
    advance: bool = True,
) -> bool:
    """The stored version is one our pull fetched, and `incoming` is not older than what the party
    had pushed before that pull: a push queued during an outage (store-and-forward) that arrives
    after the catch-up pull. Not applied, as any older object, but no fault of the party's, so no
    finding; one older than the party's own earlier push, before the pull or since, still is one.
    `advance`: a neutral push moves the party's own order on (False for an EVSE or Connector, whose
    order is its own, not the Location's the pull recorded)."""
    pulled = find_pulled_version(ctx.db, party.country_code, party.party_id, module, object_id)
    if pulled is None or pulled.last_updated != stored:  # a push replaced the pulled version since
        return False
    if pulled.pushed_before is not None and incoming < pulled.pushed_before:
        return False
    if advance:  # the party's own order goes on: a later push older than this one is its fault
        pulled.pushed_before = incoming
    return True
