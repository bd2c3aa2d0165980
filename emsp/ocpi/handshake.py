"""The calls of a credentials handshake toward a partner, as a sans-IO state machine (every version).

Inbound (a partner POSTs/PUTs its credentials to one version's credentials endpoint): GET its
versions, then that version's details, with the token it gave us, *before* we answer (credentials,
POST and PUT methods); the version is the one whose endpoint it called, and a versions list that
lacks it is 3002. Outbound (we register with a partner): the same two GETs with its token A for the
highest version both sides speak, then POST our credentials to its credentials endpoint. Failures
are the codes of credentials "Errors during registration" and status_codes: 3001 the partner's API
is unusable (no answer, an error, garbage), 3002 no common version, 3003 a required endpoint missing.

Before the version is known the token is sent Base64-encoded (2.2.1 onwards); a versions GET that
answers HTTP 401 is tried once more with the raw token, as a 2.1.1 partner expects (the 2.3.0
transport_and_format note on non-encoding 2.1.1 implementations: "trial and error").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emsp.ocpi.adapter import CredentialsInfo, VersionAdapter
from emsp.ocpi.auth import encode_token
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.urls import refusal
from emsp.wire import HttpRequest, HttpResponse, dumps, loads

Choose = Callable[[list[str]], VersionAdapter | None]


@dataclass(frozen=True)
class Fetched:
    """What the handshake learnt: the partner's version, its endpoints, and (outbound) its credentials."""

    version: str
    endpoints: list[dict[str, Any]]
    credentials: CredentialsInfo | None = None


class NoUsableAnswer(OcpiError):
    """3001: a call of the handshake got no usable answer (no connection, an HTTP error, not JSON,
    an OCPI error). The message says which, for the logs and for a registration we started; a
    client that gave us a URL is told less (emsp.handshakes), or its answers map internal ports."""

    def __init__(self, message: str) -> None:
        super().__init__(3001, message)


def _data(response: HttpResponse, what: str) -> Any:
    if response.status != 200:
        raise NoUsableAnswer(f"{what}: the partner answered HTTP {response.status}")
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        raise NoUsableAnswer(f"{what}: the partner's answer is not JSON") from None
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        status = body.get("status_code") if isinstance(body, dict) else None
        raise NoUsableAnswer(f"{what}: the partner answered OCPI status {status}")
    return body.get("data")


def _theirs(parse: Callable[[Any], Any], data: Any, what: str) -> Any:
    try:
        return parse(data)
    except OcpiError as exc:  # their data is unusable: that is 3001 for us, not the client's 2001
        raise OcpiError(3001, f"{what}: {exc.message}") from None


def check_url(url: object, what: str, own_base_url: str) -> str:
    """`url` if we can call it, else 3001 (status_codes: unable to use the client's API): caught
    here, not when a later push or command to it fails. Never our own API (see urls.is_ours)."""
    why = refusal(url, own_base_url)
    if why is not None:
        raise OcpiError(3001, f"{what}: {why}")
    assert isinstance(url, str)
    return url


def _version_refs(data: Any) -> list[tuple[str, str]]:
    if not isinstance(data, list):
        raise OcpiError(3001, "versions: the partner's answer holds no list of versions")
    refs = []
    for item in data:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("version"), str)
            and isinstance(item.get("url"), str)
        ):
            raise OcpiError(3001, "versions: an entry is not a version and a URL")
        refs.append((item["version"], item["url"]))
    return refs


def _sendable_raw(token: str) -> bool:
    """The token can go into an Authorization header as is (transport_and_format: printable ASCII)."""
    return all(" " <= ch <= "~" for ch in token)


class Handshake:
    """One handshake's calls in order: `start()`, then `on_response()` until it returns `Fetched`.

    `choose` picks our adapter from the versions the partner offers (None: no common version)."""

    def __init__(
        self,
        versions_url: str,
        token: str,
        choose: Choose,
        *,
        our_credentials: Callable[[VersionAdapter], dict[str, Any]] | None = None,
        own_base_url: str = "",
    ):
        self._own = own_base_url  # "" : no self-check
        self._versions_url = versions_url
        self._token = token
        self._choose = choose
        self._ours = our_credentials  # None: inbound (only fetch); else POST these at the end
        self._step = "versions"
        self._raw_tried = False
        self._adapter: VersionAdapter | None = None
        self._version = ""
        self._endpoints: list[dict[str, Any]] = []

    @property
    def step(self) -> str:
        return self._step

    def _auth(self) -> dict[str, str]:
        if self._adapter is not None:
            return {"Authorization": self._adapter.encode_authorization(self._token)}
        if self._raw_tried:
            return {"Authorization": f"Token {self._token}"}
        return {"Authorization": encode_token(self._token)}

    def start(self) -> HttpRequest:
        return HttpRequest("GET", self._versions_url, self._auth())

    def on_response(self, response: HttpResponse) -> HttpRequest | Fetched:
        if self._step == "versions":
            if response.status == 401 and not self._raw_tried:
                if not _sendable_raw(self._token):
                    raise NoUsableAnswer(
                        "versions: the partner answered HTTP 401 to the Base64-encoded token, and the "
                        "raw token cannot be sent in a header (not printable ASCII)"
                    )
                self._raw_tried = True  # perhaps a 2.1.1 partner: it expects the token as is
                return self.start()
            refs = _version_refs(_data(response, "versions"))
            adapter = self._choose([version for version, _url in refs])
            if adapter is None:
                offered = ", ".join(version for version, _url in refs) or "none"
                raise OcpiError(3002, f"no common OCPI version (partner offers {offered})")
            self._adapter = adapter
            self._step = "details"
            details_url = next(url for version, url in refs if version == adapter.version)
            check_url(details_url, "versions", self._own)
            return HttpRequest("GET", details_url, self._auth())
        assert self._adapter is not None
        adapter = self._adapter
        if self._step == "details":
            endpoints = _theirs(adapter.endpoints_of, _data(response, "details"), "details")[1]
            self._version = adapter.version  # what we speak with it, whatever its details say
            self._endpoints = [e.as_doc() for e in endpoints]
            for endpoint in self._endpoints:  # stored now, called later: refuse what cannot be called
                check_url(endpoint.get("url"), f"details: endpoint {endpoint.get('identifier')}", self._own)
            if self._ours is None:
                self._step = "done"
                return Fetched(self._version, self._endpoints)
            url = next((e["url"] for e in self._endpoints if e.get("identifier") == "credentials"), None)
            if url is None:
                raise OcpiError(3003, f"the partner's {adapter.version} endpoints hold no credentials module")
            self._step = "credentials"
            headers = {**self._auth(), "Content-Type": "application/json"}
            return HttpRequest("POST", str(url), headers, dumps(self._ours(adapter)))
        if self._step == "credentials":
            theirs = _theirs(adapter.credentials, _data(response, "credentials"), "credentials")
            self._step = "done"
            return Fetched(self._version, self._endpoints, theirs)
        raise RuntimeError(f"handshake already {self._step}")
