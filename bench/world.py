"""The one composition root (principle 9): a scenario becomes a world of sans-IO actors.

Runtimes only move messages between these actors; they add no behaviour of their own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bench.billing import provision as provision_billing
from bench.demand import Arrival, Driver, make_drivers, mark_app_starts, plan_arrivals, plan_clones
from bench.events import CdrHold, TariffChange, Window
from bench.expectations import ExpectationResult
from bench.hubs import EMSP_CONNECTION, build_hubs, hub_token_a, load_hub_persona
from bench.scenario import CpoSpec, Scenario, ScenarioError
from bench.scenario_locations import site_of
from bench.spec_guard import spec_guard
from emsp.core import EmspCore, EmspSettings
from emsp.storage.db import Database
from emsp.wire import loads
from simulators.cpo.csms import Csms
from simulators.cpo.mock_cpo import MockCpo
from simulators.cpo.ocpi_cpo import OcpiCpo
from simulators.cpo.ocpi_party import PUSHES
from simulators.dialects.profile import DialectError, load_profile
from simulators.hub import OcpiHub
from simulators.instants import to_micros
from simulators.station.base import VirtualStation
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201


@dataclass(frozen=True, slots=True)
class StationPlace:
    station_id: str
    cpo_id: str
    connectors: int


@dataclass(frozen=True, slots=True)
class AppStart:
    """Ground truth: a driver started a visit from the eMSP's app (START_SESSION through the eMSP)."""

    at: datetime
    token_uid: str
    station_id: str
    connector_id: int
    command_id: int | None  # None: the eMSP refused to send it (the driver swiped their card instead)
    refused: str = ""  # why the eMSP refused it


@dataclass
class World:
    scenario: Scenario
    drivers: list[Driver]
    arrivals: list[Arrival]
    emsp: EmspCore
    emsp_base_url: str
    cpos: dict[str, MockCpo]
    cpo_base_urls: dict[str, str]
    stations: dict[str, VirtualStation]
    places: list[StationPlace]  # the order demand preferences index into
    tariff_versions: dict[int, dict[str, Any]] = field(default_factory=dict)  # tariff_change index -> JSON
    # What the drivers experienced, filled in by the runtime: visit_key -> quote before authorizing
    # (its Decimal's text, which reads back as the same Decimal: ~50 bytes where the Decimal is ~100,
    # one per visit all run long), token uid -> when the eMSP blocked it.
    quotes: dict[int, str] = field(default_factory=dict)
    blocked: dict[str, datetime] = field(default_factory=dict)
    # Roaming hubs (bench/hubs.py) and their base URLs; `channels`: CPO id -> the hub it goes through
    # (CPOs not named are bilateral).
    hubs: dict[str, OcpiHub] = field(default_factory=dict)
    hub_base_urls: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    # Cloned tokens (demand.clones): stations only pinned visits use, and the truth keys of the
    # visits made by fraudsters (filled in by the runtime at plug-in, like `quotes`).
    reserved: frozenset[str] = frozenset()
    fraud_keys: set[int] = field(default_factory=set)
    # Ground truth of app starts (bench/truth.py AppStart): one per visit started from the app.
    app_starts: list[AppStart] = field(default_factory=list)

    def cpo_of(self, station_id: str) -> str:
        return self._cpo_by_station[station_id]

    def visit_key(self, station_id: str, connector: int, plugged_at: datetime) -> int:
        """What names a visit in `quotes` and `fraud_keys`: its station, connector and plug-in instant
        to the millisecond, as its truth key's text (station/connector/format_utc) does, in one int
        of ~36 bytes where that text took ~80 (one per visit, kept all run long)."""
        # format_utc writes the milliseconds, and none at all for a whole second (a text of its own
        # even when a few microseconds truncate to .000): both, never negative.
        millis = (to_micros(plugged_at) // 1000 + 2**62) * 2 + (plugged_at.microsecond != 0)
        return ((connector * len(self.places) + self._place_index[station_id]) << 64) | millis

    def __post_init__(self) -> None:
        self._cpo_by_station = {place.station_id: place.cpo_id for place in self.places}
        self._place_index = {place.station_id: number for number, place in enumerate(self.places)}


def load_tariffs(
    cpo: CpoSpec, cpo_index: int, base_dir: Path, scenario_file: str
) -> dict[str, dict[str, Any]]:
    tariffs: dict[str, dict[str, Any]] = {}
    for tariff_id, rel in cpo.tariffs.items():
        field = f"cpos[{cpo_index}].tariffs.{tariff_id}"
        try:
            data = loads((base_dir / rel).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ScenarioError(scenario_file, field, f"{rel} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ScenarioError(scenario_file, field, f"{rel} must hold one OCPI Tariff object")
        # Identity comes from the scenario, so one tariff file can serve several CPOs.
        data |= {"country_code": cpo.country_code, "party_id": cpo.party_id, "id": tariff_id}
        data.setdefault("last_updated", "2026-01-01T00:00:00Z")
        tariffs[tariff_id] = data
    return tariffs


_IN_MEMORY = ("sqlite://", "sqlite:///:memory:")


def _unusable(database_url: str, exc: SQLAlchemyError | ImportError) -> ScenarioError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ScenarioError(database_url, "--database-url", f"unusable: {reason}")


def _refuse_data(database_url: str, holds_data: bool) -> None:
    if holds_data:
        # A run is graded against its own ground truth; state left by another run would corrupt it.
        raise ScenarioError(
            database_url,
            "--database-url",
            "the database already holds eMSP data; give the bench an empty one",
        )


def _check_database(database_url: str) -> None:
    try:
        db = Database(database_url)
        try:
            holds = db.holds_data()
        finally:
            db.engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:  # ImportError: a URL whose driver is not installed
        raise _unusable(database_url, exc) from exc
    _refuse_data(database_url, holds)


def _dialect_error(exc: DialectError, scenario_file: str, index: int) -> ScenarioError:
    """A profile file at fault is named with its field; otherwise the scenario's `cpos[i].dialect`."""
    if exc.file is not None:
        return ScenarioError(exc.file, exc.field or "(file)", f"{exc.reason} (cpos[{index}].dialect)")
    return ScenarioError(scenario_file, f"cpos[{index}].dialect", exc.reason)


def preflight(scenario: Scenario, base_dir: Path, *, database_url: str, scenario_file: str) -> list[str]:
    """Everything `build_world` could refuse, checked without building anything (so a run can refuse
    invalid input before it touches its run directory). Returns the currencies of the tariffs."""
    currencies: set[str] = set()
    for index, cpo in enumerate(scenario.cpos):
        try:
            load_profile(cpo.dialect, base_dir)
        except DialectError as exc:
            raise _dialect_error(exc, scenario_file, index) from exc
        for tariff in load_tariffs(cpo, index, base_dir, scenario_file).values():
            if isinstance(tariff.get("currency"), str):
                currencies.add(tariff["currency"])
    for index, hub in enumerate(scenario.hubs):
        load_hub_persona(hub, index, base_dir, scenario_file)
    if database_url not in _IN_MEMORY:  # a fresh in-memory database holds nothing by construction
        _check_database(database_url)
    return sorted(currencies)


def build_world(
    scenario: Scenario,
    base_dir: Path,
    *,
    emsp_base_url: str,
    cpo_base_urls: dict[str, str],
    database_url: str = "sqlite://",
    scenario_file: str = "<scenario>",
    hub_base_urls: dict[str, str] | None = None,
    external_emsp: tuple[str, dict[str, str]] | None = None,
    keyed_tokens: bool = False,
) -> World:
    """`external_emsp`: (versions URL, token A per CPO id) of an eMSP under test the mock CPOs
    register with instead of the bench's own (bench/external_emsp.py). `keyed_tokens`: the eMSP
    keys the credentials tokens it issues with a random secret (`live`: it listens on real sockets,
    which a real box, or anyone with `ports.host` a wildcard, reaches); otherwise they are unkeyed,
    deterministic per seed: every party is simulated and `sim` runs stay byte-identical."""
    rng = random.Random(scenario.seed)
    settings = EmspSettings(
        country_code=scenario.emsp.country_code,
        party_id=scenario.emsp.party_id,
        business_name=scenario.emsp.business_name,
        base_url=emsp_base_url,
        database_url=database_url,
        fraud=scenario.emsp.fraud.config(),
        pull_initial=scenario.emsp.pull.initial,
        pull_every=None
        if scenario.emsp.pull.every_minutes is None
        else timedelta(minutes=scenario.emsp.pull.every_minutes),
    )
    if not keyed_tokens:
        settings = replace(settings, token_secret=None)
    try:
        emsp = EmspCore(settings)
        holds_data = emsp.db.holds_data()
    except (SQLAlchemyError, ImportError) as exc:
        raise _unusable(database_url, exc) from exc
    _refuse_data(database_url, holds_data)
    drivers = make_drivers(scenario.demand, rng, scenario.emsp.country_code, scenario.emsp.party_id)
    federated = scenario.emsp.federated_identity
    with emsp.db.scope():  # one session and connection for every token's unit (each still commits)
        for driver in drivers:
            if driver.known and not federated:
                emsp.issue_token(driver.token_uid, contract_id=driver.contract_id, now=scenario.start)
    provision_billing(emsp, scenario, drivers)  # accounts and contracts (demand.contracts), if any

    hub_urls = hub_base_urls or {}
    personas = {
        hub.id: load_hub_persona(hub, index, base_dir, scenario_file)
        for index, hub in enumerate(scenario.hubs)
    }
    hubs = build_hubs(scenario, personas, emsp, emsp_base_url=emsp_base_url, hub_base_urls=hub_urls)
    cpos: dict[str, MockCpo] = {}
    stations: dict[str, VirtualStation] = {}
    places: list[StationPlace] = []
    for index, cpo in enumerate(scenario.cpos):
        try:
            dialect = load_profile(cpo.dialect, base_dir)
        except DialectError as exc:
            raise _dialect_error(exc, scenario_file, index) from exc
        token_a = hub_token_a(cpo.id) if external_emsp is None else external_emsp[1][cpo.id]
        if cpo.hub is None:
            # The operator's configuration: this CPO acts for its scenario party only.
            emsp.register_partner(
                cpo.id, token_a, parties=[(cpo.country_code, cpo.party_id, "CPO")], tolerate=cpo.tolerate
            )
        sites = []
        for location in cpo.locations:
            sites.append(site_of(location))
            for spec in location.stations:
                kind = Station16 if spec.ocpp == "1.6" else Station201
                stations[spec.id] = kind(
                    spec.id,
                    connectors=spec.connectors,
                    max_power_kw=spec.max_power_kw,
                    meter_interval_s=spec.meter_interval_s,
                    dc=spec.current == "DC",
                )
                # Eichrecht: a station at a German location signs (simulators/ocppj/signed.py)
                stations[spec.id].signed_meter = location.country == "DEU"
                places.append(StationPlace(spec.id, cpo.id, spec.connectors))
        ocpi = OcpiCpo(
            cpo_id=cpo.id,
            country_code=cpo.country_code,
            party_id=cpo.party_id,
            business_name=f"{cpo.id} (mock CPO, {dialect.name})",
            base_url=cpo_base_urls[cpo.id],
            # Behind a hub the CPO registers with the hub (token A from the hub's operator).
            emsp_versions_url=external_emsp[0]
            if external_emsp is not None
            else f"{(hub_urls[cpo.hub] if cpo.hub else emsp_base_url).rstrip('/')}/versions",
            token_a=token_a,
            dialect=dialect,
            tariffs=load_tariffs(cpo, index, base_dir, scenario_file),
            sites=sites,
            ocpi_version=cpo.ocpi_version,
            # Behind a hub the credentials name the hub (role HUB): the eMSP party comes from here.
            emsp_party=(scenario.emsp.country_code, scenario.emsp.party_id) if cpo.hub else None,
            hub_client_info=cpo.hub is not None,
            seed=scenario.seed,  # the dialect's draws (duplicate CDRs) follow the run's seed
        )
        ocpi.spec_priced = spec_guard(ocpi, stations)  # the bench checks itself as the CPO prices
        cpos[cpo.id] = MockCpo(Csms(cpo.id, local_list=cpo.local_list), ocpi)

    if federated:  # every partner is configured now: one token per driver and partner
        drivers = [
            _federate(emsp, number, d, scenario.start) if d.known else d for number, d in enumerate(drivers)
        ]
    arrivals = plan_arrivals(scenario.demand, drivers, scenario.start, scenario.end, rng)
    reserved: frozenset[str] = frozenset()
    clones = scenario.demand.clones
    if clones is not None:
        skim = scenario.stations_at(clones.skim_location)
        targets = [scenario.stations_at(name) for name in clones.locations]
        reserved = frozenset(sid for _cpo, sid in [*skim, *(p for t in targets for p in t)])
        clone_rng = random.Random(f"clones-{scenario.seed}")  # its own: the visits' plan stays as it was
        arrivals = plan_clones(clones, scenario.demand, arrivals, skim, targets, scenario.end, clone_rng)
    arrivals = mark_app_starts(arrivals, scenario.demand.app_start_share, scenario.seed)
    tariff_versions: dict[int, dict[str, Any]] = {}
    for index, event in enumerate(scenario.events):
        if isinstance(event, TariffChange):
            field_name = f"events[{index}].file"
            try:
                data = loads((base_dir / event.file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ScenarioError(
                    scenario_file, field_name, f"{event.file} is not valid JSON: {exc}"
                ) from exc
            if not isinstance(data, dict):
                raise ScenarioError(
                    scenario_file, field_name, f"{event.file} must hold one OCPI Tariff object"
                )
            tariff_versions[index] = data
    return World(
        scenario=scenario,
        drivers=drivers,
        arrivals=arrivals,
        emsp=emsp,
        emsp_base_url=emsp_base_url,
        cpos=cpos,
        cpo_base_urls=cpo_base_urls,
        stations=stations,
        places=places,
        tariff_versions=tariff_versions,
        hubs=hubs,
        hub_base_urls=dict(hub_urls),
        channels={cpo.id: cpo.hub for cpo in scenario.cpos if cpo.hub is not None},
        reserved=reserved,
    )


def _federate(emsp: EmspCore, number: int, driver: Driver, now: datetime) -> Driver:
    """The driver's canonical id (the one bench/billing.py gives the driver in `drivers`, when the
    scenario has contracts) and their token per partner, issued by the eMSP."""
    driver_id = f"D{number:04d}"
    emsp.issue_credentials(driver_id, now=now, push=False)  # no partner is registered yet
    tokens = tuple((row.partner or "", row.uid) for row in emsp.driver_tokens(driver_id))
    return replace(driver, driver_id=driver_id, partner_tokens=tokens)


def plug_in_token(world: World, arrival: Arrival, station_id: str, connector: int, now: datetime) -> str:
    """The uid the driver presents at this station (both runtimes, at plug-in): their token of the
    station's partner under federated identity; a fraudster's visit is remembered for the truth."""
    if arrival.fraud:
        world.fraud_keys.add(world.visit_key(station_id, connector, now.replace(microsecond=0)))
    driver = arrival.driver
    if not driver.partner_tokens:
        return driver.token_uid
    cpo = arrival.token_of or world.cpo_of(station_id)
    partner = world.channels.get(cpo, cpo)
    return dict(driver.partner_tokens).get(partner, driver.token_uid)


def quote_for(world: World, arrival: Arrival, station_id: str, connector: int, now: datetime) -> None:
    """The driver asks the eMSP what the planned visit may cost, before authorizing (both runtimes)."""
    cpo = world.cpos[world.cpo_of(station_id)]
    evse = cpo.ocpi.evse(station_id, connector)
    quoted = world.emsp.quote(
        country_code=cpo.ocpi.country_code,
        party_id=cpo.ocpi.party_id,
        location_id=evse.location_id,
        evse_uid=evse.evse_uid,
        connector_id=evse.connector_id,
        energy_kwh=arrival.energy_kwh,
        stay=arrival.stay,
        now=now,
    )
    if quoted is not None:
        world.quotes[world.visit_key(station_id, connector, now.replace(microsecond=0))] = str(quoted)


def known_driver(world: World, number: int) -> Driver:
    return [d for d in world.drivers if d.known][number]


def horizon(world: World) -> datetime:
    """When a run stops: the last possible departure (with patience) or the scenario end, plus settling."""
    scenario = world.scenario
    patience = timedelta(minutes=scenario.demand.patience_minutes)
    last = max([a.at + patience + a.stay for a in world.arrivals], default=scenario.end)
    ends = [scenario.end, last]
    for event in scenario.events:
        if isinstance(event, CdrHold):
            ends.append(event.end + timedelta(minutes=event.late_minutes))
        elif isinstance(event, Window):
            ends.append(event.end)
    return max(ends) + timedelta(minutes=scenario.settle_minutes)


def registration_failures(world: World) -> list[ExpectationResult]:
    """A CPO that never registered with the eMSP on its OCPI version fails the run, naming why
    (the eMSP offers no such version, refused the credentials...): never a silent pass. Registered
    CPOs add nothing, so a healthy run's summary is unchanged. A hub that never registered with
    the eMSP is named (its CPOs cannot start without it: they are listed there, not failed each)."""
    failures = []
    idle_hubs = set()
    for hub_id, hub in world.hubs.items():
        if any(connection == EMSP_CONNECTION for _at, connection in hub.truth.registered):
            continue
        idle_hubs.add(hub_id)
        answers = [f"{code} {text}" for _at, conn, code, text in hub.truth.refused if conn == EMSP_CONNECTION]
        why = "; ".join(dict.fromkeys(answers)) + (f" ({len(answers)} attempts)" if len(answers) > 1 else "")
        behind = ", ".join(sorted(cpo_id for cpo_id, via in world.channels.items() if via == hub_id))
        failures.append(
            ExpectationResult(
                f"bench: {hub_id} registered", f"hubs.{hub_id}", "registered with the eMSP on OCPI", "2.2.1",
                f"{why or 'no answer to its registration'}; not started behind it: {behind or 'none'}", False,
            )
        )  # fmt: skip
    for cpo_id, cpo in world.cpos.items():
        ocpi = cpo.ocpi
        if world.channels.get(cpo_id) in idle_hubs and ocpi.truth.registered_at is None:
            continue  # its hub's failure above
        if ocpi.truth.registered_at is not None:
            refused = [call for call in ocpi.truth.failed_calls if call[1] in PUSHES]
            if refused and not ocpi.truth.pushes_accepted:
                # Registered, yet the eMSP took none of what it pushed: nothing it graded is real.
                _at, kind, code, message = refused[0]
                failures.append(
                    ExpectationResult(
                        f"bench: {cpo_id} pushes accepted", f"partners.{cpo_id}", "some push accepted",
                        f"{len(refused)} refused", f"none accepted; first: {kind}: {code} {message}".strip(),
                        False,
                    )
                )  # fmt: skip
            continue
        why = "; ".join(
            f"{kind}: {code} {message}".strip() for _at, kind, code, message in ocpi.truth.failed_calls
        )
        failures.append(
            ExpectationResult(
                f"bench: {cpo_id} registered", f"partners.{cpo_id}", "registered on OCPI", ocpi.version,
                why or "no answer to the registration", False,
            )
        )  # fmt: skip
    return failures


def block_driver(world: World, driver: Driver, now: datetime) -> bool:
    """token_block (both runtimes): the eMSP blocks the driver's token, or under federated identity
    every token of the driver (each pushed to its partner); the truth learns which and when."""
    if driver.partner_tokens:
        blocked = world.emsp.set_driver_valid(driver.driver_id, False, now=now)
    else:
        blocked = [driver.token_uid] if world.emsp.block_token(driver.token_uid, now=now) else []
    for uid in blocked:
        world.blocked[uid] = now
    return bool(blocked)
