"""Scenario files: YAML validated by pydantic; an invalid file names the file, field and reason.

A scenario describes the world of a run — the eMSP, the CPOs with their locations, stations and
tariffs, the demand, the links' latency — and the expectations the run is graded against.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "scenarios"

OcppVersionName = Literal["1.6", "2.0.1"]
OcpiVersionName = Literal["2.2.1"]


class ScenarioError(Exception):
    """Invalid scenario input; the CLI turns it into exit code 2."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        super().__init__(f"{file}: {field}: {reason}")
        self.file, self.field, self.reason = file, field, reason


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkSpec(_Strict):
    """One direction-agnostic link: fixed latency plus uniform jitter, both in milliseconds."""

    latency_ms: Annotated[float, Field(ge=0)] = 20.0
    jitter_ms: Annotated[float, Field(ge=0)] = 0.0


class StationSpec(_Strict):
    # The id is the last segment of the station's OCPP-J WebSocket URL: keep it URL-safe.
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,48}$")]
    ocpp: OcppVersionName
    connectors: Annotated[int, Field(ge=1, le=8)] = 2
    max_power_kw: Annotated[Decimal, Field(gt=0)] = Decimal("22")
    meter_interval_s: Annotated[int, Field(ge=10)] = 300


class LocationSpec(_Strict):
    id: Annotated[str, Field(min_length=1, max_length=36)]
    name: str = ""
    time_zone: str = "Europe/Berlin"
    address: str = "Teststraat 1"
    city: str = "Utrecht"
    country: Annotated[str, Field(min_length=3, max_length=3)] = "NLD"
    latitude: str = "52.090736"
    longitude: str = "5.121420"
    tariff: str  # id of a tariff of the same CPO
    stations: Annotated[list[StationSpec], Field(min_length=1)]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class CpoSpec(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    ocpi_version: OcpiVersionName = "2.2.1"
    connection: Literal["bilateral"] = "bilateral"
    dialect: str = "spec-strict"
    tariffs: Annotated[dict[str, str], Field(min_length=1)]  # tariff id -> JSON file (relative to scenario)
    locations: Annotated[list[LocationSpec], Field(min_length=1)]
    ocpp_link: LinkSpec = LinkSpec(latency_ms=30)
    ocpi_link: LinkSpec = LinkSpec(latency_ms=80, jitter_ms=20)

    @model_validator(mode="after")
    def _tariffs_exist(self) -> CpoSpec:
        for index, location in enumerate(self.locations):
            if location.tariff not in self.tariffs:
                raise ValueError(
                    f"locations[{index}].tariff {location.tariff!r} is not one of {sorted(self.tariffs)}"
                )
        return self


class EmspSpec(_Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "NL"
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")] = "EMS"
    business_name: str = "emsp-bench eMSP"


class Range(_Strict):
    min: Decimal
    max: Decimal

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class DemandSpec(_Strict):
    """Drivers with eMSP-issued RFID tokens arrive as a Poisson process over the scenario."""

    drivers: Annotated[int, Field(ge=1)]
    unknown_tokens: Annotated[int, Field(ge=0)] = 1
    arrivals_per_hour: Annotated[float, Field(gt=0)] = 12.0
    ev_power_kw: Range = Range(min=Decimal("7.4"), max=Decimal("22"))
    energy_kwh: Range = Range(min=Decimal("4"), max=Decimal("30"))
    stay_minutes: Range = Range(min=Decimal("20"), max=Decimal("90"))
    patience_minutes: Annotated[int, Field(ge=0)] = 15  # how long a driver waits for a free connector


class Expectation(_Strict):
    """`metric` is a dotted summary path; `value` a number or another dotted path."""

    name: str = ""
    metric: str
    op: Literal["==", "!=", ">=", "<=", ">", "<"] = "=="
    value: str | int | float


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 1
    start: datetime = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    duration_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 120
    settle_minutes: Annotated[int, Field(ge=0)] = 30  # time after the last departure for CDRs to arrive
    emsp: EmspSpec = EmspSpec()
    cpos: Annotated[list[CpoSpec], Field(min_length=1)]
    demand: DemandSpec
    expectations: list[Expectation] = []

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a time zone (e.g. 2026-03-02T07:00:00Z)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        seen: set[str] = set()
        for cpo in self.cpos:
            for location in cpo.locations:
                for station in location.stations:
                    if station.id in seen:
                        raise ValueError(f"station id {station.id!r} is used twice")
                    seen.add(station.id)
        if len({cpo.id for cpo in self.cpos}) != len(self.cpos):
            raise ValueError("cpo ids must be unique")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)


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
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(root)"


def load_scenario(name_or_path: str) -> tuple[Scenario, Path]:
    """Parse and validate; returns the scenario and the directory its relative paths resolve from."""
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
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScenarioError(str(path), _field_path(tuple(first["loc"])), first["msg"]) from exc
    for cpo_index, cpo in enumerate(scenario.cpos):
        for tariff_id, rel in cpo.tariffs.items():
            if not (path.parent / rel).is_file():
                raise ScenarioError(
                    str(path), f"cpos[{cpo_index}].tariffs.{tariff_id}", f"no such file {rel!r}"
                )
    return scenario, path.parent
