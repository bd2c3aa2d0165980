"""The hub's side of the credentials handshake (credentials, Registration), both directions.

Inbound, a party POSTs its credentials with the token A the hub operator gave it: the hub GETs the
party's versions and 2.2.1 details with the party's token before it answers with token C (so the
POST is answered later, `Deferred`). Outbound, the hub registers toward a party: GET versions and
details with the party's token A, then POST the hub's credentials (token B, role HUB).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emsp.wire import HttpRequest, HttpResponse, dumps
from simulators.hub.envelope import VERSION, authorization, ocpi_data, ocpi_status
from simulators.hub.registry import PartyRole

ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")  # types, Role


class HandshakeFailed(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    url: str
    roles: tuple[PartyRole, ...]


@dataclass(frozen=True, slots=True)
class Learnt:
    endpoints: dict[tuple[str, str], str]
    credentials: Credentials | None  # outbound only: what the party answered to our POST


def parse_credentials(data: Any, allowed: tuple[PartyRole, ...], code: int = 2001) -> Credentials:
    """A Credentials object (credentials, Credentials object), its roles within what is configured."""
    if not isinstance(data, dict):
        raise HandshakeFailed(code, "credentials: the body must be a Credentials object")
    token, url, roles = data.get("token"), data.get("url"), data.get("roles")
    if not isinstance(token, str) or not token or len(token) > 64:
        raise HandshakeFailed(code, "credentials: token must be a string of 1 to 64 characters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise HandshakeFailed(code, "credentials: url must be the versions URL (http or https)")
    if not isinstance(roles, list) or not roles:
        raise HandshakeFailed(code, "credentials: roles must list at least one CredentialsRole")
    out = []
    for index, role in enumerate(roles):
        fields = (
            (role.get("country_code"), role.get("party_id"), role.get("role"))
            if isinstance(role, dict)
            else ()
        )
        if len(fields) != 3 or not all(isinstance(value, str) for value in fields) or fields[2] not in ROLES:
            raise HandshakeFailed(
                code, f"credentials: roles[{index}] needs country_code, party_id and a role of {ROLES}"
            )
        party_role = PartyRole(str(fields[0]).upper(), str(fields[1]).upper(), str(fields[2]))
        if party_role not in allowed:
            raise HandshakeFailed(
                code,
                f"credentials: roles[{index}] {party_role.country_code}/{party_role.party_id} "
                f"{party_role.role} is not a party the hub operator configured for this connection",
            )
        out.append(party_role)
    return Credentials(token, url, tuple(out))


def _data(response: HttpResponse, what: str) -> Any:
    if response.status != 200 or ocpi_status(response) != 1000:
        raise HandshakeFailed(
            3001, f"{what}: the party answered HTTP {response.status}, OCPI status {ocpi_status(response)}"
        )
    return ocpi_data(response)


class Registration:
    """The hub's calls of one handshake: `start()`, then `on_response()` until it returns `Learnt`."""

    def __init__(
        self,
        versions_url: str,
        token: str,
        *,
        ours: dict[str, Any] | None = None,
        allowed: tuple[PartyRole, ...] = (),
    ) -> None:
        self._versions_url = versions_url
        self._auth = {"Authorization": authorization(token)}
        self._ours = ours  # None: inbound (only fetch); else POST these at the end
        self._allowed = allowed
        self._step = "versions"
        self._endpoints: dict[tuple[str, str], str] = {}

    def start(self) -> HttpRequest:
        return HttpRequest("GET", self._versions_url, dict(self._auth))

    def on_response(self, response: HttpResponse) -> HttpRequest | Learnt:
        if self._step == "versions":
            data = _data(response, "versions")
            urls = [v.get("url") for v in data or [] if isinstance(v, dict) and v.get("version") == VERSION]
            if not urls or not isinstance(urls[0], str):
                raise HandshakeFailed(3002, f"versions: the party offers no OCPI {VERSION}")
            self._step = "details"
            return HttpRequest("GET", urls[0], dict(self._auth))
        if self._step == "details":
            data = _data(response, "details")
            endpoints = data.get("endpoints") if isinstance(data, dict) else None
            if not isinstance(endpoints, list):
                raise HandshakeFailed(3001, "details: the party's answer lists no endpoints")
            for endpoint in endpoints:
                if isinstance(endpoint, dict) and isinstance(endpoint.get("url"), str):
                    key = (str(endpoint.get("identifier")), str(endpoint.get("role", "")).upper())
                    self._endpoints[key] = endpoint["url"]
            if self._ours is None:
                self._step = "done"
                return Learnt(self._endpoints, None)
            url = next((u for (module, _role), u in self._endpoints.items() if module == "credentials"), None)
            if url is None:
                raise HandshakeFailed(3003, "details: the party has no credentials endpoint")
            self._step = "credentials"
            headers = {**self._auth, "Content-Type": "application/json"}
            return HttpRequest("POST", url, headers, dumps(self._ours))
        if self._step == "credentials":
            theirs = parse_credentials(_data(response, "credentials"), self._allowed, code=3001)
            self._step = "done"
            return Learnt(self._endpoints, theirs)
        raise RuntimeError(f"registration already {self._step}")
