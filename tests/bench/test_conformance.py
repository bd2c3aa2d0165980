"""`emsp-bench conformance ocpp` in CI: both roles, both versions, against the bench's own peers —
the CSMS role against `serve csms` (CsmsService), the station role with a virtual station connecting
to the bench — asserting the JUnit case counts and that every case passes."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.conformance.cases import CASES, cases_for
from bench.serve_csms import CsmsService, run_csms_service
from bench.serve_csms_config import CsmsServiceConfig
from bench.station_link import StationLink
from simulators.ocppj import codec
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

pytestmark = [pytest.mark.xdist_group("sockets"), pytest.mark.slow]
COUNTS = {("1.6", "csms"): 15, ("1.6", "station"): 33, ("2.0.1", "csms"): 19, ("2.0.1", "station"): 41}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _junit(path: Path) -> tuple[list[str], int]:
    root = ET.parse(path).getroot()
    cases = root.iter("testcase")
    names, bad = [], 0
    for case in cases:
        names.append(case.get("name", "").split()[0])
        bad += len(list(case.iter("failure"))) + len(list(case.iter("error")))
    return names, bad


def test_case_ids_are_unique_and_counted() -> None:
    ids = [(c.version, c.id) for c in CASES]
    assert len(ids) == len(set(ids))
    assert {k: len(cases_for(*k)) for k in COUNTS} == COUNTS
    assert all(c.id.endswith("_CSMS" if c.sut == "csms" else "_CS") for c in CASES)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_station_cases_run_boot_first_and_the_rebooting_firmware_update_last(version: str) -> None:
    actions = [c.messages[0][0] for c in cases_for(version, "station")]
    assert actions[0] == "BootNotification" and actions[-1] == "UpdateFirmware"
    assert actions.index("Reset") < actions.index("SendLocalList")  # the core cases come first


def test_ids_are_official_or_say_they_name_a_requirement() -> None:
    # OCA ids in the official shapes (1.6 TC_nnn[_n], 2.0.1 TC_X_nn); any other case is REQ_... and its
    # docstring says it is named after the requirement.
    official = {"1.6": r"TC_\d{3}(_\d)?_(CS|CSMS)", "2.0.1": r"TC_[A-P]_\d{2}_(CS|CSMS)"}
    for c in CASES:
        if c.id.startswith("REQ_"):
            assert "named after the requirement" in c.note.lower(), c.id
        else:
            assert re.fullmatch(official[c.version], c.id), c.id


def test_coverage_table_comes_from_the_registries() -> None:
    result = CliRunner().invoke(app, ["conformance", "ocpp", "--coverage"])
    assert result.exit_code == 0
    assert "| 1.6 | RemoteStartTransaction | CSMS → station | answers |" in result.output
    assert "| 2.0.1 | TransactionEvent | station → CSMS | sends | handles |" in result.output
    assert (
        "| 2.0.1 | GetReport | CSMS → station | answers | sends (--exercise, control API) | REQ_B08"
        in result.output
    )
    assert (
        "| 1.6 | SendLocalList | CSMS → station | answers | sends (local_list policy, control API) |"
        in result.output
    )


@pytest.fixture
def serve_csms() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ready, stop = threading.Event(), threading.Event()
    config = CsmsServiceConfig.model_validate(
        {
            "authorization": {"mode": "local_list", "tokens": ["CONF-OK"]},
            "local_list": {"push_on_boot": True},  # the CSMS role's local list cases wait for it
        }
    )

    async def main() -> None:
        server = asyncio.ensure_future(run_csms_service(CsmsService(config), sock, on_ready=ready.set))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(20)
    yield f"ws://127.0.0.1:{sock.getsockname()[1]}/ocpp"
    stop.set()
    thread.join(20)
    sock.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_csms_role_against_serve_csms(tmp_path: Path, serve_csms: str, version: str) -> None:
    junit = tmp_path / "junit.xml"
    args = ["conformance", "ocpp", "--role", "csms", "--version", version, "--target", serve_csms,
            "--junit", str(junit), "--token", "CONF-OK"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    names, bad = _junit(junit)
    assert names == [c.id for c in cases_for(version, "csms")] and len(names) == COUNTS[(version, "csms")]
    assert bad == 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_station_role_against_a_virtual_station(tmp_path: Path, version: str) -> None:
    port, junit = _free_port(), tmp_path / "junit.xml"
    outcome: dict[str, object] = {}

    def conformance() -> None:
        args = ["conformance", "ocpp", "--role", "station", "--version", version,
                "--target", f"ws://127.0.0.1:{port}/ocpp", "--junit", str(junit), "--wait", "30"]  # fmt: skip
        outcome["result"] = CliRunner().invoke(app, args)

    thread = threading.Thread(target=conformance, daemon=True)
    thread.start()

    async def station() -> None:
        kind = Station16 if version == "1.6" else Station201
        virtual = kind("CONF-VS", connectors=2, max_power_kw=Decimal(11), call_timeout_s=10)
        link = StationLink(virtual, f"ws://127.0.0.1:{port}/ocpp/CONF-VS")
        stop = asyncio.Event()
        running = asyncio.ensure_future(link.run(stop, backoff_s=0.2))
        while thread.is_alive():
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(running, 20)

    asyncio.run(station())
    result = outcome["result"]
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    names, bad = _junit(junit)
    assert (
        names == [c.id for c in cases_for(version, "station")] and len(names) == COUNTS[(version, "station")]
    )
    assert bad == 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_case_payloads_are_schema_valid_where_static(version: str) -> None:
    # The codec validates every frame we send; a smoke check that the harness's codec is the strict one.
    with pytest.raises(Exception, match=r"BootNotification|chargePoint|required"):
        codec(version).encode_call("x", "BootNotification", {})  # type: ignore[arg-type]


def test_invalid_input_exits_2() -> None:
    for args, named in (
        (["--role", "judge", "--version", "1.6", "--target", "ws://x/ocpp"], "--role"),
        (["--role", "csms", "--version", "1.5", "--target", "ws://x/ocpp"], "--version"),
        (["--role", "csms", "--version", "1.6", "--target", "http://x/ocpp"], "--target"),
    ):
        result = CliRunner().invoke(app, ["conformance", "ocpp", *args])
        assert result.exit_code == 2 and named in result.output, result.output


def test_a_station_target_the_bench_cannot_listen_on_is_invalid_input_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        in_use = f"ws://127.0.0.1:{busy.getsockname()[1]}/ocpp"
        for target, reason in (
            (in_use, "in use"),
            ("ws://192.0.2.1:19300/ocpp", "assign"),  # TEST-NET-1 (RFC 5737): no address of this host
            ("ws://127.0.0.1:99999/ocpp", "out of range"),
        ):
            args = ["conformance", "ocpp", "--role", "station", "--version", "1.6", "--target", target]
            result = CliRunner().invoke(app, [*args, "--wait", "3"])
            assert result.exit_code == 2, (target, result.output)
            assert "invalid input: --target:" in result.output and reason in result.output, result.output


def test_nothing_to_talk_to_exits_3(tmp_path: Path) -> None:
    target = f"ws://127.0.0.1:{_free_port()}/ocpp"
    result = CliRunner().invoke(
        app, ["conformance", "ocpp", "--role", "csms", "--version", "1.6", "--target", target]
    )
    assert result.exit_code == 3 and "cannot connect" in result.output


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_csms_initiated_registry_is_the_versions_csms_to_station_messages(version: str) -> None:
    # Every message of the version's schemas goes one way, but DataTransfer goes both ways.
    import ocpp

    from bench.conformance.coverage import STATIONS, csms_initiated

    schemas = Path(ocpp.__file__).parent / ("v16" if version == "1.6" else "v201") / "schemas"
    actions = {
        p.stem.removesuffix("Request") for p in schemas.glob("*.json") if not p.stem.endswith("Response")
    }
    down = csms_initiated(version)  # type: ignore[arg-type]
    up = set(STATIONS[version].sends)  # type: ignore[index]
    assert down <= actions and down & up == set()
    assert "Heartbeat" not in down and "DataTransfer" in down
    # The station-initiated rest: 2.0.1 messages the virtual station never sends (spec part 2, K/M).
    unsent = {"ClearedChargingLimit", "Get15118EVCertificate", "GetCertificateStatus", "NotifyChargingLimit",
              "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "NotifyEvent"}  # fmt: skip
    assert actions - down - up == (set() if version == "1.6" else unsent)


@pytest.mark.parametrize(
    ("answer", "reported"),
    [
        ("hello not json", "invalid frame from the peer"),
        ('[3, "b1", {"currentTime": 7}]', "invalid frame from the peer"),  # its answer, schema-invalid
        (b"\x00binary", "binary WebSocket frame"),
        (None, "closed the connection"),
    ],
)
def test_a_call_fails_at_once_when_the_peer_answers_it_with_an_invalid_frame(
    answer: str | bytes | None, reported: str
) -> None:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    from bench.conformance.peer import CaseFailed, Peer

    async def garbage(ws: ServerConnection) -> None:
        async for _frame in ws:
            if answer is None:
                await ws.close()
                return
            await ws.send(answer)

    async def main() -> str:
        async with serve(garbage, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            peer = Peer(await connect(f"ws://127.0.0.1:{port}"), "1.6", plays="station")
            try:
                # The timeout is never reached when the fix holds; before it, the call waited it out.
                await peer.call("Heartbeat", {}, timeout=20)
            except CaseFailed as exc:
                return str(exc)
            finally:
                await peer.close()
        return "answered"

    message = asyncio.run(main())
    assert message.startswith("Heartbeat: ") and reported in message, message


@pytest.mark.parametrize(
    "frame",
    [
        "hello not json",  # may be anything: a CALL gets its answer
        '[2, 42, "Heartbeat", {}]',  # a CALL whose id is no string
        '[2, "", "Heartbeat", {}]',  # an empty id
        "[2]",  # too short to read an id
        '[3, 42, {"currentTime": "2026-03-02T07:00:00Z"}]',  # plainly an answer: never answered
        '[2, "s9", "Heartbeat", {"x": 1}]',  # id readable: the CALLERROR names it
    ],
)
def test_the_conformance_peer_answers_an_invalid_frame_as_the_mock_csms_and_station_do(frame: str) -> None:
    # The peer used to answer only frames whose id it could read; an unreadable CALL went
    # unanswered, unlike the mock CSMS and the virtual station (the shared Endpoint).
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    from bench.conformance.peer import Peer
    from simulators.ocppj.endpoint import Endpoint

    probe = '[2, "s1", "GetLocalListVersion", {}]'  # answered in order: whatever came first was for `frame`
    back: list[str] = []

    async def csms(ws: ServerConnection) -> None:
        await ws.send(frame)
        await ws.send(probe)
        async for text in ws:
            assert isinstance(text, str)
            back.append(text)
            if text.startswith('[3, "s1"') or text.startswith('[3,"s1"'):
                return

    async def main() -> None:
        async with serve(csms, "127.0.0.1", 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            peer = Peer(await connect(f"ws://127.0.0.1:{port}"), "1.6", plays="station")
            try:
                await peer.expect("GetLocalListVersion", timeout=20)
                while not back or "s1" not in back[-1]:
                    await asyncio.sleep(0.01)
            finally:
                await peer.close()

    asyncio.run(main())
    expected = list(Endpoint("CS-1", "1.6").receive(frame).replies)  # what the mock CSMS answers
    assert back[:-1] == expected
    if frame.startswith("[3"):
        assert expected == []
    else:
        [reply] = expected
        assert codec("1.6").decode(reply, pending={}).unique_id == ("s9" if "s9" in frame else "-1")
