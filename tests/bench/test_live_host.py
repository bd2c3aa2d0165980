"""A live run's `ports.host` that this machine cannot listen on is invalid input (exit 2 naming
ports.host), found before the run directory is touched, not a bench fault mid-run (exit 3)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from test_live_endpoints import scenario_file
from typer.testing import CliRunner

from bench.cli import app


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("203.0.113.5", "Cannot assign requested address"),  # TEST-NET-3: an address of no machine here
        ("not a host name!", "cannot listen on 'not a host name!'"),
    ],
)
def test_a_host_that_cannot_be_listened_on_is_exit_2_and_the_earlier_run_stays(
    tmp_path: Path, host: str, reason: str
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("{}")  # an earlier run's
    args = ["run", "smoke", "--runtime", "live", "--set", f"ports.host={host}", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "ports.host: " in result.stderr and reason in result.stderr
    assert "IPv4" not in result.stderr  # IPv6 addresses are listened on too
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]


@pytest.mark.slow
@pytest.mark.xdist_group("live")
@pytest.mark.parametrize(
    ("host", "url_host"),
    [
        ("::", "127.0.0.1"),  # every interface, IPv4 included (dual stack): reached on loopback
        ("::1", "[::1]"),  # an IPv6 address: the parties and stations reach it there
    ],
)
def test_an_ipv6_host_is_listened_on(tmp_path: Path, host: str, url_host: str) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    path = scenario_file(tmp_path, {"host": host})
    out = tmp_path / "run"
    args = ["run", str(path), "--runtime", "live", "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    found = json.loads((out / "endpoints.json").read_text(encoding="utf-8"))
    assert found["emsp"]["versions_url"].startswith(f"http://{url_host}:")
    assert found["cpos"]["cpo-b"]["csms_tls_url"].startswith(f"wss://{url_host}:")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["sessions"]["started"] > 0  # stations (plain and TLS) connected and charged
