"""The mock CPO against an external eMSP: `emsp-bench serve emsp` in another process plays the eMSP
under test; the run registers with it, issues the drivers' tokens through its contract API, pushes
sessions and CDRs, and reconciles what it could observe."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.runner import run_scenario
from bench.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[2]
TARIFF = ROOT / "scenarios" / "tariffs" / "standard.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served_emsp(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    config = tmp_path / "emsp.yaml"
    config.write_text(
        f"emsp: {{country_code: NL, party_id: EXT, business_name: External, public_url: http://127.0.0.1:{port}}}\n"
        "admin_token: admin-secret\n"
        "partners:\n"
        "  - {id: cpo-a, token_a: secret-a, parties: [{country_code: DE, party_id: CPA, role: CPO}]}\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMSP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "serve", "emsp", "--config", str(config), "--port", str(port),
         "--database-url", f"sqlite:///{tmp_path / 'emsp.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    versions = proc.stdout.readline().strip()
    listening = proc.stdout.readline().strip()
    assert listening.startswith("listening on "), (versions, listening)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def scenario_file(tmp_path: Path, emsp: dict[str, Any], ocpi: str = "2.2.1", **extra: Any) -> Path:
    scenario = {
        "name": "against-external-emsp",
        "seed": 5,
        "duration_minutes": 30,
        "settle_minutes": 10,
        "emsp": {"country_code": "NL", "party_id": "EXT", **emsp},
        "cpos": [
            {
                "id": "cpo-a",
                "country_code": "DE",
                "party_id": "CPA",
                "ocpi_version": ocpi,
                "tariffs": {"STD": str(TARIFF)},
                "ocpp_link": {"latency_ms": 5},
                "ocpi_link": {"latency_ms": 5},
                "locations": [
                    {
                        "id": "LOC-1",
                        "tariff": "STD",
                        "stations": [{"id": "S-16", "ocpp": "1.6"}, {"id": "S-201", "ocpp": "2.0.1"}],
                    }
                ],
            }
        ],
        "demand": {
            "drivers": 6,
            "unknown_tokens": 1,
            "arrivals_per_hour": 16,
            "stay_minutes": {"min": 5, "max": 10},
            "patience_minutes": 0,
        },
        "expectations": [
            {"name": "registered", "metric": "external_emsp.cpos_registered", "value": 1},
            {
                "name": "every CDR acknowledged",
                "metric": "external_emsp.reconciliation.matched",
                "value": "sessions.completed",
            },
            {"name": "unknown token refused", "metric": "authorizations.rejected", "op": ">=", "value": 1},
        ],
        **extra,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def test_refused_at_load_time(tmp_path: Path) -> None:
    emsp = {"versions_url": "http://127.0.0.1:9/ocpi/versions", "token_a": "secret-a"}
    with pytest.raises(ScenarioError, match="--runtime live"):
        run_scenario(str(scenario_file(tmp_path, emsp)), runtime="sim", out=tmp_path / "r")
    own_records = [{"metric": "reconciliation.matched", "value": 1}]
    with pytest.raises(ScenarioError, match="eMSP's own records"):
        run_scenario(str(scenario_file(tmp_path, emsp, expectations=own_records)), runtime="live")
    with pytest.raises(ScenarioError, match="one token per CPO"):
        run_scenario(str(scenario_file(tmp_path, emsp | {"token_a": {"cpo-z": "x"}})), runtime="live")
    with pytest.raises(ScenarioError, match="both versions_url and token_a"):
        run_scenario(str(scenario_file(tmp_path, {"token_a": "x"})), runtime="live")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_the_mock_cpo_against_a_served_emsp_reconciles_what_it_observes(
    tmp_path: Path, served_emsp: str
) -> None:
    emsp = {
        "versions_url": f"{served_emsp}/ocpi/versions",
        "token_a": "secret-a",
        "admin_url": f"{served_emsp}/api/v1",
        "admin_token": "admin-secret",
    }
    outcome = run_scenario(str(scenario_file(tmp_path, emsp)), runtime="live", speed=120, out=tmp_path / "r")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    ext = summary["external_emsp"]
    assert summary["mode"] == "external_emsp"
    assert ext["tokens"] == {"issued": 6, "already_there": 0, "source": "contract_api", "received": 0}
    assert ext["cpos_registered"] == 1
    assert summary["sessions"]["completed"] > 0
    assert ext["cdrs"]["acknowledged"] == ext["cdrs"]["sent"] == summary["sessions"]["completed"]
    assert ext["reconciliation"]["matched"] == summary["sessions"]["completed"]
    assert summary["authorizations"]["accepted"] == summary["sessions"]["started"]
    assert outcome.exit_code == 0, summary["expectations"]
    assert "Reconciliation" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.xdist_group("live")
def test_without_a_contract_api_drivers_use_the_tokens_the_emsp_gave(
    tmp_path: Path, served_emsp: str
) -> None:
    # The operator issued its own tokens; an OCPI 2.1.1 CPO pulls them after registering.
    import httpx

    admin = {"Authorization": "Bearer admin-secret"}
    for n in range(3):
        body = {"uid": f"OWN{n:05d}", "contract_id": f"NL-EXT-C{n:08d}", "type": "RFID"}
        assert httpx.post(f"{served_emsp}/api/v1/tokens", json=body, headers=admin).status_code == 201
    emsp = {"versions_url": f"{served_emsp}/ocpi/versions", "token_a": "secret-a"}
    path = scenario_file(tmp_path, emsp, ocpi="2.1.1")
    outcome = run_scenario(str(path), runtime="live", speed=120, out=tmp_path / "r")
    ext = outcome.summary["external_emsp"]
    assert ext["tokens"] == {"issued": 0, "already_there": 0, "source": "pushed_by_emsp", "received": 3}
    assert outcome.summary["authorizations"]["accepted"] > 0
    assert ext["reconciliation"]["matched"] == outcome.summary["sessions"]["completed"] > 0
    assert outcome.exit_code == 0, outcome.summary["expectations"]
