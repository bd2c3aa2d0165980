"""`commands.*` of a run's summary: what became of the OCPI commands the eMSP sent, and of the
visits drivers started from the app (the ground truth of bench/world.py `AppStart`).

A summary has the key only when the scenario has app starts (`demand.app_start_share`) or the eMSP
sent commands, so every other summary stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.hubs import session_id_through_hubs
from bench.world import World
from emsp.model import COMMAND_RESULTS, COMMAND_TYPES, CommandRecord, EmspRecords


def command_figures(records: EmspRecords, world: World | None = None) -> dict[str, Any]:
    commands: Sequence[CommandRecord] = records.commands
    figures: dict[str, Any] = {
        "sent": len(commands),
        "accepted": sum(1 for c in commands if c.response == "ACCEPTED"),
        "refused": sum(1 for c in commands if c.state == "REFUSED"),
        "failed": sum(1 for c in commands if c.state == "FAILED"),
        "completed": sum(1 for c in commands if c.state == "COMPLETED"),
        "timeouts": sum(1 for c in commands if c.state == "TIMEOUT"),
        "pending": sum(1 for c in commands if c.state in ("REQUESTED", "ACCEPTED")),
        "by_type": {kind: sum(1 for c in commands if c.kind == kind) for kind in COMMAND_TYPES},
        "results": {result: sum(1 for c in commands if c.result == result) for result in COMMAND_RESULTS},
    }
    starts = world.app_starts if world is not None else []
    charged = billed = 0
    if world is not None:
        billed_sessions = {line.session_id for line in records.invoice_lines if line.session_id}
        for start in starts:
            station = world.stations[start.station_id]
            cpo = world.cpos[world.cpo_of(start.station_id)]
            for charge in station.truth:
                if (
                    charge.connector_id == start.connector_id
                    and charge.token_uid == start.token_uid
                    and charge.plugged_at == start.at.replace(microsecond=0)
                    and charge.transaction_id is not None
                ):
                    charged += 1
                    session = cpo.ocpi.truth.session_ids.get((start.station_id, charge.transaction_id))
                    if session is not None:  # behind a hub that renames Sessions: the eMSP has its id
                        party = (cpo.ocpi.country_code, cpo.ocpi.party_id)
                        session = session_id_through_hubs(session, party, world.hubs)
                    billed += session in billed_sessions
                    break
    figures["app_starts"] = {
        "requested": len(starts),
        "refused_by_emsp": sum(1 for s in starts if s.command_id is None),
        "charged": charged,  # a transaction really ran (station truth)
        "invoiced": billed,  # ... and the eMSP has an invoice line for its session
    }
    return figures
