"""`ocpp_calls.<action>` in the summary: what the stations answered to the CALLs the scenario had the
mock CSMS send (`ocpp_call` events, bench/events.py). Only a scenario with such events has the key.

- `sent`: CALLs made (one per named station); `answered`: CALLRESULTs;
- `accepted`: answers whose `status` says the station will do it (Accepted, AcceptedCanceled,
  Scheduled, Unlocked) or that carry no status (e.g. a 1.6 UpdateFirmware answers `{}`);
- `refused`: any other status (Rejected, NotSupported status values, VersionMismatch, ...);
- `errors`: a CALLERROR (e.g. NotSupported), an answer outside the schema, or no answer in time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from bench.events import OcppCall
from bench.scenario import Scenario
from simulators.cpo.csms import CallAnswered

ACCEPTING = frozenset({"Accepted", "AcceptedCanceled", "Scheduled", "Unlocked"})


def ocpp_call_figures(scenario: Scenario, answers: Iterable[CallAnswered]) -> dict[str, Any] | None:
    calls = [e for e in scenario.events if isinstance(e, OcppCall)]
    if not calls:
        return None
    sent = Counter(e.action for e in calls for _ in e.stations)
    figures = {
        action: {"sent": sent[action], "answered": 0, "accepted": 0, "refused": 0, "errors": 0}
        for action in sorted(sent)
    }
    for answer in answers:
        of_action = figures[answer.action]
        if answer.error is not None or answer.payload is None:
            of_action["errors"] += 1
            continue
        of_action["answered"] += 1
        status = answer.payload.get("status")
        of_action["accepted" if status is None or status in ACCEPTING else "refused"] += 1
    return figures
