"""Locations module, Receiver interface (every version): PUT/PATCH/GET of Location, EVSE, Connector.

PATCH merges the top-level fields of the addressed object (transport_and_format, PATCH) and SHALL
carry last_updated; a PUT/PATCH on an EVSE or Connector also moves the parents' last_updated.
A push older (last_updated) than the stored object it addresses is accepted but not applied.
Every edit is made on the partner's wire form of the whole Location; the version's adapter then
maps it to the canonical document stored beside it (`raw`; `wire` only where the two differ).

EVSE.uid and Connector.id are CiStrings: a PUT or PATCH of an EVSE or Connector naming a stored one
in another case is that object (one, never a second), which keeps its uid/id as first stored, as a
Location keeps its id column's first spelling; sessions, CDRs, commands and quotes name it by that
id. A Location PUT replaces the whole body, its EVSEs as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.bus import LocationUpserted
from emsp.model import PartyRef
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import invalid, method_not_allowed, not_found
from emsp.ocpi.modules.common import (
    check_not_ahead,
    check_owner,
    party_and_ids,
    stale_update,
    stored_last_updated,
    wire_of,
)
from emsp.storage.queries import find_location
from emsp.storage.tables import LocationRow
from emsp.wire import ci_key, dumps, loads

ALLOWED = ["GET", "PUT", "PATCH"]


def find(ctx: Ctx, party: PartyRef, location_id: str) -> LocationRow | None:
    return find_location(ctx.db, party.country_code, party.party_id, location_id)


def _same_id(stored: Any, wanted: str) -> bool:
    """EVSE.uid and Connector.id are CiStrings: the same id in any case."""
    return isinstance(stored, str) and ci_key(stored) == ci_key(wanted)


def _pick(items: list[dict[str, Any]], key: str, value: str) -> dict[str, Any] | None:
    return next((item for item in items if _same_id(item.get(key), value)), None)


def _save(ctx: Ctx, party: PartyRef, location_id: str, body: dict[str, Any], row: LocationRow | None) -> bool:
    _check_unique_ids(body)
    mapped = ctx.adapter.location(body, party)
    if row is None:
        row = LocationRow(country_code=party.country_code, party_id=party.party_id, location_id=location_id)
        ctx.db.add(row)
        created = True
    else:
        created = False
    row.partner = ctx.partner_id
    row.time_zone = mapped.extra["time_zone"]
    row.last_updated = mapped.last_updated
    row.raw = dumps(mapped.doc)
    row.wire = None if mapped.doc is body else dumps(body)
    ctx.db.flush()
    ctx.publish(LocationUpserted(ctx.partner_id, party, location_id, mapped.last_updated))
    return created


def _check_unique_ids(location: dict[str, Any]) -> None:
    """The Location as it would be stored (after any PUT or PATCH, every version) names each EVSE
    once and each Connector once within its EVSE: an EVSE's uid identifies it within the CPO's
    platform and a Connector's id within its EVSE (mod_locations EVSE.uid, Connector.id; ids are
    CiStrings, so in any case). Two of one id would make every later EVSE/Connector push, and a
    Session's evse_uid/connector_id, ambiguous: refused (2001), naming the id."""
    evse_uids: dict[str, str] = {}
    for evse in _list(location.get("evses")):
        uid = evse.get("uid")
        first = _first_of(evse_uids, uid)
        if first is not None:
            raise invalid(
                f"two EVSEs with uid {first!r} and {uid!r} in one Location: EVSE.uid must be unique"
            )
        connector_ids: dict[str, str] = {}
        for connector in _list(evse.get("connectors")):
            cid = connector.get("id")
            first = _first_of(connector_ids, cid)
            if first is not None:
                raise invalid(
                    f"two Connectors with id {first!r} and {cid!r} in EVSE {uid!r}: Connector.id must be "
                    "unique within its EVSE"
                )


def _first_of(seen: dict[str, str], object_id: Any) -> str | None:
    """The id seen before that equals `object_id` in any case (None: none; `object_id` is now seen)."""
    if not isinstance(object_id, str):
        return None  # not an id: the version's validation says so
    key = ci_key(object_id)
    if key in seen:
        return seen[key]
    seen[key] = object_id
    return None


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on locations (receiver)", ALLOWED)
    party, ids = party_and_ids(ctx, 1, 3, module="locations")
    location_id = ids[0]
    row = find(ctx, party, location_id)
    current: dict[str, Any] | None = loads(wire_of(row)) if row is not None else None

    if method == "GET":
        if current is None:
            raise not_found("unknown location", status_code=2003)
        return OcpiResult(_target(current, ids))

    ctx.busy_check()
    body = ctx.json_object()
    if method == "PATCH":
        patched_at = ctx.adapter.patch_last_updated(body)
        if current is None:
            raise not_found("unknown location; PUT it first", status_code=2003)
        target = _target(current, ids)
        _check_ids(body, ids)
        _check_not_nulled(ctx, body, ids)
        _check_nested_not_ahead(ctx, body, len(ids))
        if len(ids) == 1:
            check_owner(body, party, None, None)
        if patched_at is not None:
            kept = _stale(ctx, party, ids, patched_at, target, location=current)
            if kept is not None:
                return kept
        target.update(_stored_spelling(body, target, ids))
        if patched_at is not None:
            _touch_parents(current, ids, body["last_updated"])
        _save(ctx, party, location_id, current, row)
        return OcpiResult()

    # PUT
    if len(ids) == 1:
        check_owner(body, party, "id", location_id)
        at = ctx.adapter.location(body, party).last_updated
        _check_complete(ctx, body, 1)
        kept = _stale(ctx, party, ids, at, current, body)
        if kept is not None:
            return kept
        created = _save(ctx, party, location_id, body, row)
        return OcpiResult(http_status=201 if created else 200)
    if current is None:
        raise not_found("unknown location; PUT the location first", status_code=2003)
    _check_ids(body, ids)
    kept = _put_child(ctx, party, ids, current, body)
    if kept is not None:
        return kept
    _touch_parents(current, ids, body["last_updated"])
    _save(ctx, party, location_id, current, row)
    return OcpiResult()


def _put_child(
    ctx: Ctx, party: PartyRef, ids: list[str], location: dict[str, Any], body: dict[str, Any]
) -> OcpiResult | None:
    """An EVSE PUT (ids: location, uid) or Connector PUT (location, uid, id) merged into the stored
    Location: in place of the stored one of that uid/id in any case, else added; None when merged,
    the answer when the stored one is newer (not applied)."""
    if len(ids) == 2:
        at = ctx.adapter.evse(body).last_updated
        _check_complete(ctx, body, 2)
        parent, field, key = location, "evses", "uid"
    else:  # validated before the EVSE is looked up: a bad body is a 2001 even at an unknown EVSE
        at = ctx.adapter.connector(body).last_updated
        _check_complete(ctx, body, 3)
        parent, field, key = _target(location, ids[:2]), "connectors", "id"
    items = parent.setdefault(field, [])
    kept = _stale(ctx, party, ids, at, _pick(_list(items), key, ids[-1]), body, location=location)
    if kept is None:
        _replace(items, key, ids[-1], body)
    return kept


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _stale(
    ctx: Ctx,
    party: PartyRef,
    ids: list[str],
    incoming: datetime,
    stored: dict[str, Any] | None,
    pushed: dict[str, Any] | None = None,
    *,
    location: dict[str, Any] | None = None,
) -> OcpiResult | None:
    """An older Location, EVSE or Connector than the one stored is not applied (a finding); one
    from beyond our clock is refused (check_not_ahead), as is a PUT (`pushed`) with an EVSE or
    Connector inside it from beyond our clock. An EVSE or Connector is judged against its stored
    `location` as well: our pull records whole Locations, so one behind the pulled Location is no
    finding while not older than what the party pushed before the pull (r13 Q8)."""
    check_not_ahead(ctx, incoming)
    if pushed is not None:
        _check_nested_not_ahead(ctx, pushed, len(ids))
    part_of = None if len(ids) == 1 or location is None else (ids[0], stored_last_updated(location))
    return stale_update(
        ctx, party, "locations", "/".join(ids), incoming, stored_last_updated(stored), part_of=part_of
    )


def _check_nested_not_ahead(ctx: Ctx, pushed: dict[str, Any], level: int) -> None:
    """The EVSEs and Connectors inside a pushed Location (level 1) or EVSE (2), a PUT or a PATCH of
    the list: each one's last_updated orders the later pushes to it as its own PUT's does, so one
    from beyond our clock would freeze it as well (r8 L2): refused (2001) alike, naming it."""
    for path, child in _nested(pushed, level):
        check_not_ahead(ctx, stored_last_updated(child), f"{path}.last_updated")


def _nested(parent: dict[str, Any], level: int) -> list[tuple[str, dict[str, Any]]]:
    """(path, object) of every EVSE and Connector inside `parent` (a Location: 1, an EVSE: 2)."""
    if level >= 3:
        return []
    field = "evses" if level == 1 else "connectors"
    items = parent.get(field)
    found: list[tuple[str, dict[str, Any]]] = []
    for index, child in enumerate(items if isinstance(items, list) else []):
        if isinstance(child, dict):
            path = f"{field}[{index}]"
            found.append((path, child))
            found.extend((f"{path}.{inner}", grandchild) for inner, grandchild in _nested(child, level + 1))
    return found


def _target(location: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """The Location, EVSE or Connector addressed by the URL; unknown -> 2003 with HTTP 404."""
    if len(ids) == 1:
        return location
    evses = location.get("evses")
    evse = _pick(evses if isinstance(evses, list) else [], "uid", ids[1])
    if evse is None:
        raise not_found(f"unknown EVSE {ids[1]} at location {ids[0]}", status_code=2003)
    if len(ids) == 2:
        return evse
    connectors = evse.get("connectors")
    connector = _pick(connectors if isinstance(connectors, list) else [], "id", ids[2])
    if connector is None:
        raise not_found(f"unknown connector {ids[2]} at EVSE {ids[1]}", status_code=2003)
    return connector


def _check_ids(body: dict[str, Any], ids: list[str]) -> None:
    field = {1: "id", 2: "uid", 3: "id"}[len(ids)]
    value = body.get(field)
    if value is not None and not _same_id(value, ids[-1]):
        raise invalid(f"'{field}' in body ({value}) differs from the URL ({ids[-1]})")


def _check_not_nulled(ctx: Ctx, body: dict[str, Any], ids: list[str]) -> None:
    """A PATCH changes the fields it carries (transport_and_format, PATCH): a null in a field of
    cardinality 1 would remove what the version's table requires, and the stored Location would no
    longer be one. Refused (2001) naming the field; nothing is changed."""
    required = ctx.adapter.location_required[len(ids) - 1]
    what = ("Location", "EVSE", "Connector")[len(ids) - 1]
    for field, value in body.items():
        if value is None and field in required:
            raise invalid(
                f"invalid field '{field}': required in a {what} (cardinality 1), a PATCH may not null it"
            )


def _check_complete(ctx: Ctx, body: dict[str, Any], level: int, path: str = "") -> None:
    """A PUT is the whole object (transport_and_format, PUT): every field of cardinality 1 in the
    version's table (Location: level 1, EVSE: 2, Connector: 3), in it and in each EVSE and Connector
    inside it, is there and not null, or the stored Location would not be one the spec describes
    (the same lists a PATCH may not null). Checked once the version's schema has passed the body
    (its message comes first); refused (2001) naming the field by its path, as the schema's do;
    nothing is stored. The mock CPOs' Locations are whole in every dialect (no knob leaves a field
    out), so no partner's quirk is tolerated here."""
    for field in sorted(ctx.adapter.location_required[level - 1]):
        if body.get(field) is None:
            how = "null" if field in body else "missing"
            what = ("Location", "EVSE", "Connector")[level - 1]
            raise invalid(f"invalid field '{path}{field}': required in a {what} (cardinality 1), {how}")
    if level < 3:
        field = "evses" if level == 1 else "connectors"
        for index, child in enumerate(_list(body.get(field))):
            _check_complete(ctx, child, level + 1, f"{path}{field}.{index}.")


def _replace(items: list[dict[str, Any]], key: str, value: str, new: dict[str, Any]) -> None:
    """Put `new` in place of the item whose `key` is `value` in any case (one object, never a
    second), keeping the id as first stored; a new item is added as sent."""
    for index, item in enumerate(items):
        stored = item.get(key)
        if _same_id(stored, value):
            new[key] = stored
            items[index] = new
            return
    items.append(new)


def _stored_spelling(body: dict[str, Any], target: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """A PATCH of an EVSE or Connector naming its uid/id (in another case: `_check_ids`) changes no
    id: the object keeps its uid/id as first stored, as on a PUT (`_replace`)."""
    key = {2: "uid", 3: "id"}.get(len(ids))
    if key is None or key not in body or not isinstance(target.get(key), str):
        return body
    return {**body, key: target[key]}


def _touch_parents(location: dict[str, Any], ids: list[str], last_updated: Any) -> None:
    """A changed EVSE/Connector moves its parents' last_updated too (locations, PUT/PATCH)."""
    if len(ids) >= 2:
        location["last_updated"] = last_updated
    if len(ids) == 3:
        _target(location, ids[:2])["last_updated"] = last_updated
