"""The calls of a credentials handshake toward a partner, as a sans-IO state machine.

Inbound (a partner POSTs/PUTs its credentials to us): GET its versions, then the 2.2.1 details,
with the token it gave us, *before* we answer (credentials, POST and PUT methods). Outbound (we
register with a partner): the same two GETs with its token A, then POST our credentials to its
credentials endpoint. Failures are the codes of credentials "Errors during registration" and
status_codes: 3001 the partner's API is unusable (no answer, an error, garbage), 3002 no common
version, 3003 a required endpoint missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emsp.ocpi.auth import encode_token
from emsp.ocpi.context import validate
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.v221 import schemas
from emsp.wire import HttpRequest, HttpResponse, dumps, loads

VERSION = "2.2.1"


@dataclass(frozen=True)
class Fetched:
    """What the handshake learnt: the partner's version, its endpoints, and (outbound) its credentials."""

    version: str
    endpoints: list[dict[str, Any]]
    credentials: schemas.Credentials | None = None


def _data(response: HttpResponse, what: str) -> Any:
    if response.status != 200:
        raise OcpiError(3001, f"{what}: the partner answered HTTP {response.status}")
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        raise OcpiError(3001, f"{what}: the partner's answer is not JSON") from None
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        status = body.get("status_code") if isinstance(body, dict) else None
        raise OcpiError(3001, f"{what}: the partner answered OCPI status {status}")
    return body.get("data")


def _partner_data(model: type[Any], data: Any, what: str) -> Any:
    try:
        return validate(model, data)
    except OcpiError as exc:  # their data is unusable: that is 3001 for us, not the client's 2001
        raise OcpiError(3001, f"{what}: {exc.message}") from None


class Handshake:
    """One handshake's calls in order: `start()`, then `on_response()` until it returns `Fetched`."""

    def __init__(self, versions_url: str, token: str, *, our_credentials: dict[str, Any] | None = None):
        self._versions_url = versions_url
        self._auth = {"Authorization": encode_token(token)}
        self._ours = our_credentials  # None: inbound (only fetch); else POST these at the end
        self._step = "versions"
        self._version = ""
        self._endpoints: list[dict[str, Any]] = []

    @property
    def step(self) -> str:
        return self._step

    def start(self) -> HttpRequest:
        return HttpRequest("GET", self._versions_url, dict(self._auth))

    def on_response(self, response: HttpResponse) -> HttpRequest | Fetched:
        if self._step == "versions":
            data = _data(response, "versions")
            if not isinstance(data, list):
                raise OcpiError(3001, "versions: the partner's answer holds no list of versions")
            refs = [_partner_data(schemas.VersionRef, item, "versions") for item in data]
            match = [ref for ref in refs if ref.version == VERSION]
            if not match:
                offered = ", ".join(ref.version for ref in refs) or "none"
                raise OcpiError(
                    3002, f"no common OCPI version (partner offers {offered}; we speak {VERSION})"
                )
            self._step = "details"
            return HttpRequest("GET", match[0].url, dict(self._auth))
        if self._step == "details":
            details = _partner_data(schemas.VersionDetails, _data(response, "details"), "details")
            self._version = details.version
            self._endpoints = [e.model_dump(mode="json") for e in details.endpoints]
            if self._ours is None:
                self._step = "done"
                return Fetched(self._version, self._endpoints)
            url = next((e["url"] for e in self._endpoints if e.get("identifier") == "credentials"), None)
            if url is None:
                raise OcpiError(3003, "the partner's 2.2.1 endpoints hold no credentials module")
            self._step = "credentials"
            headers = {**self._auth, "Content-Type": "application/json"}
            return HttpRequest("POST", str(url), headers, dumps(self._ours))
        if self._step == "credentials":
            theirs = _partner_data(schemas.Credentials, _data(response, "credentials"), "credentials")
            self._step = "done"
            return Fetched(self._version, self._endpoints, theirs)
        raise RuntimeError(f"handshake already {self._step}")
