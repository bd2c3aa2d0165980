"""`emsp-bench serve csms` as a user runs it: invalid input exits 2 naming file, field and reason;
`--exercise` surveys a booted station (here the bench's own virtual station over a real socket)."""

from __future__ import annotations

import asyncio
import re
import socket
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.serve_csms import CsmsService, run_csms_service
from bench.serve_csms_config import CsmsServiceConfig
from bench.serve_csms_exercise import STEPS
from bench.station_link import StationLink
from simulators.ocppj import OcppVersion, codec
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("heartbeat_interval_s: -1\n", "heartbeat_interval_s", "greater than or equal to 0"),
        ("stations: {unknown: maybe}\n", "stations.unknown", "'accept', 'accept_listed' or 'reject'"),
        ("authorization: {mode: local_list, tokens: 7}\n", "authorization.tokens", "valid list"),
        ("call_timeout: 3\n", "call_timeout", "Extra inputs are not permitted"),
        ("local_list: {per_message: 0}\n", "local_list.per_message", "greater than or equal to 1"),
        (f"local_list: {{tokens: [{'T' * 37}]}}\n", "local_list.tokens.0", "at most 36 characters"),
        ("- just\n- a list\n", "(top level)", "must be a mapping"),
        ("a: [\n", "(file)", "not YAML"),
    ],
)
def test_invalid_config_exits_2_naming_file_field_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "csms.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["serve", "csms", "--config", str(path), "--port", "0"])
    assert result.exit_code == 2
    assert f"{path}: {field}: " in result.output and reason in result.output, result.output


@pytest.mark.parametrize(
    ("tokens", "reason"), [(["OK", "T" * 37], "at most 36 characters"), ([""], "at least 1 character")]
)
def test_authorization_tokens_are_id_tokens_as_the_local_lists_are(
    tmp_path: Path, tokens: list[str], reason: str
) -> None:
    # Checked on the loader, not through `serve csms`: an accepted config would start serving.
    from bench.serve_csms_config import CsmsConfigError, load_csms_config

    path = tmp_path / "csms.yaml"
    config = {"authorization": {"mode": "local_list", "tokens": tokens}, "local_list": {"push_on_boot": True}}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    field = f"authorization.tokens.{len(tokens) - 1}"
    with pytest.raises(CsmsConfigError, match=f"{re.escape(str(path))}: {re.escape(field)}: .*{reason}"):
        load_csms_config(path)


def test_missing_config_file_and_taken_port_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "csms", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml: --config: " in result.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "csms", "--port", str(port)])
    assert result.exit_code == 2 and "--port: cannot listen" in result.output


def test_an_environment_value_that_is_not_json_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMSP_CSMS_STATIONS", "notjson")  # a list field: its override must be JSON
    result = CliRunner().invoke(app, ["serve", "csms", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "environment: EMSP_CSMS_STATIONS: not valid JSON" in result.output
    monkeypatch.delenv("EMSP_CSMS_STATIONS")
    monkeypatch.setenv("EMSP_CSMS_STATIONS__LISTED", "notjson")  # nested: the variable set is named
    result = CliRunner().invoke(app, ["serve", "csms", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "environment: EMSP_CSMS_STATIONS__LISTED: not valid JSON" in result.output


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.serve_csms_config import load_csms_config

    path = tmp_path / "csms.yaml"
    path.write_text("heartbeat_interval_s: 60\nauthorization: {mode: local_list}\n", encoding="utf-8")
    monkeypatch.setenv("EMSP_CSMS_HEARTBEAT_INTERVAL_S", "120")
    config = load_csms_config(path)
    assert config.heartbeat_interval_s == 120 and config.authorization.mode == "local_list"


@pytest.mark.parametrize(
    ("local_list", "pushed"),
    [
        ({}, None),  # no policy: nothing pushed
        ({"push_on_boot": True}, ["T-1", "T-2"]),  # the local_list authorization mode's tokens
        ({"push_on_boot": True, "tokens": ["W-1"]}, ["W-1"]),  # its own whitelist
        ({"push_on_boot": False, "tokens": ["W-1"]}, None),
    ],
)
def test_local_list_policy_chooses_what_is_pushed(
    local_list: dict[str, object], pushed: list[str] | None
) -> None:
    from bench.serve_csms_config import CsmsServiceConfig

    config = CsmsServiceConfig.model_validate(
        {"authorization": {"mode": "local_list", "tokens": ["T-1", "T-2"]}, "local_list": local_list}
    )
    assert config.local_list_tokens() == pushed


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_exercise_payloads_are_schema_valid(version: OcppVersion) -> None:
    from bench.serve_csms_exercise import Context

    for action, build in STEPS[version]:
        codec(version).encode_call("x", action, build(Context("1")))  # raises when invalid


@pytest.mark.slow
@pytest.mark.xdist_group("sockets")
@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_exercise_surveys_a_booted_station(version: OcppVersion) -> None:
    async def main() -> dict[str, str]:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        service = CsmsService(CsmsServiceConfig(call_timeout_s=5), exercise=True)
        ready = asyncio.Event()
        server = asyncio.ensure_future(run_csms_service(service, sock, on_ready=ready.set))
        await ready.wait()
        kind = Station16 if version == "1.6" else Station201
        station = kind("EX-1", connectors=1, max_power_kw=Decimal(11), call_timeout_s=10)
        link = StationLink(station, f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp/EX-1")
        stop = asyncio.Event()
        running = asyncio.ensure_future(link.run(stop, backoff_s=0.2))
        record = None
        async with asyncio.timeout(30):
            while record is None or len(record.calls) < len(STEPS[version]):
                await asyncio.sleep(0.05)
                record = service.records.get("EX-1")
        stop.set()
        await running
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        sock.close()
        return {f"{c['action']}": (c.get("result") or {}).get("status", "answered") for c in record.calls}

    answers = asyncio.run(main())
    assert set(answers) == {action for action, _b in STEPS[version]}
    # The bench's own station supports every call of the survey: nothing NotSupported or refused.
    assert "Rejected" not in answers.values() and "NotSupported" not in answers.values(), answers


def test_the_control_api_wants_its_token_when_one_is_configured() -> None:
    import asyncio

    import httpx

    from bench.serve_csms import CsmsService, create_csms_app
    from bench.serve_csms_config import CsmsServiceConfig

    app = create_csms_app(CsmsService(CsmsServiceConfig(api_token="s3cret-token-1")))

    async def statuses() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://csms") as client:
            answers = [
                await client.get("/api/v1/stations"),
                await client.get("/api/v1/stations", headers={"Authorization": "Bearer s3cret-token-2"}),
                await client.get("/api/v1/stations", headers={"Authorization": "Bearer s3cret-token-1"}),
                await client.post(
                    "/api/v1/stations/CP-1/calls/Reset", json={}, headers={"Authorization": "s3cret-token-1"}
                ),
            ]
        return [answer.status_code for answer in answers]

    assert asyncio.run(statuses()) == [401, 401, 200, 401]


def test_the_station_record_shows_upkeep_jobs_and_reported_values() -> None:
    from datetime import UTC, datetime

    from bench.serve_csms import CsmsService, StationRecord
    from bench.serve_csms_config import CsmsServiceConfig
    from simulators.cpo.events import DeviceModelReported, UpkeepStatus

    service = CsmsService(CsmsServiceConfig())
    service.records["LC-1"] = StationRecord("LC-1", "2.0.1")
    at = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    for status in ("Downloading", "Published"):
        location = ("http://LC-1.local/firmware/fw-3",) if status == "Published" else ()
        service._note(UpkeepStatus("LC-1", "publish", status, 9, at, location))
    service._note(DeviceModelReported("LC-1", 3, (("OCPPCommCtrlr/HeartbeatInterval", "300"),), False, at))
    detail = service.records["LC-1"].detail()
    assert detail["upkeep"] == {
        "publish": {"status": "Published", "at": "2024-05-01T08:00:00Z", "request_id": 9,
                    "location": ["http://LC-1.local/firmware/fw-3"]}
    }  # fmt: skip
    assert detail["device_model"] == {"OCPPCommCtrlr/HeartbeatInterval": "300"}


@pytest.mark.parametrize(
    ("version", "action", "status"),
    [
        ("1.6", "Heartbeat", 422),
        ("1.6", "StartTransaction", 422),
        ("2.0.1", "Heartbeat", 422),
        ("2.0.1", "TransactionEvent", 422),
        ("1.6", "Teleport", 422),
        ("1.6", "ClearCache", 409),  # CSMS-initiated: passes the check, then meets the disconnected station
        ("2.0.1", "ClearCache", 409),
    ],
)
def test_the_control_api_sends_only_csms_initiated_actions(
    version: OcppVersion, action: str, status: int
) -> None:
    import httpx

    from bench.serve_csms import CsmsService, StationRecord, create_csms_app

    service = CsmsService(CsmsServiceConfig())
    service.records["CP-1"] = StationRecord("CP-1", version)
    app = create_csms_app(service)

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://csms"
        ) as client:
            if status == 409:
                service.records["CP-1"].connected = False
            return await client.post(f"/api/v1/stations/CP-1/calls/{action}", json={})

    answer = asyncio.run(post())
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["detail"] == f"{action} is not a CSMS-initiated action of OCPP {version}"


@pytest.mark.parametrize(
    ("mode", "token", "accepted"),
    [
        ("local_list", "T-1", True),
        ("local_list", "t-1", True),
        ("local_list", "T-3", False),
        ("accept_all", "T-3", True),
    ],
)
def test_local_list_mode_authorizes_listed_tokens_whatever_their_case(
    mode: str, token: str, accepted: bool
) -> None:
    config = CsmsServiceConfig.model_validate({"authorization": {"mode": mode, "tokens": ["T-1", "T-2"]}})
    assert config.authorizes(token) is accepted
