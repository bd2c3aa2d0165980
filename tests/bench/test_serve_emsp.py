"""`emsp-bench serve emsp`: configuration validation (exit 2), start-up, restart on the same database."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bench.cli import app

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
emsp: {country_code: NL, party_id: EMS, business_name: Test eMSP, public_url: http://127.0.0.1:9}
admin_token: admin-secret
partners:
  - id: cpo-a
    token_a: secret-a
    parties: [{country_code: DE, party_id: CPA, role: CPO}]
"""
PARTY_B = "[{country_code: FR, party_id: CPB, role: CPO}]"

INVALID = [
    ("emsp: [1, 2", "line", "not valid YAML"),
    ("- just a list", "(root)", "must be a mapping"),
    (GOOD.replace("admin_token: admin-secret", "admin_token: ''"), "admin_token", "at least 1"),
    (GOOD.replace("country_code: NL", "country_code: nl"), "emsp.country_code", "match pattern"),
    (GOOD.replace("public_url: http://127.0.0.1:9", "public_url: ftp://x"), "emsp.public_url", "pattern"),
    (GOOD.replace("role: CPO", "role: BOSS"), "partners[0].parties[0].role", "Input should be"),
    (GOOD.replace("role: CPO", "role: HUB"), "partners[0]", "hub: true"),
    (GOOD.replace("token_a: secret-a", "token_a: secret-a\n    colour: red"), "partners[0].colour", "Extra"),
    (GOOD + "  - {id: cpo-a, token_a: other, parties: " + PARTY_B + "}\n", "partners[1].id", "twice"),
    (GOOD + "  - {id: cpo-b, token_a: secret-a, parties: " + PARTY_B + "}\n", "partners[1].token_a", "token"),
    (
        GOOD + "  - {id: cpo-b, token_a: t2, parties: [{country_code: DE, party_id: CPA, role: EMSP}]}\n",
        "partners[1].parties",
        "already configured for partner 'cpo-a'",
    ),
    (GOOD.replace("    parties: [{country_code: DE, party_id: CPA, role: CPO}]", "    parties: []"),
     "partners[0].parties", "at least 1"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field", "reason"), INVALID)
def test_an_invalid_config_exits_2_naming_file_field_and_reason(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["serve", "emsp", "--config", str(config), "--port", "0"])
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(f"invalid input: {config}: {field}"), message
    assert reason in message, message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--port", "99999"], "--port"),  # was OverflowError from bind(): a traceback and exit 1
        (["--port", "-1"], "--port"),
        (["--host", "no-such-host.invalid", "--port", "0"], "--port: cannot listen on no-such-host.invalid"),
    ],
)
def test_an_unusable_address_exits_2_naming_the_option(
    tmp_path: Path, options: list[str], named: str
) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    result = CliRunner().invoke(
        app, ["serve", "emsp", "--config", str(config), "--database-url", "sqlite://", *options]
    )
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output


def test_a_taken_port_exits_2_before_touching_the_database(tmp_path: Path) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    database = tmp_path / "emsp.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(
            app,
            [
                "serve",
                "emsp",
                "--config",
                str(config),
                "--database-url",
                f"sqlite:///{database}",
                "--port",
                port,
            ],
        )
    assert result.exit_code == 2 and "--port: cannot listen" in result.output, result.output
    assert not database.exists()  # no partner upserted behind a running instance's back


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "emsp", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "nope.yaml: (file)" in result.output


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from emsp.service.config import load_config

    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    monkeypatch.setenv("EMSP_ADMIN_TOKEN", "from-env")
    monkeypatch.setenv("EMSP_DATABASE_URL", "sqlite:///x.db")
    loaded = load_config(config)
    assert (loaded.admin_token, loaded.database_url) == ("from-env", "sqlite:///x.db")


def test_an_environment_value_that_is_not_json_exits_2_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    monkeypatch.setenv("EMSP_PARTNERS", "notjson")  # a list field: its override must be JSON
    result = CliRunner().invoke(app, ["serve", "emsp", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "environment: EMSP_PARTNERS: not valid JSON" in result.output


class _Cpo(BaseHTTPRequestHandler):
    """A CPO's versions and 2.2.1 details (what the eMSP fetches before answering credentials)."""

    def _port(self) -> int:
        assert isinstance(self.server, HTTPServer)  # the fixture's (typed as any socketserver)
        return self.server.server_port

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self._port()}/ocpi"
        data: Any = (
            [{"version": "2.2.1", "url": f"{base}/2.2.1"}]
            if self.path.endswith("/versions")
            else {"version": "2.2.1", "endpoints": [{"identifier": "locations", "role": "SENDER",
                                                     "url": f"{base}/2.2.1/locations"},
                                                    {"identifier": "credentials", "role": "RECEIVER",
                                                     "url": f"{base}/2.2.1/credentials"}]}
        )  # fmt: skip
        self._answer(data)

    def do_POST(self) -> None:
        """Our registration as Sender: the CPO answers with its credentials (for party FR/CPB)."""
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        role = {"role": "CPO", "business_details": {"name": "B"}, "party_id": "CPB", "country_code": "FR"}
        port = self._port()
        self._answer({"token": "their-c", "url": f"http://127.0.0.1:{port}/ocpi/versions", "roles": [role]})

    def _answer(self, data: Any) -> None:
        body = json.dumps({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cpo() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Cpo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ocpi/versions"
    server.shutdown()


def _start(config: Path, db: str, options: list[str] | None = None) -> tuple[subprocess.Popen[str], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMSP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", "serve", "emsp", "--config", str(config), "--port", "0",
         "--database-url", db, *(options or [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    versions = proc.stdout.readline().strip()
    listening = proc.stdout.readline().strip()
    if not listening.startswith("listening on "):
        proc.kill()
        raise AssertionError(f"{versions} {listening} {proc.stderr.read() if proc.stderr else ''}")
    return proc, versions, listening.split()[2]


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def _token(value: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(value.encode()).decode()}


@pytest.mark.xdist_group("live")
def test_serve_starts_answers_health_and_keeps_registrations_across_a_restart(
    tmp_path: Path, cpo: str
) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    db = f"sqlite:///{tmp_path / 'emsp.db'}"
    admin = {"Authorization": "Bearer admin-secret"}
    proc, versions, base = _start(config, db)
    try:
        assert versions == "OCPI versions: http://127.0.0.1:9/ocpi/versions"
        assert httpx.get(f"{base}/api/v1/health", headers=admin).json()["status"] == "ok"
        assert httpx.get(f"{base}/api/v1/health").status_code == 401
        assert httpx.get(f"{base}/api/v1/health/ready").json() == {"status": "ok"}  # a load balancer
        assert httpx.get(f"{base}/metrics").status_code == 401
        role = {"role": "CPO", "business_details": {"name": "A"}, "party_id": "CPA", "country_code": "DE"}
        creds = {"token": "token-b", "url": cpo, "roles": [role]}
        resp = httpx.post(
            f"{base}/ocpi/2.2.1/credentials", json=creds, headers=_token("secret-a"), timeout=30
        )
        assert resp.json()["status_code"] == 1000, resp.text
        token_c = resp.json()["data"]["token"]
    finally:
        _stop(proc)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read() == ""  # the two start-up lines only: the core's logs were on stdout
    logged = [json.loads(line) for line in proc.stderr.read().splitlines() if line.startswith("{")]
    assert {"handshake_finished", "ocpi_request"} <= {entry["event"] for entry in logged}
    proc, _, base = _start(config, db)  # same database: the config's partners are upserted again
    try:
        assert (
            httpx.get(f"{base}/ocpi/2.2.1/credentials", headers=_token(token_c)).json()["status_code"] == 1000
        )
        assert httpx.get(f"{base}/ocpi/versions", headers=_token("secret-a")).status_code == 401  # spent
        partner = httpx.get(f"{base}/api/v1/partners/cpo-a", headers=admin).json()
        assert partner["registered"] and partner["endpoints"] == ["credentials", "locations"]
        assert partner["parties"] == [{"country_code": "DE", "party_id": "CPA", "role": "CPO"}]
        # The operator adds a partner at run time (same rules as the config), then we register with it.
        taken = {"id": "cpo-x", "token_a": "t-x", "parties": [{"country_code": "DE", "party_id": "CPA",
                                                                "role": "CPO"}]}  # fmt: skip
        assert httpx.post(f"{base}/api/v1/partners", json=taken, headers=admin).status_code == 409
        new = {"id": "cpo-b", "token_a": "t-b", "parties": [{"country_code": "FR", "party_id": "CPB",
                                                             "role": "CPO"}]}  # fmt: skip
        assert httpx.post(f"{base}/api/v1/partners", json=new, headers=admin).status_code == 201
        done = httpx.post(
            f"{base}/api/v1/partners/cpo-b/register",
            json={"versions_url": cpo, "token": "their-a"}, headers=admin, timeout=30,
        ).json()  # fmt: skip
        assert done["registered"] and done["status_code"] == 1000, done
        assert done["partner"]["versions_url"] == cpo
        again = httpx.post(
            f"{base}/api/v1/partners/cpo-b/register",
            json={"versions_url": cpo, "token": "their-a"}, headers=admin,
        )  # fmt: skip
        assert again.status_code == 409
    finally:
        _stop(proc)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--bus", "http://127.0.0.1:4222"], "--bus"),
        (["--bus", "nats://127.0.0.1:4222", "--bus-stream", "a.b"], "--bus-stream"),
        (["--bus", "nats://127.0.0.1:4222", "--bus-subject-prefix", "x.>"], "--bus-subject-prefix"),
    ],
)
def test_invalid_bus_options_exit_2(tmp_path: Path, options: list[str], field: str) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    result = CliRunner().invoke(app, ["serve", "emsp", "--config", str(config), "--port", "0", *options])
    assert result.exit_code == 2, result.output
    assert f"emsp-bench serve emsp: {field}:" in result.output.strip().splitlines()[-1]


def _nats_reachable() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=0.5):
            return True
    except OSError:
        return False


async def _jetstream_subjects(stream: str) -> list[str | None]:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except Exception:  # not created yet: nothing published
            return []
        return [(await js.get_msg(stream, seq)).subject for seq in range(1, info.state.messages + 1)]
    finally:
        await nc.drain()


async def _delete_stream(stream: str) -> None:
    import nats

    nc = await nats.connect("nats://127.0.0.1:4222")
    try:
        await nc.jetstream().delete_stream(stream)
    finally:
        await nc.drain()


@pytest.mark.xdist_group("live")
@pytest.mark.skipif(not _nats_reachable(), reason="no NATS server on 127.0.0.1:4222")
def test_serve_with_a_bus_publishes_the_event_stream_to_jetstream(tmp_path: Path) -> None:
    """The served process drains its outbox in the background and publishes every event, once."""
    import asyncio
    import time
    import uuid

    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"TEST_SERVE_{tag}", f"test.serve.{tag}"
    admin = {"Authorization": "Bearer admin-secret"}
    proc, _, base = _start(
        config, f"sqlite:///{tmp_path / 'emsp.db'}",
        ["--bus", "nats://127.0.0.1:4222", "--bus-stream", stream, "--bus-subject-prefix", prefix],
    )  # fmt: skip
    try:
        issued = httpx.post(
            f"{base}/api/v1/tokens", json={"uid": f"U{tag}", "contract_id": "NL-EMS-C1"}, headers=admin
        )
        assert issued.status_code == 201, issued.text
        assert httpx.post(f"{base}/api/v1/tokens/U{tag}/block", headers=admin).status_code == 200
        deadline = time.monotonic() + 15
        subjects: list[str | None] = []  # nats types a stored message's subject as optional
        while time.monotonic() < deadline and len(subjects) < 2:
            subjects = asyncio.run(_jetstream_subjects(stream))
            time.sleep(0.2)
        assert subjects == [f"{prefix}.token.changed.emsp"] * 2
        events = httpx.get(f"{base}/api/v1/events?after=0", headers=admin).json()
        assert [e["kind"] for e in events["events"]] == ["token.changed", "token.changed"]
    finally:
        _stop(proc)
        asyncio.run(_delete_stream(stream))


def test_a_database_another_version_made_and_this_one_cannot_upgrade_exits_2(tmp_path: Path) -> None:
    import sqlalchemy

    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("create table tokens (pk integer primary key, uid varchar(36))"))
    engine.dispose()
    result = CliRunner().invoke(
        app, ["serve", "emsp", "--config", str(config), "--port", "0", "--database-url", url]
    )
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(f"invalid input: {url}: --database-url: unusable: "), message
    assert "tokens.contract_id" in message and "start on a new database" in message, message


def test_a_database_url_whose_driver_is_not_installed_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    url = "mysql://user@127.0.0.1:1/x"  # MySQLdb is not a dependency: an ImportError, not a traceback
    result = CliRunner().invoke(
        app, ["serve", "emsp", "--config", str(config), "--port", "0", "--database-url", url]
    )
    assert result.exit_code == 2, result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(f"invalid input: {url}: --database-url: unusable: "), message


TOLERANT = """
emsp: {country_code: NL, party_id: EMS, business_name: Test eMSP, public_url: http://127.0.0.1:9}
admin_token: admin-secret
partners:
  - id: cpo-a
    token_a: secret-a
    parties: [{country_code: DE, party_id: CPA, role: CPO}]
    tolerate: {plain_token: true}
  - id: cpo-b
    token_a: secret-b
    parties: [{country_code: FR, party_id: CPB, role: CPO}]
"""


def test_an_unknown_tolerance_option_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(TOLERANT.replace("plain_token: true", "sloppy: true"))
    result = CliRunner().invoke(app, ["serve", "emsp", "--config", str(config)])
    assert result.exit_code == 2 and "partners[0].tolerate" in result.output and "sloppy" in result.output


@pytest.mark.xdist_group("live")
def test_serve_accepts_a_plain_token_only_from_the_partner_configured_to_send_one(
    tmp_path: Path, cpo: str
) -> None:
    config = tmp_path / "emsp.yaml"
    config.write_text(TOLERANT)
    admin = {"Authorization": "Bearer admin-secret"}
    proc, _, base = _start(config, f"sqlite:///{tmp_path / 'emsp.db'}")
    try:
        role = {"role": "CPO", "business_details": {"name": "A"}, "party_id": "CPA", "country_code": "DE"}
        creds = {"token": "token-b", "url": cpo, "roles": [role]}
        plain = {"Authorization": "Token secret-a"}  # not Base64 (transport_and_format, 2.2.1)
        resp = httpx.post(f"{base}/ocpi/2.2.1/credentials", json=creds, headers=plain, timeout=30)
        assert resp.json()["status_code"] == 1000, resp.text
        role_b = role | {"party_id": "CPB", "country_code": "FR"}
        refused = httpx.post(
            f"{base}/ocpi/2.2.1/credentials", json=creds | {"roles": [role_b]},
            headers={"Authorization": "Token secret-b"}, timeout=30,
        )  # fmt: skip
        assert refused.status_code == 401 and "Base64" in refused.json()["status_message"]
        found = httpx.get(f"{base}/api/v1/partners/cpo-a/findings", headers=admin).json()
        assert [(f["kind"], f["count"], f["country_code"]) for f in found] == [("plain_token", 1, "DE")]
        assert found[0]["example"].startswith("Authorization: Token secr")
        assert httpx.get(f"{base}/api/v1/partners/cpo-b/findings", headers=admin).json() == []
        assert httpx.get(f"{base}/api/v1/partners/cpo-a", headers=admin).json()["tolerate"]["plain_token"]
        assert httpx.get(f"{base}/api/v1/partners/nope/findings", headers=admin).status_code == 404
    finally:
        _stop(proc)


@pytest.mark.xdist_group("live")
def test_serve_on_an_ipv6_address_prints_a_url_that_reaches_it(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    config = tmp_path / "emsp.yaml"
    config.write_text(GOOD)
    proc, _, base = _start(config, f"sqlite:///{tmp_path / 'emsp.db'}", ["--host", "::1"])
    try:
        assert base.startswith("http://[::1]:")  # was http://::1:PORT, which no client can parse
        health = httpx.get(f"{base}/api/v1/health", headers={"Authorization": "Bearer admin-secret"})
        assert health.json()["status"] == "ok"
    finally:
        _stop(proc)
