"""Whether every moment a run can reach lies in the range the protocols carry (emsp.timeutil:
OCPI DateTimes are 1970..9998), so an out-of-range scenario is invalid input (exit 2) found at load,
not an OverflowError mid-run after the run directory was cleared (a bench fault, exit 3)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bench.events import CdrHold
from emsp.timeutil import EARLIEST, LATEST

if TYPE_CHECKING:
    from bench.scenario_model import Scenario


def latest_moment(scenario: Scenario) -> datetime:
    """An upper bound of every instant of the run: its horizon (bench/world.py) with each drawn span
    at its maximum, plus one meter interval (a station's next sample is due that long after now).
    Every term is bounded by the schema, so the sum cannot overflow before this comparison."""
    demand = scenario.demand
    visit = timedelta(minutes=demand.patience_minutes + float(demand.stay_minutes.max))
    if demand.clones is not None:
        c = demand.clones
        fraud = c.delay_minutes.max + c.gap_minutes.max * c.sessions.max + c.stay_minutes.max
        visit += timedelta(minutes=float(fraud))
    late = [e.late_minutes for e in scenario.events if isinstance(e, CdrHold)]
    meter = max(s.meter_interval_s for cpo in scenario.cpos for loc in cpo.locations for s in loc.stations)
    tail = max(late, default=0) + scenario.settle_minutes
    return scenario.end + visit + timedelta(minutes=tail, seconds=meter)


def span_error(scenario: Scenario) -> tuple[str, str] | None:
    """(field, reason) when the run would leave the range of an OCPI DateTime."""
    if scenario.start < EARLIEST:
        return "start", f"{scenario.start.isoformat()} is before {EARLIEST.isoformat()} (OCPI DateTimes)"
    # Far from the scenario's bounds (year 9999 at most): start + a few weeks cannot overflow yet.
    if scenario.start >= LATEST:
        return "start", f"{scenario.start.isoformat()} is not before {LATEST.isoformat()} (OCPI DateTimes)"
    latest = latest_moment(scenario)
    if latest < LATEST:
        return None
    return "start", (
        f"the run would reach {latest.isoformat()} (start + duration, stays, CDR holds, settle_minutes "
        f"and a meter interval), past the last OCPI DateTime before {LATEST.isoformat()}"
    )
