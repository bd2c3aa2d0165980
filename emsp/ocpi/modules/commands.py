"""Commands module, the eMSP's Sender interface (every version): the CPO POSTs a CommandResult
(2.1.1: a CommandResponse) on the `response_url` we gave, `{commands}/{command}/{id}`."""

from __future__ import annotations

from emsp.model import PartyRef
from emsp.ocpi import command_send
from emsp.ocpi.context import Ctx, require_segments
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import method_not_allowed


def handle(ctx: Ctx) -> OcpiResult:
    if ctx.method != "POST":
        raise method_not_allowed(f"{ctx.method} not supported on the commands endpoint", ["POST"])
    kind, command_id = require_segments(ctx, 2, 2)
    row, ignored = command_send.on_result(
        ctx.db,
        ctx.partner_id,
        kind,
        command_id,
        ctx.json_object(),
        ctx.now,
        ctx.hub_sender() or ctx.routing_from(),
    )
    if ignored is not None:
        detail = f"{row.kind} {row.pk}: {ignored} after {row.result}"
        party = PartyRef(row.country_code, row.party_id)
        ctx.note("command_result_changed", detail, party=party, module="commands", object_id=str(row.pk))
    ctx.log.info("command_result", command_id=row.pk, kind=row.kind, result=row.result, state=row.state)
    return OcpiResult()
