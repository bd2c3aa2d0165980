"""A live run says where it listens (stderr and endpoints.json), and fixed ports (`--csms-port`,
`ports:` in the scenario) let a real box be configured before the run starts."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.cli import app

pytestmark = [pytest.mark.xdist_group("live"), pytest.mark.slow]
TARIFF = Path(__file__).resolve().parents[2] / "scenarios" / "tariffs" / "standard.json"


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [int(sock.getsockname()[1]) for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def scenario_file(tmp_path: Path, ports: dict[str, Any]) -> Path:
    scenario = {
        "name": "endpoints",
        "duration_minutes": 20,
        "settle_minutes": 10,
        "ports": ports,
        "cpos": [
            {
                "id": cid,
                "country_code": "DE",
                "party_id": party,
                "tariffs": {"STD": str(TARIFF)},
                "locations": [
                    {
                        "id": f"L-{cid}",
                        "tariff": "STD",
                        "stations": [
                            {
                                "id": f"S-{cid}",
                                "ocpp": "1.6",
                                **({"security_profile": 2} if cid == "cpo-b" else {}),
                            }
                        ],
                    }
                ],
            }
            for cid, party in (("cpo-a", "CPA"), ("cpo-b", "CPB"))
        ],
        "demand": {"drivers": 4, "unknown_tokens": 0, "arrivals_per_hour": 12, "patience_minutes": 0},
        "expect_sessions": False,
    }
    path = tmp_path / "endpoints.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def test_a_live_run_prints_and_writes_its_endpoints_on_fixed_ports(tmp_path: Path) -> None:
    csms, ocpi_a, emsp = _free_ports(3)
    if abs(csms - ocpi_a) == 1 or abs(csms - emsp) == 1:
        pytest.skip("the system's free ports are adjacent: --csms-port N+1 would collide")
    path = scenario_file(tmp_path, {"emsp": emsp, "cpos": {"cpo-a": {"ocpi": ocpi_a}}})
    out = tmp_path / "run"
    args = [
        "run",
        str(path),
        "--runtime",
        "live",
        "--csms-port",
        str(csms),
        "--out",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    found = json.loads((out / "endpoints.json").read_text(encoding="utf-8"))
    assert found["emsp"] == {"versions_url": f"http://127.0.0.1:{emsp}/ocpi/versions"}
    a, b = found["cpos"]["cpo-a"], found["cpos"]["cpo-b"]
    assert a == {
        "csms_url": f"ws://127.0.0.1:{csms}/ocpp/",
        "ocpi_versions_url": f"http://127.0.0.1:{ocpi_a}/ocpi/versions",
    }
    assert b["csms_url"] == f"ws://127.0.0.1:{csms + 1}/ocpp/"
    assert b["csms_tls_url"].startswith("wss://127.0.0.1:")  # its station is of profile 2
    assert f"cpo-a: CSMS ws://127.0.0.1:{csms}/ocpp/<station id>" in result.output
    assert f"eMSP OCPI versions: http://127.0.0.1:{emsp}/ocpi/versions" in result.output


def test_a_taken_fixed_port_is_invalid_input(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        path = scenario_file(tmp_path, {"cpos": {"cpo-b": {"csms": port}}})
        result = CliRunner().invoke(
            app, ["run", str(path), "--runtime", "live", "--out", str(tmp_path / "r")]
        )
    assert result.exit_code == 2, result.output
    assert "ports.cpos.cpo-b.csms: cannot listen on 127.0.0.1" in result.output
    assert not (tmp_path / "r").exists()  # refused before the run directory was touched
    bad = CliRunner().invoke(app, ["run", str(path), "--runtime", "sim", "--csms-port", "9000"])
    assert bad.exit_code == 2 and "--csms-port" in bad.output
    dup = scenario_file(tmp_path, {"emsp": 9100, "cpos": {"cpo-a": {"csms": 9100}}})
    assert CliRunner().invoke(app, ["run", str(dup)]).exit_code == 2
