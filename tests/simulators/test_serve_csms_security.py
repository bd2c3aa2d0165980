"""OCPP security profiles 1–3 on `serve csms` (in-process, port 0) with certificates made at run time:
the bench's own station (StationLink) and the `ocpp` package's ChargePoint over `websockets` connect and
boot; bad or missing credentials, a foreign client certificate and a transport below the station's
profile are refused at the handshake and never reach the CSMS model."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets
from cryptography import x509
from cryptography.x509.oid import NameOID
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from run_logs import logs_of
from typer.testing import CliRunner

from bench.cli import app
from bench.cli_serve import _tls_context
from bench.ocpp_security import (
    CertFiles,
    basic_authorization,
    client_context,
    ensure_certs,
    server_context,
)
from bench.serve_csms import CsmsService, run_csms_service
from bench.serve_csms_config import CsmsConfigError, CsmsServiceConfig, load_csms_config
from bench.station_link import StationLink
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

pytestmark = pytest.mark.xdist_group("sockets")
PASSWORD = "Bench-pass_0123456789"  # 21 characters of passwordString


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    return ensure_certs(tmp_path_factory.mktemp("certs"), stations=["CP-3", "CP-OTHER", "CP-2C"])


def secured(certs: CertFiles, **stations: dict[str, Any]) -> CsmsServiceConfig:
    return CsmsServiceConfig(
        call_timeout_s=5, security={"profile": 1, "certs_dir": certs.directory, "stations": stations}
    )


@asynccontextmanager
async def served(config: CsmsServiceConfig, certs: CertFiles) -> AsyncIterator[tuple[int, int, CsmsService]]:
    """The service on two ports: plain (ws://) and TLS (wss://)."""
    plain, tls = socket.socket(), socket.socket()
    plain.bind(("127.0.0.1", 0))
    tls.bind(("127.0.0.1", 0))
    service = CsmsService(config)
    ready = asyncio.Event()
    context = server_context(certs, client_ca=certs.ca)
    task = asyncio.ensure_future(
        run_csms_service(service, plain, on_ready=ready.set, tls_sock=tls, tls_context=context)
    )
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield plain.getsockname()[1], tls.getsockname()[1], service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        plain.close()
        tls.close()


async def boot_link(link: StationLink, service: CsmsService) -> None:
    stop = asyncio.Event()
    task = asyncio.ensure_future(link.run(stop, backoff_s=0.2))
    try:
        await asyncio.wait_for(link.booted.wait(), 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert service.records[link.station.station_id].boots == 1


async def boot_charger(
    url: str, station_id: str, version: str, *, headers: dict[str, str] | None = None, tls: Any = None
) -> None:
    """The ocpp package's ChargePoint: connect with what it is given and boot."""
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol(f"ocpp{version}")], additional_headers=headers, ssl=tls
    ) as ws:
        if version == "1.6":
            cp: Any = ChargePoint16(station_id, ws)
            request: Any = call16.BootNotification(charge_point_model="m", charge_point_vendor="v")
        else:
            cp = ChargePoint201(station_id, ws)
            request = call201.BootNotification(
                charging_station={"model": "m", "vendor_name": "v"}, reason="PowerUp"
            )
        task = asyncio.ensure_future(cp.start())
        try:
            answer = await cp.call(request)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert answer.status == "Accepted"


async def refused(url: str, *, headers: dict[str, str] | None = None, tls: Any = None) -> int:
    """The HTTP status the upgrade was answered with."""
    with pytest.raises(websockets.InvalidStatus) as caught:
        await websockets.connect(
            url, subprotocols=[websockets.Subprotocol("ocpp1.6")], additional_headers=headers, ssl=tls
        )
    return caught.value.response.status_code


def station16(station_id: str) -> Station16:
    return Station16(station_id, connectors=1, max_power_kw=Decimal(11), call_timeout_s=10)


def station201(station_id: str) -> Station201:
    return Station201(station_id, connectors=1, max_power_kw=Decimal(11), call_timeout_s=10)


def test_profile_1_basic_auth_over_ws(certs: CertFiles) -> None:
    config = secured(certs, **{"CP-1": {"password": PASSWORD}, "CP-1B": {"password": PASSWORD}})

    async def main() -> None:
        async with served(config, certs) as (port, _tls_port, service):
            url = f"ws://127.0.0.1:{port}/ocpp"
            await boot_link(StationLink(station16("CP-1"), f"{url}/CP-1", password=PASSWORD), service)
            auth = {"Authorization": basic_authorization("CP-1B", PASSWORD)}
            await boot_charger(f"{url}/CP-1B", "CP-1B", "2.0.1", headers=auth)
            # Refused at the handshake (401), before the CSMS model sees the station.
            assert await refused(f"{url}/CP-1X") == 401
            wrong = {"Authorization": basic_authorization("CP-1X", "Not-the-password-42")}
            assert await refused(f"{url}/CP-1X", headers=wrong) == 401
            other = {"Authorization": basic_authorization("CP-1", PASSWORD)}  # CP-1's, used by CP-1X
            assert await refused(f"{url}/CP-1X", headers=other) == 401
            assert "CP-1X" not in service.records
            assert service.records["CP-1B"].boots == 1

    logs = logs_of(main)
    refusals = [e for e in logs if e["event"] == "station refused"]
    assert [e["status"] for e in refusals] == [401, 401, 401]
    sent = (PASSWORD, "Not-the-password-42", basic_authorization("CP-1", PASSWORD).split()[1])
    assert not [e for e in logs for secret in sent if secret in repr(e)], logs


def test_profile_1_with_a_16_authorization_key(certs: CertFiles) -> None:
    key = "00ff10e2c3d4a5b6c7d8e9fa0b1c2d3e4f506172"  # 20 octets, not UTF-8 text
    config = secured(certs, **{"CP-K": {"authorization_key": key}})

    async def main() -> None:
        async with served(config, certs) as (port, _tls_port, service):
            url = f"ws://127.0.0.1:{port}/ocpp/CP-K"
            # The whitepaper's form (the octets) and the form many 1.6 chargers send (the hex text).
            await boot_link(StationLink(station16("CP-K"), url, password=bytes.fromhex(key)), service)
            await boot_charger(
                url, "CP-K", "1.6", headers={"Authorization": basic_authorization("CP-K", key)}
            )
            wrong = bytes.fromhex(key[:-2] + "00")
            assert await refused(url, headers={"Authorization": basic_authorization("CP-K", wrong)}) == 401
            assert service.records["CP-K"].boots == 2

    asyncio.run(main())


def test_profile_2_tls_and_basic_auth(certs: CertFiles) -> None:
    config = secured(
        certs, **{"CP-2": {"profile": 2, "password": PASSWORD}, "CP-2B": {"profile": 2, "password": PASSWORD}}
    )
    trust = client_context(certs.ca)

    async def main() -> None:
        async with served(config, certs) as (port, tls_port, service):
            url = f"wss://127.0.0.1:{tls_port}/ocpp"
            link = StationLink(station201("CP-2"), f"{url}/CP-2", password=PASSWORD, tls=trust)
            await boot_link(link, service)
            auth = {"Authorization": basic_authorization("CP-2B", PASSWORD)}
            await boot_charger(f"{url}/CP-2B", "CP-2B", "1.6", headers=auth, tls=trust)
            # The right password over plain ws: below the station's profile (the password has travelled
            # in clear, but the connection is still refused).
            assert await refused(f"ws://127.0.0.1:{port}/ocpp/CP-2B", headers=auth) == 403
            bad = {"Authorization": basic_authorization("CP-2B", "Not-the-password-42")}
            assert await refused(f"{url}/CP-2B", headers=bad, tls=trust) == 401
            assert await refused(f"{url}/CP-2B", tls=trust) == 401
            assert service.records["CP-2B"].boots == 1

    asyncio.run(main())


def test_profile_3_client_certificates(certs: CertFiles, tmp_path: Path) -> None:
    config = secured(
        certs,
        **{"CP-3": {"profile": 3}, "CP-OTHER": {"profile": 3}, "CP-2C": {"profile": 2, "password": PASSWORD}},
    )
    cert, key = certs.client("CP-3")
    foreign = ensure_certs(tmp_path / "foreign", stations=["CP-3"])  # same CN, another CA

    async def main() -> None:
        async with served(config, certs) as (port, tls_port, service):
            url = f"wss://127.0.0.1:{tls_port}/ocpp"
            link = StationLink(
                station16("CP-3"), f"{url}/CP-3", tls=client_context(certs.ca, cert=cert, key=key)
            )
            await boot_link(link, service)
            # A certificate of another CA: the TLS handshake fails (TLS 1.2 pinned so that the client
            # sees it in the handshake itself, not on its first read as with 1.3; the server drops the
            # connection, which the client's handshake reports as a reset).
            tls12 = client_context(certs.ca, cert=foreign.client("CP-3")[0], key=foreign.client("CP-3")[1])
            tls12.maximum_version = ssl.TLSVersion.TLSv1_2
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                await websockets.connect(f"{url}/CP-3", ssl=tls12)
            own12 = client_context(certs.ca, cert=cert, key=key)
            own12.maximum_version = ssl.TLSVersion.TLSv1_2
            async with websockets.connect(
                f"{url}/CP-3", ssl=own12, subprotocols=[websockets.Subprotocol("ocpp1.6")]
            ):
                pass  # the same client with CP-3's real certificate gets through
            # CP-3's own certificate does not open CP-OTHER; no certificate at all is profile 2 at best.
            assert await refused(f"{url}/CP-OTHER", tls=client_context(certs.ca, cert=cert, key=key)) == 403
            assert await refused(f"{url}/CP-OTHER", tls=client_context(certs.ca)) == 403
            assert await refused(f"ws://127.0.0.1:{port}/ocpp/CP-OTHER") == 403
            assert "CP-OTHER" not in service.records and service.records["CP-3"].boots == 1
            # A higher profile than configured is accepted: CP-2C (profile 2) with its certificate and
            # no password.
            cert2, key2 = certs.client("CP-2C")
            await boot_charger(
                f"{url}/CP-2C", "CP-2C", "2.0.1", tls=client_context(certs.ca, cert=cert2, key=key2)
            )

    asyncio.run(main())


def test_certificates_are_kept_and_keys_private(certs: CertFiles) -> None:
    before = certs.ca.read_bytes()
    again = ensure_certs(certs.directory, stations=["CP-3"])
    assert again.ca.read_bytes() == before  # a charger given ca.pem keeps trusting the restarted CSMS
    for key in (certs.ca_key, certs.server_key, certs.client("CP-3")[1]):
        assert key.stat().st_mode & 0o077 == 0


def test_security_config_is_validated_without_echoing_passwords(tmp_path: Path) -> None:
    cases = {
        "security: {stations: {CP-1: {password: short-secret}}}": (
            "security.stations.CP-1.password",
            "16 to 64",
        ),
        "security: {stations: {CP-1: {password: 'sixteen-chars-ok!'}}}": ("password", "passwordString"),
        "security: {stations: {CP-1: {profile: 3, password: Bench-pass_0123456789}}}": (
            "security",
            "no password",
        ),
    }
    path = tmp_path / "csms.yaml"
    for text, (field, reason) in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(CsmsConfigError) as caught:
            load_csms_config(path)
        message = str(caught.value)
        assert field in message and reason in message and str(path) in message, message
        assert "short-secret" not in message and "sixteen-chars-ok" not in message
        assert "Bench-pass" not in message and "00ff10e2" not in message


def test_cli_security_options_exit_2_naming_file_field_reason(tmp_path: Path) -> None:
    def serve(*args: str) -> Any:
        return CliRunner().invoke(app, ["serve", "csms", "--port", "0", "--tls-port", "0", *args])

    result = serve("--security-profile", "2")
    assert result.exit_code == 2, result.output
    assert "command line: security.certs_dir: needed for profiles 2 and 3" in result.output
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x", encoding="utf-8")
    result = serve("--security-profile", "2", "--certs-dir", str(not_a_dir))
    assert result.exit_code == 2 and f"{not_a_dir}: certs_dir: " in result.output, result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ca.pem").write_text("not a certificate", encoding="utf-8")
    (broken / "ca.key").write_text("not a key", encoding="utf-8")
    result = serve("--certs-dir", str(broken))
    assert result.exit_code == 2 and f"{broken}: certs_dir: unusable" in result.output, result.output
    config = tmp_path / "csms.yaml"
    config.write_text("security: {stations: {CP-1: {password: short-secret}}}", encoding="utf-8")
    result = serve("--config", str(config))
    assert result.exit_code == 2 and f"{config}: security.stations.CP-1.password: " in result.output
    assert "short-secret" not in result.output
    config.write_text("security: {profile: 2}", encoding="utf-8")
    result = serve("--config", str(config))
    assert result.exit_code == 2 and f"{config}: security.certs_dir: needed" in result.output


def test_certs_dir_gets_what_a_charger_needs(tmp_path: Path) -> None:
    config = CsmsServiceConfig(security={"certs_dir": tmp_path, "stations": {"CP-9": {"profile": 3}}})
    assert _tls_context(config, "192.0.2.7") is not None
    files = CertFiles(tmp_path)
    assert all(p.is_file() for p in (files.ca, files.server, files.server_key, *files.client("CP-9")))
    server = x509.load_pem_x509_certificate(files.server.read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "192.0.2.7"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    client = x509.load_pem_x509_certificate(files.client("CP-9")[0].read_bytes())
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-9"
