"""OCPP security profiles 1–3 at the transport: Basic auth credentials, run-time certificates, TLS contexts.

Shared by both ends of a real socket (`serve csms` and `StationLink`); the sans-IO station and CSMS
models never see any of it. Profiles (OCPP 2.0.1 part 2 A00, 1.6 security whitepaper):

- 1: HTTP Basic auth over ws:// — username the station id (A00.FR.204), password the station's
  BasicAuthPassword / AuthorizationKey;
- 2: the same Basic auth over wss://, the CSMS proving itself with a server certificate;
- 3: wss:// with a client certificate whose subject CN is the station id; no Basic auth.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SecurityProfile = int  # 0 (none: plain OCPP-J 1.6 without the whitepaper), 1, 2 or 3

# 2.0.1 A00.FR.205: the password is a passwordString of at least 16 characters and at most the
# BasicAuthPassword maxLimit (40..64); part 2 §2.1.4: passwordString allows only these characters.
# We apply the same rule to 1.6 (the whitepaper's AuthorizationKey is 16..20 octets written as hex, and
# a hex string is a valid passwordString): the password is compared as the characters sent.
PASSWORD = re.compile(r"^[A-Za-z0-9*\-_=:+|@.]{16,64}$")


def password_problem(password: str) -> str | None:
    """Why `password` is not an OCPP Basic auth password, or None (never echoes the password)."""
    if not 16 <= len(password) <= 64:
        return f"must be 16 to 64 characters (A00.FR.205), not {len(password)}"
    if not PASSWORD.match(password):
        return "may only hold a-z A-Z 0-9 * - _ = : + | @ . (OCPP passwordString)"
    return None


# The 1.6 whitepaper's AuthorizationKey: 16 to 20 octets written as 32 to 40 hexadecimal digits; the
# password on the wire is the octets themselves (they need not be text).
AUTHORIZATION_KEY = re.compile(r"^(?:[0-9A-Fa-f]{2}){16,20}$")


def authorization_key_problem(key: str) -> str | None:
    """Why `key` is not a 1.6 AuthorizationKey, or None (never echoes the key)."""
    if not AUTHORIZATION_KEY.match(key):
        return f"must be 32 to 40 hexadecimal digits in pairs (16 to 20 octets), not {len(key)} characters"
    return None


def basic_authorization(username: str, password: str | bytes) -> str:
    """The `Authorization` header value a station sends (RFC 7617); bytes: a 1.6 AuthorizationKey's octets."""
    secret = password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(username.encode() + b":" + secret).decode("ascii")


def parse_basic(header: str | None) -> tuple[str, bytes] | None:
    """(username, password octets) from an `Authorization: Basic ...` header, None if absent or
    unreadable. The password stays bytes: a 1.6 AuthorizationKey need not be UTF-8."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
        username, colon, password = decoded.partition(b":")
        return (username.decode("utf-8"), password) if colon else None
    except (binascii.Error, UnicodeDecodeError):
        return None


# -- certificates generated at run time -------------------------------------------------------------


@dataclass(frozen=True)
class CertFiles:
    """Where the certificates of a `--certs-dir` live (PEM)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    def client(self, station_id: str) -> tuple[Path, Path]:
        return self.directory / f"{station_id}.pem", self.directory / f"{station_id}.key"


VALIDITY = timedelta(days=365)


def _key() -> ec.EllipticCurvePrivateKey:
    # P-256: in the 2.0.1 A00 list of cipher suites (ECDHE-ECDSA), and quick to make.
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Private keys readable by the operator only, from the moment the file exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "emsp-bench"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    server_names: list[str] | None = None,
    client: bool = False,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))  # a charger's clock a little behind still accepts it
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if server_names is not None:
        sans: list[x509.GeneralName] = []
        for name in server_names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    if client:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_certs(directory: Path, *, hosts: Sequence[str] = (), stations: Sequence[str] = ()) -> CertFiles:
    """Make what is missing in `directory`: a CA (ca.pem, ca.key), a server certificate for `hosts`
    (server.pem, server.key) and a client certificate per station id (<id>.pem, <id>.key). Files that
    exist are kept, so a charger given them once keeps working across restarts."""
    files = CertFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if files.ca.exists() and files.ca_key.exists():
        ca = (x509.load_pem_x509_certificate(files.ca.read_bytes()), _load_key(files.ca_key))
    else:
        key = _key()
        ca = (_issue("emsp-bench CA", key, None), key)
        _write_key(files.ca_key, key)
        _write_cert(files.ca, ca[0])
    if not (files.server.exists() and files.server_key.exists()):
        key = _key()
        names = list(dict.fromkeys(["127.0.0.1", "localhost", *hosts]))
        _write_key(files.server_key, key)
        _write_cert(files.server, _issue("emsp-bench CSMS", key, ca, server_names=names))
    for station_id in stations:
        cert_path, key_path = files.client(station_id)
        if not (cert_path.exists() and key_path.exists()):
            key = _key()
            _write_key(key_path, key)
            _write_cert(cert_path, _issue(station_id, key, ca, client=True))
    return files


# -- TLS contexts -----------------------------------------------------------------------------------


def server_context(files: CertFiles, *, client_ca: Path | None) -> ssl.SSLContext:
    """The CSMS side: TLS 1.2 or later (A00.FR.3xx), its server certificate; with `client_ca`, a client
    certificate is verified against it when one is presented. Optional, not required: profile-2 stations
    share the listener and present none; a certificate from another CA fails the handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.server, files.server_key)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_context(ca: Path, *, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """The station side: trusts `ca` for the CSMS's certificate; with `cert`/`key`, profile 3."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def peer_common_name(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The subject CN of the verified client certificate, None without one."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    subject: Any = cert.get("subject", ())  # ((("commonName", "CP-1"),), ...)
    for rdn in subject:
        for attribute, value in rdn:
            if attribute == "commonName":
                return str(value)
    return None
