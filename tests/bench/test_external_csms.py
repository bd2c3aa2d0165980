"""Stations against an external CSMS: a CSMS written with the `ocpp` package (ChargePoint servers for
1.6 and 2.0.1, validating every message) stands in for a real one. It refuses some Authorizes; the
run's summary must count exactly what it answered, and eMSP-side figures are refused up front."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201

from bench.external_csms import WireGrader, outcome_keys, response_outcomes
from bench.ocpp_security import basic_authorization
from bench.runner import run_scenario
from bench.scenario import ScenarioError

PASSWORDS = {"EXT-P1": "Right-password-0123456789", "EXT-BAD": "Right-password-0123456789"}
TARIFF = Path(__file__).resolve().parents[2] / "scenarios" / "tariffs" / "standard.json"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refused(token: str) -> bool:
    """The third-party CSMS's own list: it refuses tokens whose uid ends in 0-7 (about half)."""
    return token[-1] in "01234567"


class Tally:
    def __init__(self) -> None:
        self.answers: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self.transactions = 0

    def add(self, action: str, outcome: str) -> None:
        with self.lock:
            self.answers[(action, outcome)] += 1


class Csms16(ChargePoint16):
    tally: Tally

    @on("BootNotification")
    def on_boot(self, **kw: Any) -> Any:
        self.tally.add("BootNotification", "Accepted")
        return result16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        self.tally.add("Heartbeat", "answered")
        return result16.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **kw: Any) -> Any:
        self.tally.add("StatusNotification", "answered")
        return result16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag: str, **kw: Any) -> Any:
        status = "Invalid" if refused(id_tag) else "Accepted"
        self.tally.add("Authorize", status)
        return result16.Authorize(id_tag_info={"status": status})

    @on("StartTransaction")
    def on_start(self, **kw: Any) -> Any:
        self.tally.add("StartTransaction", "Accepted")
        with self.tally.lock:
            self.tally.transactions += 1
            number = self.tally.transactions
        return result16.StartTransaction(transaction_id=number, id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    def on_meter(self, **kw: Any) -> Any:
        self.tally.add("MeterValues", "answered")
        return result16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **kw: Any) -> Any:
        self.tally.add("StopTransaction", "answered")
        return result16.StopTransaction()


class Csms201(ChargePoint201):
    tally: Tally

    @on("BootNotification")
    def on_boot(self, **kw: Any) -> Any:
        self.tally.add("BootNotification", "Accepted")
        return result201.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    def on_heartbeat(self, **kw: Any) -> Any:
        self.tally.add("Heartbeat", "answered")
        return result201.Heartbeat(current_time=now())

    @on("StatusNotification")
    def on_status(self, **kw: Any) -> Any:
        self.tally.add("StatusNotification", "answered")
        return result201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **kw: Any) -> Any:
        status = "Invalid" if refused(id_token["id_token"]) else "Accepted"
        self.tally.add("Authorize", status)
        return result201.Authorize(id_token_info={"status": status})

    @on("TransactionEvent")
    def on_transaction(self, **kw: Any) -> Any:
        if kw.get("id_token"):
            self.tally.add("TransactionEvent", "Accepted")
            return result201.TransactionEvent(id_token_info={"status": "Accepted"})
        self.tally.add("TransactionEvent", "answered")
        return result201.TransactionEvent()


@pytest.fixture
def third_party_csms() -> Iterator[tuple[str, Tally]]:
    """Both versions at one URL (the subprotocol picks the ChargePoint class), in its own thread."""
    tally, ready, stop = Tally(), threading.Event(), threading.Event()
    where: dict[str, Any] = {}

    async def handler(ws: Any) -> None:
        kind: type[Any] = Csms16 if ws.subprotocol == "ocpp1.6" else Csms201
        cp = kind(ws.request.path.rsplit("/", 1)[-1], ws)
        cp.tally = tally
        with contextlib.suppress(websockets.ConnectionClosed):
            await cp.start()

    def check(connection: Any, request: Any) -> Any:
        """Security profile 1 for the stations it knows a password of: HTTP 401 otherwise."""
        station_id = request.path.rsplit("/", 1)[-1]
        known = PASSWORDS.get(station_id)
        if known is not None and request.headers.get("Authorization") != basic_authorization(
            station_id, known
        ):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "wrong credentials\n")
        return None

    async def main() -> None:
        async with websockets.serve(
            handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1", "ocpp1.6"], process_request=check
        ) as server:
            where["port"] = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield f"ws://127.0.0.1:{where['port']}/ocpp", tally
    stop.set()
    thread.join(10)


def scenario_file(tmp_path: Path, url: str | None, **extra: Any) -> Path:
    scenario = {
        "name": "against-external-csms",
        "seed": 3,
        "duration_minutes": 1,
        "settle_minutes": 0,
        "cpos": [
            {
                "id": "cpo-x",
                "country_code": "DE",
                "party_id": "CPX",
                "tariffs": {"STD": str(TARIFF)},
                **({"csms_url": url} if url else {}),
                "locations": [
                    {
                        "id": "LOC-1",
                        "tariff": "STD",
                        "stations": [
                            {"id": "EXT-16-1", "ocpp": "1.6", "meter_interval_s": 10},
                            {"id": "EXT-16-2", "ocpp": "1.6", "meter_interval_s": 10},
                            {"id": "EXT-201-1", "ocpp": "2.0.1", "meter_interval_s": 10},
                            {"id": "EXT-201-2", "ocpp": "2.0.1", "meter_interval_s": 10},
                            {
                                "id": "EXT-P1",
                                "ocpp": "1.6",
                                "meter_interval_s": 10,
                                "security_profile": 1,
                                "password": "Right-password-0123456789",
                            },
                            {
                                "id": "EXT-BAD",
                                "ocpp": "2.0.1",
                                "meter_interval_s": 10,
                                "security_profile": 1,
                                "password": "Wrong-password-0123456789",
                            },
                        ],
                    }
                ],
            }
        ],
        "demand": {
            "drivers": 30,
            "unknown_tokens": 0,  # the CSMS refuses tokens of its own choosing (refused())
            "arrivals_per_hour": 900,
            "stay_minutes": {"min": "0.1", "max": "0.25"},
            "patience_minutes": 0,
        },
        "expectations": [
            {"name": "stations let in", "metric": "external_csms.stations.connected", "value": 5},
            {"name": "a wrong password refused", "metric": "external_csms.stations.refused", "value": 1},
            {"name": "no CALLERROR", "metric": "external_csms.callerrors", "value": 0},
        ],
        **extra,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")  # JSON is YAML
    return path


def test_outcomes_come_from_the_ocpp_schemas() -> None:
    assert response_outcomes("1.6", "BootNotification") == ("Accepted", "Pending", "Rejected")
    assert "ConcurrentTx" in response_outcomes("1.6", "Authorize")
    assert "NoCredit" in response_outcomes("2.0.1", "Authorize")  # via $ref into definitions
    assert response_outcomes("1.6", "Heartbeat") == ()
    assert outcome_keys(["1.6"], "Heartbeat") == ["answered", "CALLERROR", "unanswered"]


def test_grader_pairs_calls_with_answers_both_ways() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    grader = WireGrader({"S": "1.6"})
    grader.sent("S", '[2,"1","BootNotification",{}]', at)
    grader.received("S", '[3,"1",{"status":"Rejected","interval":5,"currentTime":"x"}]', at)
    grader.sent("S", '[2,"2","Authorize",{"idTag":"A"}]', at)
    grader.received("S", '[4,"2","InternalError","",{}]', at)
    grader.sent("S", '[2,"3","Heartbeat",{}]', at)
    grader.received("S", '[2,"9","Reset",{"type":"Soft"}]', at)
    grader.sent("S", '[3,"9",{"status":"Accepted"}]', at)
    grader.received("S", "not json", at)
    grader.finish()
    assert grader.by_action["BootNotification"]["Rejected"] == 1
    assert grader.by_action["Authorize"]["CALLERROR"] == 1
    assert grader.by_action["Heartbeat"]["unanswered"] == 1
    assert grader.csms_calls == {"Reset": {"Accepted": 1}}
    assert grader.totals() == {
        "calls": 3, "accepted": 0, "refused": 1, "pending": 0, "callerrors": 1, "unanswered": 1,
    }  # fmt: skip
    assert grader.malformed == 1


def test_refused_at_load_time(tmp_path: Path) -> None:
    url = "ws://127.0.0.1:9/ocpp"
    path = scenario_file(tmp_path, url)
    out = tmp_path / "run"
    with pytest.raises(ScenarioError, match="--runtime live"):
        run_scenario(str(path), runtime="sim", out=out)
    with pytest.raises(ScenarioError, match=r"real time \(--speed 1\), not 600"):
        run_scenario(str(path), runtime="live", speed=600, out=out)
    with pytest.raises(ScenarioError, match="not a ws:// or wss:// URL"):
        run_scenario(str(scenario_file(tmp_path, None)), runtime="live", csms_url="http://x/", out=out)
    eMSP_side = [{"metric": "reconciliation.matched", "value": 1}]
    with pytest.raises(ScenarioError, match="eMSP-side figure") as refused_exp:
        run_scenario(str(scenario_file(tmp_path, url, expectations=eMSP_side)), runtime="live", out=out)
    assert refused_exp.value.field == "expectations[0].metric"
    with pytest.raises(ScenarioError, match="not a summary path"):
        bad = [{"metric": "external_csms.nonsense", "value": 1}]
        run_scenario(str(scenario_file(tmp_path, url, expectations=bad)), runtime="live", out=out)
    assert not out.exists()  # invalid input leaves no run directory behind


@pytest.mark.slow
@pytest.mark.xdist_group("sockets")
def test_a_run_against_a_third_party_csms_counts_what_it_answered(
    tmp_path: Path, third_party_csms: tuple[str, Tally]
) -> None:
    url, tally = third_party_csms
    outcome = run_scenario(
        str(scenario_file(tmp_path, None)), runtime="live", csms_url=url, out=tmp_path / "r"
    )
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    ext = summary["external_csms"]
    assert summary["mode"] == "external_csms" and ext["stations"]["connected"] == 5
    assert ext["stations"]["refused"] == 1 and ext["by_station"]["EXT-BAD"]["connections"] == 0
    assert "401" in ext["by_station"]["EXT-BAD"]["last_error"]
    seen = {(a, o): n for a, counts in ext["by_action"].items() for o, n in counts.items() if n}
    assert seen == dict(tally.answers)  # exactly what the CSMS answered, action by action
    refusals = tally.answers[("Authorize", "Invalid")]
    assert refusals > 0 and tally.answers[("Authorize", "Accepted")] > 0
    assert summary["authorizations"] | {"latency_ms": None} == {
        "accepted": tally.answers[("Authorize", "Accepted")], "rejected": refusals, "latency_ms": None,
    }  # fmt: skip
    assert ext["refused"] == refusals and ext["callerrors"] == 0 and ext["unanswered"] == 0
    assert summary["sessions"]["started"] == tally.answers[("Authorize", "Accepted")]
    assert summary["messages"]["ocpp1.6"] > 0 and summary["messages"]["ocpp2.0.1"] > 0
    assert outcome.exit_code == 0, summary["expectations"]
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "What the CSMS answered" in page and "Invalid" in page
    trace = (tmp_path / "r" / "trace.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(trace) == sum(summary["messages"].values())


def test_cli_refuses_an_external_csms_in_sim_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    path = scenario_file(tmp_path, None)
    args = ["run", str(path), "--runtime", "sim", "--csms-url", "ws://127.0.0.1:9/ocpp", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "csms-url" in result.output and "--runtime live" in result.output
    result = CliRunner().invoke(app, [*args[:3], "live", *args[4:], "--speed", "60"])
    assert result.exit_code == 2 and "real time" in result.output


def test_credentials_are_checked_at_load_time(tmp_path: Path) -> None:
    url = "ws://127.0.0.1:9/ocpp"
    path = scenario_file(tmp_path, url)
    raw = json.loads(path.read_text(encoding="utf-8"))
    stations = raw["cpos"][0]["locations"][0]["stations"]
    del stations[4]["password"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ScenarioError, match="security profile 1 needs it") as needs:
        run_scenario(str(path), runtime="live")
    assert needs.value.field == "cpos[0].locations[0].stations[4].password"
    stations[4] |= {"password": "Right-password-0123456789", "security_profile": 2}
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ScenarioError, match="profile 2 needs a wss:// URL"):
        run_scenario(str(path), runtime="live")
    del raw["cpos"][0]["csms_url"]  # the mock CSMS makes its own credentials
    path.write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ScenarioError, match="external CSMS") as own:
        run_scenario(str(path), runtime="sim")
    assert own.value.field.endswith("stations[4].password")
