"""Acceptance (issue 8, item 4): a START_SESSION sent through the contract API becomes an OCPI
command to the CPO, an OCPP remote start at the station, a Session and a CDR the eMSP bills — in
`sim`, in each OCPI version (2.1.1 has its own command objects), on both OCPP versions.

The driver plugs in without swiping (they start from the app); at that simulated instant the test
POSTs `/api/v1/commands` to the eMSP's contract API, whose clock is the simulation's.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.runner import sim_urls
from bench.runtime.sim import SimRuntime
from bench.scenario import load_scenario
from bench.trace import WireTrace
from bench.world import build_world
from emsp.contract.app import create_contract_app
from simulators.station.physics import EvProfile

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
ADMIN = {"Authorization": "Bearer cmd-admin"}


def _world(tmp_path: Path, version: str, ocpp: str, dialect: str = "spec-strict") -> Any:
    scenario = load_scenario(SCENARIOS / "smoke.yaml")[0]
    cpo = scenario.cpos[0]
    location = cpo.locations[0]
    station = next(s for s in location.stations if s.ocpp == ocpp)
    location = location.model_copy(update={"stations": [station]})
    cpo = cpo.model_copy(update={"ocpi_version": version, "dialect": dialect, "locations": [location]})
    quiet = {"drivers": 2, "unknown_tokens": 0, "arrivals_per_hour": 0.001}
    demand = scenario.demand.model_copy(update=quiet)
    scenario = scenario.model_copy(
        update={"cpos": [cpo], "demand": demand, "expectations": [], "duration_minutes": 60}
    )
    emsp_url, cpo_urls = sim_urls([cpo.id])
    world = build_world(scenario, SCENARIOS, emsp_base_url=emsp_url, cpo_base_urls=cpo_urls)
    return world, station.id, location.id


def _run_app_start(tmp_path: Path, version: str, ocpp: str, dialect: str = "spec-strict") -> dict[str, Any]:
    world, station_id, location_id = _world(tmp_path, version, ocpp, dialect)
    runtime = SimRuntime(world, WireTrace(tmp_path / "trace.jsonl"))
    client = TestClient(create_contract_app(world.emsp, "cmd-admin", runtime.now))
    driver = next(d for d in world.drivers if d.known)
    seen: dict[str, Any] = {"driver": driver}
    start = world.scenario.start
    connector = 2

    def app_start() -> None:
        ev = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(10))
        station = world.stations[station_id]
        plugged = station.plug_in(
            connector, token_uid=driver.token_uid, ev=ev, now=runtime.now(), await_remote=True
        )
        runtime._station_send(station_id, plugged)
        evse = world.cpos[world.cpo_of(station_id)].ocpi.evse(station_id, connector)
        answer = client.post(
            "/commands",
            headers=ADMIN,
            json={
                "type": "START_SESSION",
                "location_id": location_id,
                "evse_uid": evse.evse_uid,
                "token_uid": driver.token_uid,
            },
        )
        seen["post"] = answer
        runtime._emsp_outbound()
        runtime._schedule_expiry()

    def leave() -> None:
        runtime._station_send(station_id, world.stations[station_id].unplug(connector, runtime.now()))

    runtime._at(start + timedelta(minutes=10), app_start)
    runtime._at(start + timedelta(minutes=40), leave)
    runtime.run()
    runtime.trace.close()
    posted = seen["post"]
    assert posted.status_code == 201, posted.text
    seen["command"] = client.get(f"/commands/{posted.json()['id']}", headers=ADMIN).json()
    seen["records"] = world.emsp.records()
    seen["trace"] = (tmp_path / "trace.jsonl").read_text()
    seen["client"] = client
    return seen


@pytest.mark.parametrize(
    ("version", "ocpp", "remote_start"),
    [
        ("2.2.1", "1.6", "RemoteStartTransaction"),
        ("2.2.1", "2.0.1", "RequestStartTransaction"),
        ("2.1.1", "1.6", "RemoteStartTransaction"),
        ("2.3.0", "2.0.1", "RequestStartTransaction"),
    ],
)
def test_start_session_through_the_contract_api_is_billed(
    tmp_path: Path, version: str, ocpp: str, remote_start: str
) -> None:
    seen = _run_app_start(tmp_path, version, ocpp)
    uid = seen["driver"].token_uid
    command = seen["command"]
    assert command["state"] == "COMPLETED" and command["response"] == "ACCEPTED"
    assert command["result"] == "ACCEPTED" and command["ocpi_version"] == version
    assert f'/{version}/commands/START_SESSION"' in seen["trace"]  # the POST to the CPO's Receiver
    assert f"/{version}/commands/START_SESSION/{command['id']}" in seen["trace"]  # the result's POST
    assert remote_start in seen["trace"] and uid in seen["trace"]
    records = seen["records"]
    contract = seen["driver"].contract_id
    assert [s.contract_id for s in records.sessions] == [contract]
    assert [c.contract_id for c in records.cdrs] == [contract]
    assert [line.contract_id for line in records.invoice_lines] == [contract]
    assert records.invoice_lines[0].energy_kwh > 0


def test_a_lost_command_result_times_out_and_the_session_is_still_billed(tmp_path: Path) -> None:
    """Dialect `command_result: timeout_then_session`: no CommandResult ever comes (TIMEOUT, in
    simulated time), the charger starts anyway, and the eMSP bills the session."""
    seen = _run_app_start(tmp_path, "2.2.1", "1.6", dialect="command-result-lost")
    command = seen["command"]
    assert command["state"] == "TIMEOUT" and command["response"] == "ACCEPTED"
    assert command["result"] is None
    assert len(seen["records"].invoice_lines) == 1


@pytest.mark.xdist_group("live")  # real sockets: keep off the other worker's live tests
def test_app_start_in_live_goes_through_the_contract_api(tmp_path: Path) -> None:
    """In `live` the drivers' app POSTs /api/v1/commands; commands go over real HTTP and OCPP.
    Timeouts are real (scenario) time there, so only what never depends on timing is asserted."""
    from bench.runner import run_scenario

    outcome = run_scenario("app-start", runtime="live", seed=3, out=tmp_path, speed=300, report=False)
    commands = outcome.summary["commands"]
    assert commands["sent"] >= 1 and commands["accepted"] == commands["sent"]
    starts = commands["app_starts"]
    assert starts["charged"] == starts["requested"] == starts["invoiced"]
    assert outcome.summary["reconciliation"]["matched"] == outcome.summary["sessions"]["completed"]


@pytest.mark.parametrize(("version", "ocpp"), [("2.2.1", "1.6"), ("2.2.1", "2.0.1"), ("2.1.1", "1.6")])
def test_every_command_is_carried_out_by_the_station(tmp_path: Path, version: str, ocpp: str) -> None:
    """RESERVE_NOW, CANCEL_RESERVATION (not in 2.1.1: refused before anything is sent),
    START_SESSION, STOP_SESSION and UNLOCK_CONNECTOR, each to a COMPLETED command."""
    world, station_id, location_id = _world(tmp_path, version, ocpp)
    runtime = SimRuntime(world, WireTrace(tmp_path / "trace.jsonl"))
    client = TestClient(create_contract_app(world.emsp, "cmd-admin", runtime.now))
    driver = next(d for d in world.drivers if d.known)
    evse = world.cpos[world.cpo_of(station_id)].ocpi.evse(station_id, 2)
    where = {"location_id": location_id, "evse_uid": evse.evse_uid}
    connector = evse.connector_id
    answers: dict[str, Any] = {}
    start = world.scenario.start

    def post(name: str, body: dict[str, Any]) -> None:
        answers[name] = client.post("/commands", headers=ADMIN, json=body)
        runtime._emsp_outbound()
        runtime._schedule_expiry()

    def plug_and_start() -> None:
        ev = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(30))
        plugged = world.stations[station_id].plug_in(
            2, token_uid=driver.token_uid, ev=ev, now=runtime.now(), await_remote=True
        )
        runtime._station_send(station_id, plugged)
        post("start", {"type": "START_SESSION", **where, "token_uid": driver.token_uid})

    def stop() -> None:
        sessions = client.get("/sessions", headers=ADMIN).json()["items"]
        answers["session_id"] = sessions[0]["id"]
        post("stop", {"type": "STOP_SESSION", "session_id": sessions[0]["id"]})

    expiry = (start + timedelta(minutes=30)).isoformat()
    reserve = {"type": "RESERVE_NOW", **where, "reservation_id": "7", "expiry_date": expiry}
    steps = [
        (5, lambda: post("reserve", reserve | {"token_uid": driver.token_uid})),
        (6, lambda: post("cancel", {"type": "CANCEL_RESERVATION", "reservation_id": "7"})),
        (10, plug_and_start),
        (20, stop),
        (25, lambda: post("unlock", {"type": "UNLOCK_CONNECTOR", **where, "connector_id": connector})),
        (26, lambda: post("unknown", {"type": "STOP_SESSION", "session_id": "NO-SUCH-SESSION"})),
    ]
    for minute, step in steps:
        runtime._at(start + timedelta(minutes=minute), step)
    runtime.run()
    runtime.trace.close()

    def state(name: str) -> tuple[str, str | None]:
        assert answers[name].status_code == 201, (name, answers[name].text)
        got = client.get(f"/commands/{answers[name].json()['id']}", headers=ADMIN).json()
        return got["state"], got["result"]

    for name in ("reserve", "start", "stop", "unlock"):
        assert state(name) == ("COMPLETED", "ACCEPTED"), name
    if version == "2.1.1":
        assert answers["cancel"].status_code == 422  # 2.1.1 has no CANCEL_RESERVATION
    else:
        assert state("cancel") == ("COMPLETED", "ACCEPTED")
    assert answers["unknown"].status_code == 404
    records = world.emsp.records()
    assert [c.contract_id for c in records.cdrs] == [driver.contract_id]
    truth = [t for t in world.stations[station_id].truth if t.transaction_id is not None]
    assert len(truth) == 1 and truth[0].energy_wh > 0
    # stopped by STOP_SESSION at minute 20, long before the EV would be full
    ended = truth[0].unplugged_at
    assert ended is not None and start + timedelta(minutes=20) <= ended < start + timedelta(minutes=21)


@pytest.mark.parametrize("version", ["2.1.1", "2.3.0"])
def test_cdr_provenance_on_the_contract_api(tmp_path: Path, version: str) -> None:
    """Issue 8 acceptance: each stored CDR shows the version it came under, its validation, the
    tariff versions at session start, session end and receipt, its idempotency key and the
    invoice lines it produced."""
    seen = _run_app_start(tmp_path, version, "1.6")
    (cdr,) = seen["records"].cdrs
    (line,) = seen["records"].invoice_lines
    world_client = seen["client"]
    path = f"/cdrs/{cdr.party.country_code}/{cdr.party.party_id}/{cdr.cdr_id}/provenance"
    got = world_client.get(path, headers=ADMIN).json()
    assert got["ocpi_version"] == version
    assert got["validation"] == {"outcome": "valid", "notes": []}
    assert got["idempotency_key"] == f"cdr:{cdr.party.key()}:{cdr.cdr_id}"
    assert [item["line_no"] for item in got["invoice_lines"]] == [line.line_no]
    refs = got["tariffs"]
    assert set(refs) == {"session_start", "session_end", "cdr_received"}
    for instant in refs.values():  # the CPO pushed its one tariff before any session
        assert [r["tariff_id"] for r in instant] == ["STD"]
        assert instant[0]["version_id"] is not None and instant[0]["last_updated"] is not None
    assert world_client.get(path.replace(cdr.cdr_id, "NO-SUCH-CDR"), headers=ADMIN).status_code == 404
