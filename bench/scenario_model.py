"""The scenario's models: what a scenario file may say, validated by pydantic field by field.

Split from bench/scenario.py (the loader, which re-exports these models and runs the checks that need
the whole scenario and its files: bench/scenario_span.py, scenario_locations.py, its timeline) so the
checkers can name the models without importing the loader that calls them.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from bench.events import MAX_LINK_MS, Event, TariffPolicy
from bench.field_error import FieldError
from bench.no_boolean_numbers import NoBooleanNumbers
from bench.scenario_demand import STRICT, WEEK_MINUTES, DemandSpec
from emsp.ocpi.tolerance import Tolerance
from emsp.service.config import FraudSettings
from emsp.timeutil import known_zone
from simulators.cpo.csms_local_list import TOKEN_MAX

OcppVersionName = Literal["1.6", "2.0.1"]
OcpiVersionName = Literal["2.1.1", "2.2.1", "2.3.0"]  # the CPO speaks it (simulators/cpo/versions)


class _Strict(NoBooleanNumbers, BaseModel):
    model_config = STRICT


class LinkSpec(_Strict):
    """One direction-agnostic link: fixed latency plus uniform jitter, both in milliseconds."""

    # At most an hour (MAX_LINK_MS): a message slower than that arrives after every timeout and the
    # end of any run, so the run would grade the eMSP for a link the scenario made unusable.
    latency_ms: Annotated[float, Field(ge=0, le=MAX_LINK_MS)] = 20.0
    jitter_ms: Annotated[float, Field(ge=0, le=MAX_LINK_MS)] = 0.0
    loss: Annotated[float, Field(ge=0, le=1)] = 0.0  # share of messages needing a TCP retransmission
    duplicate: Annotated[float, Field(ge=0, le=1)] = 0.0  # OCPI only: share of requests delivered twice
    reorder: Annotated[float, Field(ge=0, le=1)] = 0.0  # OCPI only: share not waiting for earlier ones


class StationSpec(_Strict):
    # The id is the last segment of the station's OCPP-J WebSocket URL: keep it URL-safe.
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,48}$")]
    ocpp: OcppVersionName
    connectors: Annotated[int, Field(ge=1, le=8)] = 2
    max_power_kw: Annotated[Decimal, Field(gt=0)] = Decimal("22")
    current: Literal["AC", "DC"] = "AC"  # AC: the EV's onboard charger limits; DC: its taper curve
    meter_interval_s: Annotated[int, Field(ge=10, le=86_400)] = 300  # up to a day
    # live only: this station connects to an external CSMS at `<csms_url>/<id>` (bench/external_csms.py)
    csms_url: str | None = None
    # live only (sim has no transport and ignores it): OCPP security profile 1 (Basic auth), 2 (Basic
    # auth over TLS) or 3 (TLS client certificate); credentials are made at run time.
    security_profile: Literal[1, 2, 3] | None = None
    # Against an external CSMS only (csms_url): the credentials it knows this station by (the mock
    # CSMS makes its own). Files are PEM, relative to the scenario file.
    password: str | None = None  # profiles 1 and 2: Basic auth, the station id as username
    ca_file: str | None = None  # wss://: the CA the CSMS's certificate chains to (default: the system's)
    client_cert: str | None = None  # profile 3: the station's certificate and key
    client_key: str | None = None


class LocationSpec(_Strict):
    # The last segment of the mock CPO's Location URL: URL-safe, within OCPI's CiString(36).
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,36}$")]
    # The rest is checked as the eMSP reads the Location in the CPO's version (bench/scenario_locations.py):
    # e.g. coordinates in decimal degrees with 5 to 7 decimals.
    name: str = ""
    time_zone: str = "Europe/Berlin"
    address: str = "Teststraat 1"
    city: str = "Utrecht"
    country: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "NLD"  # ISO 3166-1 alpha-3
    latitude: str = "52.090736"
    longitude: str = "5.121420"
    tariff: str  # id of a tariff of the same CPO
    stations: Annotated[list[StationSpec], Field(min_length=1)]

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class CpoSpec(_Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    ocpi_version: OcpiVersionName = "2.2.1"
    # hub: the CPO reaches the eMSP through the roaming hub `hub` (a `hubs[].id`); its ocpi_link
    # is then its link to the hub (bench/hubs.py).
    connection: Literal["bilateral", "hub"] = "bilateral"
    hub: str | None = None
    dialect: str = "spec-strict"
    # The eMSP operator's tolerance of this CPO (emsp.ocpi.tolerance: plain_token, token_b_as_c,
    # trailing_slash, datetime_offset, local_time_zone, total_cost_number); none: spec-strict.
    tolerate: dict[str, Any] = {}
    tariffs: Annotated[dict[str, str], Field(min_length=1)]  # tariff id -> JSON file (relative to scenario)
    locations: Annotated[list[LocationSpec], Field(min_length=1)]
    ocpp_link: LinkSpec = LinkSpec(latency_ms=30)
    ocpi_link: LinkSpec = LinkSpec(latency_ms=80, jitter_ms=20)
    # What a session in progress gets when a tariff changes (bench/events.py tariff_change): one
    # policy for every tariff, or one per tariff id (tariffs not named: price_at_start).
    mid_session_tariff: TariffPolicy | dict[str, TariffPolicy] = "price_at_start"
    # live only: this CPO's stations connect to an external CSMS, not its mock one (bench/external_csms.py)
    csms_url: str | None = None
    # The mock CSMS pushes these tokens to each station's local list after its boot (SendLocalList), so
    # a station cut off from it still authorizes them (simulators/cpo/csms_local_list.py); none: no push.
    local_list: (
        Annotated[list[Annotated[str, Field(min_length=1, max_length=36)]], Field(max_length=100_000)] | None
    ) = None

    @field_validator("tolerate")
    @classmethod
    def _known_tolerance(cls, value: dict[str, Any]) -> dict[str, Any]:
        return Tolerance.from_mapping(value).as_doc()

    def tariff_policy(self, tariff_id: str) -> TariffPolicy:
        if isinstance(self.mid_session_tariff, str):
            return self.mid_session_tariff
        return self.mid_session_tariff.get(tariff_id, "price_at_start")

    @model_validator(mode="after")
    def _tariffs_exist(self) -> CpoSpec:
        if self.connection == "hub" and self.hub is None:
            raise ValueError("connection: hub needs `hub:` naming one of the scenario's hubs")
        if self.connection != "hub" and self.hub is not None:
            raise ValueError(f"hub: {self.hub!r} needs connection: hub")
        if self.connection == "hub" and self.tolerate:
            raise ValueError("tolerate: behind a hub the eMSP's partner is the hub, not this CPO")
        if self.connection == "hub" and self.ocpi_version != "2.2.1":
            raise ValueError("a CPO behind a hub speaks OCPI 2.2.1 (the hub emulator's only version)")
        long = [t for t in self.local_list or [] if len(t) > TOKEN_MAX["1.6"]]
        if long and any(st.ocpp == "1.6" for loc in self.locations for st in loc.stations):
            raise ValueError(
                f"local_list: {long[0]!r} is longer than a 1.6 idTag (20) and this CPO has 1.6 stations"
            )
        for index, location in enumerate(self.locations):
            if location.tariff not in self.tariffs:
                raise ValueError(
                    f"locations[{index}].tariff {location.tariff!r} is not one of {sorted(self.tariffs)}"
                )
        return self


class HubSpec(_Strict):
    """A roaming hub between the eMSP and the CPOs that name it (`connection: hub`, `hub: <id>`)."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    # A built-in persona name (scenarios/hubs/<name>.yaml) or a YAML file relative to the scenario.
    persona: Annotated[str, Field(min_length=1)]
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")]
    link: LinkSpec = LinkSpec(latency_ms=40, jitter_ms=10)  # the hub <-> eMSP link


# The bench's own results (bench/expectations.py NO_SESSIONS, bench/world.py's registration checks)
# are named with this prefix: an expectation of such a name would share its junit.xml test case.
BENCH_RESULTS = "bench:"


class FraudSpec(NoBooleanNumbers, FraudSettings):
    """Thresholds of the eMSP's fraud rules (emsp/services/FRAUD.md): the served eMSP's settings,
    whose defaults are the core's, but for `enabled`: a scenario opts in. The demand model draws every
    visit's station anywhere in the scenario, so a driver "travels" between its cities at any speed
    (peak-hour's Berlin, Munich and Amsterdam): the velocity rules would refuse honest drivers the
    world cannot make honest. (A served eMSP has them on by default.)"""

    enabled: bool = False


class PullSpec(_Strict):
    """When the eMSP reads the CPOs' Sender interfaces (emsp.ocpi.pull)."""

    initial: bool = True  # once, right after a partner registered
    after_outage: bool = True  # a catch-up from the last sync when an outage of the link ends
    every_minutes: Annotated[int, Field(ge=1)] | None = None  # a catch-up this often (None: never)


class EmspSpec(_Strict):
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "NL"
    party_id: Annotated[str, Field(pattern=r"^[A-Z0-9]{3}$")] = "EMS"
    business_name: str = "emsp-bench eMSP"
    # Federated identity: each driver holds one token (uid, contract id) per partner (a bilateral
    # CPO, or a hub) and presents the one of the CPO they are at. False: one token everywhere.
    federated_identity: bool = False
    fraud: FraudSpec = FraudSpec()
    pull: PullSpec = PullSpec()
    # live only: an external eMSP under test instead of the bench's own (bench/external_emsp.py): the
    # mock CPOs register at `versions_url` with token A (one for all CPOs, or one per CPO id) and
    # the drivers' tokens are issued through its contract API when `admin_url`/`admin_token` are given.
    versions_url: str | None = None
    token_a: str | dict[str, str] | None = None
    admin_url: str | None = None
    admin_token: str | None = None

    @model_validator(mode="after")
    def _external_complete(self) -> EmspSpec:
        if (self.versions_url is None) != (self.token_a is None):
            raise ValueError("an external eMSP needs both versions_url and token_a")
        if (self.admin_url is None) != (self.admin_token is None):
            raise ValueError("admin_url and admin_token go together")
        if self.admin_url is not None and self.versions_url is None:
            raise ValueError("admin_url is for an external eMSP: give versions_url and token_a too")
        for name in ("versions_url", "admin_url"):
            url = getattr(self, name)
            if url is not None and not url.startswith(("http://", "https://")):
                raise ValueError(f"{name} must be an http:// or https:// URL")
        return self


Port = Annotated[int, Field(ge=1, le=65535)]


class CpoPorts(_Strict):
    csms: Port | None = None  # the mock CSMS's ws:// listener
    csms_tls: Port | None = None  # its wss:// listener (stations of security profile 2 or 3)
    ocpi: Port | None = None  # the mock CPO's OCPI (http://) server


class PortsSpec(_Strict):
    """live only: fixed listening ports, for a real box configured in advance (a charger pointed at
    the mock CSMS, an eMSP at a CPO's versions URL); any port not given is picked by the system."""

    host: str = "127.0.0.1"  # the address listened on (0.0.0.0: every interface)
    emsp: Port | None = None  # the bench's own eMSP (OCPI)
    cpos: dict[str, CpoPorts] = {}


class Expectation(_Strict):
    """`metric` is a dotted summary path; `value` a number or another dotted path."""

    name: str = ""
    metric: str
    op: Literal["==", "!=", ">=", "<=", ">", "<"] = "=="
    value: str | int | float

    @field_validator("name")
    @classmethod
    def _one_printable_line(cls, value: str) -> str:
        # Written into junit.xml and report.html: a control character would make the XML not
        # well-formed (a CI's parser then drops the whole run's results).
        for char in value:
            if unicodedata.category(char) in ("Cc", "Cs") or char in "\ufffe\uffff":
                raise ValueError(
                    f"has a non-printable character U+{ord(char):04X}; a name is one line of text"
                )
        return value

    @field_validator("value", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        # YAML `true` would pass as the int 1 (bool is an int): say so instead of comparing with 1.
        if isinstance(value, bool):
            raise ValueError("a boolean is neither a number nor a summary path")
        # YAML .inf/.nan or 1.0e400 (a float overflowing to infinity), or text such as `nan` or
        # `Infinity` that reads as a number: no summary value compares with it meaningfully.
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"not a finite number ({value})")
        if isinstance(value, str) and _non_finite_text(value):
            raise ValueError(f"not a finite number ({value!r})")
        return value

    @property
    def label(self) -> str:
        """The name results carry (junit test case, report, `diff`): the name, or the comparison."""
        return self.name or f"{self.metric} {self.op} {self.value}"


def _non_finite_text(text: str) -> bool:
    try:
        return not Decimal(text).is_finite()
    except InvalidOperation:
        return False  # not a number: a summary path


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    # Labels for selecting scenarios (pytest markers under the plugin: `pytest -m quick scenarios/`).
    tags: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$")]] = []
    seed: Annotated[int, Field(ge=0)] = 1
    start: datetime = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    duration_minutes: Annotated[int, Field(ge=1, le=WEEK_MINUTES)] = 120
    # time after the last departure for CDRs to arrive
    settle_minutes: Annotated[int, Field(ge=0, le=WEEK_MINUTES)] = 30
    emsp: EmspSpec = EmspSpec()
    cpos: Annotated[list[CpoSpec], Field(min_length=1)]
    hubs: list[HubSpec] = []
    ports: PortsSpec = PortsSpec()
    demand: DemandSpec
    events: list[Event] = []
    expectations: list[Expectation] = []
    # False for a scenario in which no session is meant to start; otherwise a run where none did fails.
    expect_sessions: bool = True

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start must carry a time zone (e.g. 2026-03-02T07:00:00Z)")
        try:
            return value.astimezone(UTC)
        except (
            OverflowError
        ):  # e.g. 9999-12-31T23:00:00-05:00; pydantic turns only ValueError into a field error
            raise ValueError("out of the range of a datetime in UTC") from None

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

    @model_validator(mode="after")
    def _unique_expectations(self) -> Scenario:
        # Results are keyed by name (junit.xml test cases, `emsp-bench diff`, the pytest plugin's
        # property): a second one of a name would mask the first's verdict.
        first: dict[str, int] = {}
        for index, expectation in enumerate(self.expectations):
            label = expectation.label
            if label.strip().casefold().startswith(BENCH_RESULTS):
                raise FieldError(
                    f"expectations[{index}].name",
                    f"{label!r}: a name beginning {BENCH_RESULTS!r} is kept for the bench's own results",
                )
            if label in first:
                raise FieldError(
                    f"expectations[{index}].name",
                    f"{label!r} is also the name of expectations[{first[label]}]; each result needs its own",
                )
            first[label] = index
        return self

    @model_validator(mode="after")
    def _fixed_ports(self) -> Scenario:
        unknown = sorted(set(self.ports.cpos) - {cpo.id for cpo in self.cpos})
        if unknown:
            raise ValueError(f"ports.cpos names unknown CPOs {unknown}")
        taken = [self.ports.emsp] + [
            port for p in self.ports.cpos.values() for port in (p.csms, p.csms_tls, p.ocpi)
        ]
        given = [port for port in taken if port is not None]
        if len(set(given)) != len(given):
            raise ValueError("ports: every fixed port may be used once")
        return self

    @model_validator(mode="after")
    def _hub_topology(self) -> Scenario:
        hub_ids = [hub.id for hub in self.hubs]
        if len(set(hub_ids)) != len(hub_ids):
            raise ValueError("hub ids must be unique")
        for hub_id in hub_ids:
            # Hub and CPO ids share the trace's actor ids and the outage's `party`.
            if hub_id == "emsp" or hub_id in {cpo.id for cpo in self.cpos}:
                raise ValueError(f"hub id {hub_id!r} is already the id of the eMSP or a CPO")
        parties = [(c.country_code, c.party_id) for c in self.cpos]
        parties += [(h.country_code, h.party_id) for h in self.hubs]
        parties.append((self.emsp.country_code, self.emsp.party_id))
        if len(set(parties)) != len(parties):
            raise ValueError("every CPO, hub and the eMSP need a party (country_code, party_id) of their own")
        return self

    @model_validator(mode="after")
    def _clone_locations(self) -> Scenario:
        clones = self.demand.clones
        if clones is None:
            return self
        counts: dict[str, int] = {}
        for cpo in self.cpos:
            for location in cpo.locations:
                counts[location.id] = counts.get(location.id, 0) + 1
        for name in [clones.skim_location, *clones.locations]:
            if counts.get(name, 0) != 1:
                raise ValueError(
                    f"demand.clones: location {name!r} must be the id of exactly one location of the CPOs"
                )
        if clones.victims > self.demand.drivers:
            raise ValueError("demand.clones.victims cannot exceed demand.drivers")
        return self

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)

    def stations_at(self, location_id: str) -> list[tuple[str, str]]:
        """(cpo id, station id) of the stations at a location (by id)."""
        return [
            (cpo.id, station.id)
            for cpo in self.cpos
            for location in cpo.locations
            if location.id == location_id
            for station in location.stations
        ]

    def station_ids(self) -> list[str]:
        return [s.id for cpo in self.cpos for loc in cpo.locations for s in loc.stations]
