"""Scenario files: YAML validated by pydantic; an invalid file names the file, field and reason.

A scenario describes the world of a run — the eMSP, the CPOs with their locations, stations and
tariffs, the demand, the links' latency — and the expectations the run is graded against.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bench.events import EVENT_TYPES, Event, Window
from bench.field_error import FieldError
from bench.overrides import SET_FIELD, Override, OverrideError, apply_all
from bench.scenario_demand import CloneSpec as CloneSpec  # the demand models are part of this module's API
from bench.scenario_demand import DemandSpec as DemandSpec
from bench.scenario_demand import EvModel as EvModel
from bench.scenario_demand import Range as Range
from bench.scenario_demand import RateStep as RateStep
from bench.scenario_demand import arrival_bound_error, demand_range_error
from bench.scenario_locations import location_error
from bench.scenario_model import CpoPorts as CpoPorts
from bench.scenario_model import CpoSpec as CpoSpec
from bench.scenario_model import EmspSpec as EmspSpec
from bench.scenario_model import Expectation as Expectation
from bench.scenario_model import FraudSpec as FraudSpec
from bench.scenario_model import HubSpec as HubSpec
from bench.scenario_model import LinkSpec as LinkSpec
from bench.scenario_model import LocationSpec as LocationSpec
from bench.scenario_model import OcpiVersionName as OcpiVersionName
from bench.scenario_model import OcppVersionName as OcppVersionName
from bench.scenario_model import PortsSpec as PortsSpec
from bench.scenario_model import PullSpec as PullSpec
from bench.scenario_model import Scenario as Scenario
from bench.scenario_model import StationSpec as StationSpec
from bench.scenario_span import span_error
from bench.scenario_tariffs import read_tariff_file, tariff_problem
from simulators.cpo.csms import call_problem

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"


class ScenarioError(Exception):
    """Invalid scenario input; the CLI turns it into exit code 2."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(f"{file}: {field}: {reason}")
        self.file, self.field, self.reason = file, field, reason


def timeline_error(scenario: Scenario) -> tuple[str, str] | None:
    """The first event naming something the scenario lacks, or meaningless in time: (field, reason)."""
    cpos = {cpo.id for cpo in scenario.cpos}
    stations = set(scenario.station_ids())
    versions = {s.id: s.ocpp for cpo in scenario.cpos for loc in cpo.locations for s in loc.stations}
    tariffs = {cpo.id: set(cpo.tariffs) for cpo in scenario.cpos}
    windows: dict[tuple[str, ...], list[tuple[int, Window]]] = {}
    blocked: set[int] = set()
    # In time order, so a later tariff_change may build on an earlier one's new_id.
    order = sorted(range(len(scenario.events)), key=lambda i: (_event_time(scenario.events[i]), i))
    for index in order:
        event = scenario.events[index]
        where = f"events[{index}]"
        if isinstance(event, Window):
            moments = [("from", event.start), ("until", event.end)]
        else:
            moments = [("at", event.at)]
        for name, moment in moments:
            if not scenario.start <= moment <= scenario.end:
                return f"{where}.{name}", (
                    f"{moment.isoformat()} is outside the scenario "
                    f"[{scenario.start.isoformat()}, {scenario.end.isoformat()}]"
                )
        party_field, cpo_id = "cpo", getattr(event, "cpo", None)
        if event.type == "outage":
            hubs = {hub.id for hub in scenario.hubs}  # a hub can be down too
            party_field, cpo_id = "party", (None if event.party in {"emsp", *hubs} else event.party)
        if cpo_id is not None and cpo_id not in cpos:
            return f"{where}.{party_field}", f"unknown CPO {cpo_id!r}; known: {sorted(cpos)}"
        keys: list[tuple[str, ...]] = []
        if event.type == "tariff_change":
            known = tariffs[event.cpo]
            if event.tariff not in known:
                return f"{where}.tariff", f"{event.tariff!r} is not one of {sorted(known)}"
            new_id = event.published_id()
            if new_id in known:
                return f"{where}.new_id", f"tariff id {new_id!r} is already taken at CPO {event.cpo!r}"
            known.add(new_id)
            spec = next(c for c in scenario.cpos if c.id == event.cpo)
            if spec.ocpi_version == "2.1.1" and spec.tariff_policy(event.tariff) == "split_periods":
                # A 2.1.1 charging period names no tariff: a CDR cannot say which periods the new
                # version prices, so the eMSP cannot re-price it (README: not covered).
                return f"{where}.cpo", (
                    f"OCPI 2.1.1 charging periods name no tariff: {event.cpo}'s mid_session_tariff "
                    f"split_periods for {event.tariff!r} needs a 2.2.1+ CPO (or price_at_start)"
                )
        elif event.type == "token_block":
            if event.driver >= scenario.demand.drivers:
                return f"{where}.driver", f"no driver {event.driver} (0..{scenario.demand.drivers - 1})"
            if event.driver in blocked:
                return f"{where}.driver", f"driver {event.driver} is blocked twice"
            blocked.add(event.driver)
        elif event.type == "ocpp_call":
            for sid in event.stations:
                if sid not in stations:
                    return f"{where}.stations", f"unknown station {sid!r}"
                problem = call_problem(versions[sid], event.action, event.payload)
                if problem is not None:
                    return f"{where}.payload", f"for station {sid} (OCPP {versions[sid]}): {problem}"
        elif event.type == "station_offline":
            for sid in event.stations:
                if sid not in stations:
                    return f"{where}.stations", f"unknown station {sid!r}"
            if len(set(event.stations)) != len(event.stations):
                return f"{where}.stations", "a station is named twice"
            keys = [("station_offline", sid) for sid in event.stations]
        elif event.type == "link":
            keys = [("link", event.cpo, event.link)]
        elif event.type == "outage":
            keys = [("outage", event.party)]
        elif event.type == "cdr_hold":
            if event.late == 1 and event.duplicate > 0:  # duplicate: a share of the CDRs not late
                return (
                    f"{where}.duplicate",
                    "late: 1 holds every CDR back from the batch: none is POSTed twice",
                )
            keys = [("cdr_hold", event.cpo)]
        elif event.type == "cdr_correction":
            version = next(c.ocpi_version for c in scenario.cpos if c.id == event.cpo)
            if version == "2.1.1":
                return f"{where}.cpo", "OCPI 2.1.1 has no credit CDRs: a cdr_correction needs a 2.2.1+ CPO"
            if event.at == scenario.start:  # it corrects CDRs sent before `at`: it would do nothing
                return f"{where}.at", (
                    "a cdr_correction corrects CDRs the CPO sent before `at`; at the scenario's start "
                    "none has been sent: put it after the sessions it should correct"
                )
        for key in keys:
            assert isinstance(event, Window)
            for other_index, other in windows.get(key, []):
                if other.overlaps(event):
                    return where, f"overlaps events[{other_index}] ({' '.join(key)}): windows may not overlap"
            windows.setdefault(key, []).append((index, event))
    return None


def _event_time(event: Event) -> datetime:
    return event.start if isinstance(event, Window) else event.at


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml"))


def resolve(name_or_path: str) -> Path:
    """A built-in name (`smoke`) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    if candidate.suffix in {".yaml", ".yml"} or "/" in name_or_path:
        reason = "is a directory, not a scenario file" if candidate.is_dir() else "no such file"
        raise ScenarioError(name_or_path, "(file)", reason)
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if not builtin.is_file():
        raise ScenarioError(
            name_or_path, "(name)", f"not a file and not a built-in scenario {builtin_names()}"
        )
    return builtin


def _field_path(location: tuple[Any, ...]) -> str:
    if len(location) > 2 and location[0] == "events" and location[2] in EVENT_TYPES:
        location = location[:2] + location[3:]  # drop pydantic's union tag: events[3].at, not .link.at
    # Union members appear as type names ("literal['a','b']", "dict[str,...]"): not fields.
    location = tuple(p for p in location if not (isinstance(p, str) and ("[" in p or "(" in p)))
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def _exact_field(model: str, fields: tuple[str, ...], overrides: Sequence[Override]) -> str:
    """Which of `fields` (below `model`) an error names: the last one a --set changed, else the first
    (a range set to min > max by `--set demand.energy_kwh.max=1` is at fault in its max)."""
    paths = [field if model == "(root)" else f"{model}.{field}" for field in fields]
    changed = [o.path for o in overrides if o.path in paths]
    return changed[-1] if changed else paths[0]


def load_scenario(name_or_path: str, overrides: Sequence[Override] = ()) -> tuple[Scenario, Path]:
    """Parse and validate; returns the scenario and the directory its relative paths resolve from.

    `overrides` (`--set path=value`) change the parsed file before it is validated.
    """
    path = resolve(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), "(file)", f"cannot be read as UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(yaml)"
        raise ScenarioError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(str(path), "(root)", "a scenario is a YAML mapping")
    try:
        apply_all(raw, overrides, Scenario)
    except OverrideError as exc:
        raise ScenarioError(str(path), f"{SET_FIELD} {exc.path}", exc.reason) from exc
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _field_path(tuple(first["loc"]))
        reason = first["msg"]
        error = first.get("ctx", {}).get("error")
        if isinstance(error, FieldError):  # the exact field below the model pydantic names
            where, reason = _exact_field(where, error.fields, overrides), error.reason
        set_here = [
            str(o) for o in overrides if where == o.path or where.startswith((o.path + ".", o.path + "["))
        ]
        reason += f" (set by {SET_FIELD} {set_here[-1]})" if set_here else ""
        raise ScenarioError(str(path), where, reason) from exc
    for cpo_index, cpo in enumerate(scenario.cpos):
        for tariff_id, rel in cpo.tariffs.items():
            field = f"cpos[{cpo_index}].tariffs.{tariff_id}"
            _check_tariff_file(path, field, rel, cpo, tariff_id)
    hubs = [hub.id for hub in scenario.hubs]
    for cpo_index, cpo in enumerate(scenario.cpos):
        if cpo.hub is not None and cpo.hub not in hubs:
            raise ScenarioError(
                str(path), f"cpos[{cpo_index}].hub", f"unknown hub {cpo.hub!r}; known: {hubs}"
            )
    problem = (
        span_error(scenario)  # first: the timeline's checks compute the scenario's end
        or location_error(scenario)
        or timeline_error(scenario)
        or demand_range_error(scenario.demand)
        or arrival_bound_error(scenario.demand, scenario.duration_minutes)
    )
    if problem is not None:
        raise ScenarioError(str(path), *problem)
    cpos = {cpo.id: cpo for cpo in scenario.cpos}
    for index, event in enumerate(scenario.events):
        if event.type == "tariff_change":
            _check_tariff_file(
                path, f"events[{index}].file", event.file, cpos[event.cpo], event.published_id()
            )
    return scenario, path.parent


def _check_tariff_file(scenario_file: Path, field: str, rel: str, cpo: CpoSpec, tariff_id: str) -> None:
    """The file exists and holds a tariff the eMSP accepts in the CPO's OCPI version (before any run
    directory is touched: a bad tariff is invalid input, exit 2)."""
    file = scenario_file.parent / rel
    if not file.is_file():
        raise ScenarioError(str(scenario_file), field, f"no such file {rel!r}")
    data, problem = read_tariff_file(file, rel)
    if data is not None:
        problem = tariff_problem(data, cpo.ocpi_version, cpo.country_code, cpo.party_id, tariff_id)
        problem = None if problem is None else f"{rel}: {problem}"
    if problem is not None:
        raise ScenarioError(str(scenario_file), field, problem)
