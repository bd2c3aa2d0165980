"""Security profiles 1-3 per station in a live run (`stations[].security_profile`).

Credentials are made at run time: a password per station of profile 1 or 2 (Basic auth, the station id
as username), and for profiles 2 and 3 a CA, a server certificate for the mock CSMS's TLS listener and a
client certificate per profile-3 station (bench/ocpp_security.py), in a directory that lives as long
as the run. Each mock CSMS checks what a station presents before the WebSocket handshake completes, as
`emsp-bench serve csms` does: a refused station gets HTTP 401/403 and never reaches the CSMS model.

A refused station is a configuration fault of the bench (the scenario's stations and the bench's own
CSMS disagree), never the eMSP's: the run stops with LiveRuntimeError (exit 3) naming the station and
the reason. The sim runtime has no transport: it ignores security profiles.
"""

from __future__ import annotations

import hmac
import secrets
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

from websockets.http11 import Request, Response

from bench.ocpp_security import (
    CertFiles,
    basic_authorization,
    client_context,
    ensure_certs,
    parse_basic,
    peer_common_name,
    server_context,
)
from bench.runtime.live_ws import ServerEnd
from bench.scenario import Scenario


@dataclass
class LiveSecurity:
    profiles: Mapping[str, int]  # station id -> profile (stations without one: absent)
    expected: dict[str, str] = field(default_factory=dict)  # what each CSMS accepts (profiles 1, 2)
    presented: dict[str, str] = field(default_factory=dict)  # what each station sends
    files: CertFiles | None = None
    client_certs: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # what each station presents
    refusals: list[tuple[str, int, str]] = field(default_factory=list)  # (station, status, reason)

    def needs_tls(self, station_ids: list[str]) -> bool:
        return any(self.profiles.get(sid, 0) >= 2 for sid in station_ids)

    def server_ssl(self) -> ssl.SSLContext:
        assert self.files is not None
        return server_context(self.files, client_ca=self.files.ca)

    def station_options(self, station_id: str) -> tuple[ssl.SSLContext | None, dict[str, str]]:
        """(TLS context, or None for plain ws://; handshake headers) for this station."""
        profile = self.profiles.get(station_id, 0)
        headers: dict[str, str] = {}
        if profile in (1, 2):
            headers["Authorization"] = basic_authorization(station_id, self.presented[station_id])
        if profile < 2:
            return None, headers
        assert self.files is not None
        cert, key = self.client_certs.get(station_id, (None, None))
        return client_context(self.files.ca, cert=cert, key=key), headers

    def refusal(
        self, station_id: str, authorization: str | None, tls: bool, common_name: str | None
    ) -> tuple[int, str] | None:
        """Why a station may not connect with what it presented (status, reason); None: it may."""
        required = self.profiles.get(station_id, 0)
        if required == 0:
            return None
        if required >= 2 and not tls:
            return 403, f"profile {required} wants TLS (wss://), the station came over plain ws://"
        if common_name is not None:
            return None if common_name == station_id else (403, f"client certificate is for {common_name!r}")
        if required == 3:
            return 403, "profile 3 wants a client certificate"
        credentials = parse_basic(authorization)
        if credentials is None:
            return 401, "no Basic auth credentials"
        user_ok = hmac.compare_digest(credentials[0].encode(), station_id.encode())
        password_ok = hmac.compare_digest(credentials[1], self.expected[station_id].encode())
        return None if user_ok and password_ok else (401, "Basic auth credentials refused")

    def check(self, tls: bool) -> Callable[[ServerEnd, Request], Response | None]:
        """The handshake check of a mock CSMS's listener (live_ws.serve_ws): a refusal or None."""

        def check(end: ServerEnd, request: Request) -> Response | None:
            station_id = request.path.rstrip("/").rsplit("/", 1)[-1]
            transport = end.transport
            ssl_object = transport.get_extra_info("ssl_object") if tls and transport is not None else None
            why = self.refusal(
                station_id, request.headers.get("Authorization"), tls, peer_common_name(ssl_object)
            )
            if why is None:
                return None
            self.refusals.append((station_id, *why))
            return end.respond(HTTPStatus(why[0]), f"{why[1]}\n")

        return check


def make_security(scenario: Scenario, certs_dir: Path, host: str = "127.0.0.1") -> LiveSecurity | None:
    """Fresh credentials for every station with a security profile; None when no station has one."""
    profiles = {
        station.id: station.security_profile
        for cpo in scenario.cpos
        for location in cpo.locations
        for station in location.stations
        if station.security_profile is not None
    }
    if not profiles:
        return None
    security = LiveSecurity(profiles)
    for sid, profile in profiles.items():
        if profile in (1, 2):
            # 32 characters of A-Z a-z 0-9 - _: inside OCPP's password rules (16-64, passwordString).
            security.expected[sid] = security.presented[sid] = secrets.token_urlsafe(24)
    if any(p >= 2 for p in profiles.values()):
        third = [sid for sid, p in profiles.items() if p == 3]
        security.files = ensure_certs(certs_dir, hosts=[host], stations=third)  # where stations connect
        security.client_certs = {sid: security.files.client(sid) for sid in third}
    return security


def refusal_text(refusals: Mapping[str, tuple[int, str]]) -> str:
    return "; ".join(f"{sid}: HTTP {status} ({reason})" for sid, (status, reason) in sorted(refusals.items()))
