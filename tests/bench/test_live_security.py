"""Security profiles per station in a live scenario: profile 1, 2 and 3 stations (and one without)
connect to their mock CSMS with credentials made at run time; a station presenting a wrong password or
a certificate for another station is refused at the handshake, and the run stops as a fault of the
bench (exit 3), never graded as the eMSP's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import bench.runtime.live_run as live_run
from bench.cli import app
from bench.ocpp_security import ensure_certs
from bench.runner import run_scenario
from bench.runtime.live import LiveRuntimeError
from bench.runtime.live_security import LiveSecurity, make_security

pytestmark = [pytest.mark.xdist_group("live"), pytest.mark.slow]
TARIFF = Path(__file__).resolve().parents[2] / "scenarios" / "tariffs" / "standard.json"
STATIONS: list[dict[str, Any]] = [
    {"id": "S-P1", "ocpp": "1.6", "security_profile": 1},
    {"id": "S-P2", "ocpp": "2.0.1", "security_profile": 2},
    {"id": "S-P3", "ocpp": "1.6", "security_profile": 3},
    {"id": "S-NONE", "ocpp": "2.0.1"},
]


def scenario_file(tmp_path: Path) -> Path:
    scenario: dict[str, Any] = {
        "name": "secure-stations",
        "seed": 2,
        "duration_minutes": 30,
        "settle_minutes": 10,
        "cpos": [
            {
                "id": "cpo-a",
                "country_code": "DE",
                "party_id": "CPA",
                "tariffs": {"STD": str(TARIFF)},
                "locations": [{"id": "L1", "tariff": "STD", "stations": STATIONS}],
            }
        ],
        "demand": {"drivers": 8, "unknown_tokens": 0, "arrivals_per_hour": 12, "patience_minutes": 0},
    }
    path = tmp_path / "secure.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def test_profile_1_2_and_3_stations_connect(tmp_path: Path) -> None:
    outcome = run_scenario(str(scenario_file(tmp_path)), runtime="live", speed=600, out=tmp_path / "r")
    booted = set()
    for line in (tmp_path / "r" / "trace.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "BootNotification" in record.get("frame", ""):
            booted.add(record["src"])
    assert booted >= {s["id"] for s in STATIONS}
    assert outcome.exit_code == 0, outcome.summary["expectations"]


def _sabotaged(tmp_path: Path, how: str) -> Any:
    def make(scenario: Any, certs_dir: Path, host: str = "127.0.0.1") -> LiveSecurity | None:
        security = make_security(scenario, certs_dir, host)
        assert security is not None and security.files is not None
        if how == "password":
            security.presented["S-P1"] = "Not-the-right-password-0123"
        else:  # a genuine certificate of our CA, but for another station
            ensure_certs(security.files.directory, stations=["SOMEONE-ELSE"])
            security.client_certs["S-P3"] = security.files.client("SOMEONE-ELSE")
        return security

    return make


@pytest.mark.parametrize(
    ("how", "station", "status"), [("password", "S-P1", 401), ("certificate", "S-P3", 403)]
)
def test_wrong_credentials_are_a_bench_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str, station: str, status: int
) -> None:
    monkeypatch.setattr(live_run, "make_security", _sabotaged(tmp_path, how))
    with pytest.raises(
        LiveRuntimeError, match=f"station {station} was refused by its mock CSMS \\(HTTP {status}"
    ):
        run_scenario(str(scenario_file(tmp_path)), runtime="live", speed=600, out=tmp_path / "r")
    args = [
        "run",
        str(scenario_file(tmp_path)),
        "--runtime",
        "live",
        "--out",
        str(tmp_path / "c"),
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "a fault of the bench" in result.output and station in result.output
