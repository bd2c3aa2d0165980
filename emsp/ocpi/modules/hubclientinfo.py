"""HubClientInfo module, Receiver interface (2.2.1, 2.3.0): PUT and GET {hubclientinfo}/{cc}/{pid}.

A hub (a partner the operator configured as one) tells us the connection status of each party it
connects: CONNECTED, OFFLINE, PLANNED or SUSPENDED (mod_hub_client_info, ConnectionStatus). We keep
it per hub and party; the channel resolver (emsp.ocpi.channels) sends nothing to a party that is
not CONNECTED, and a party that comes back is caught up by a pull (ours to do: "it is their
responsibility to do a GET", Scenarios). A ClientInfo older than the one we hold is not applied.
Only a hub may push it: from any other partner it is refused (2001), never stored.
"""

from __future__ import annotations

from typing import Any

from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import OcpiError, invalid, method_not_allowed, not_found
from emsp.ocpi.modules.common import check_not_ahead
from emsp.storage.tables import ClientInfoRow
from emsp.timeutil import format_utc, parse_ocpi_datetime

ALLOWED = ["GET", "PUT"]
STATUSES = ("CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED")
ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")


def as_object(row: ClientInfoRow) -> dict[str, Any]:
    return {
        "party_id": row.party_id,
        "country_code": row.country_code,
        "role": row.role,
        "status": row.status,
        "last_updated": format_utc(row.last_updated),
    }


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on hubclientinfo (receiver)", ALLOWED)
    if ctx.parties is not None and not ctx.parties.hub:
        raise OcpiError(2001, "only a hub pushes ClientInfo", http_status=403)
    segs = ctx.segments
    if len(segs) != 2 or len(segs[0]) != 2 or len(segs[1]) != 3:
        raise not_found("unknown resource", status_code=2000)
    if not all(seg.isascii() and seg.isprintable() for seg in segs):
        raise not_found("invalid party in the URL: country_code and party_id are CiString, printable ASCII")
    cc, pid = segs[0].upper(), segs[1].upper()
    row = ctx.db.get(ClientInfoRow, (ctx.partner_id, cc, pid))
    if method == "GET":
        if row is None:
            raise not_found("unknown ClientInfo")
        return OcpiResult(as_object(row))
    body = ctx.json_object()
    for field, expected in (("country_code", cc), ("party_id", pid)):
        value = body.get(field)
        if not isinstance(value, str) or value.upper() != expected:
            raise invalid(f"'{field}' must be given and match the URL ({expected})")
    role, status = body.get("role"), body.get("status")
    if role not in ROLES:
        raise invalid(f"invalid field 'role': one of {', '.join(ROLES)}")
    if status not in STATUSES:
        raise invalid(f"invalid field 'status': one of {', '.join(STATUSES)}")
    try:
        updated = parse_ocpi_datetime(str(body.get("last_updated")))
    except ValueError:
        raise invalid("invalid field 'last_updated': a DateTime is required") from None
    check_not_ahead(ctx, updated)
    if row is not None and updated < row.last_updated:
        return OcpiResult(message="accepted, not applied: older than the ClientInfo we hold")
    if row is None:
        row = ClientInfoRow(partner=ctx.partner_id, country_code=cc, party_id=pid)
        ctx.db.add(row)
    was = row.status
    row.role, row.status, row.last_updated = str(role), str(status), updated
    ctx.log.info("client_info", party=f"{cc}/{pid}", status=status, was=was)
    if status == "CONNECTED" and was not in (None, "CONNECTED"):
        ctx.services.party_reconnected(ctx.partner_id, cc, pid, ctx.now)
    return OcpiResult()
