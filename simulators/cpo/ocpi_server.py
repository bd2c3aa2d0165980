"""The OCPI endpoints the mock CPO serves itself, in its configured version.

- versions, version details and credentials (the eMSP fetches them with token B during the handshake);
- the Sender interfaces (pull): GET lists of Locations, Tariffs, Sessions and CDRs (paginated, see
  sender.py) and GET one Location, EVSE or Connector (mod_locations CPO interface);
- the Tokens Receiver interface: the eMSP PUTs and PATCHes its Tokens (mod_tokens CPO interface,
  `{tokens}/{country_code}/{party_id}/{token_uid}`), GET one returns what the CPO holds;
- behind a roaming hub, the HubClientInfo Receiver interface (mod_hub_client_info): the hub PUTs
  the status of each party it connects, `{hubclientinfo}/{country_code}/{party_id}`; kept as heard.
Every answer is an OCPI envelope; a bad query is 2001, an unknown object 2003/2004, never a crash.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps, loads
from simulators.cpo.sender import BadQuery, Paging, Published
from simulators.cpo.token_copy import TokenCopy
from simulators.cpo.versions import CpoWire

# (module, role): what the CPO offers; 2.1.1 details carry no role (CpoWire.endpoint_roles)
ENDPOINTS = (
    ("credentials", "SENDER"),
    ("locations", "SENDER"),
    ("tariffs", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
)
LISTS = ("locations", "tariffs", "sessions", "cdrs")


class CpoOcpiServer:
    def __init__(
        self,
        *,
        base_url: str,
        wire: CpoWire,
        country_code: str,
        party_id: str,
        business_name: str,
        accepted_token: str,
        published: Published,
        hub_client_info: bool = False,
        trailing_slash: str = "",
        ack_data: str = "as_spec",
        not_found: str = "http_404",
        paging: Paging | None = None,
        dress: Callable[[Any], Any] | None = None,
    ) -> None:
        """The dialect's say (read by OcpiParty): `trailing_slash` ends every URL it publishes;
        `ack_data` "absent" leaves `data` out of every answer; `not_found` answers a GET of an
        unknown object HTTP 404 (status_codes: "the server SHOULD return a HTTP 404") or 200 + 2003;
        `paging` shapes the Sender lists; `dress` formats the objects they list."""
        self.base_url = base_url.rstrip("/")
        self._slash = trailing_slash
        self._data = ack_data == "as_spec"
        self._not_found_http = 404 if not_found == "http_404" else 200
        self._paging = paging or Paging()
        self._dress = dress or (lambda body: body)
        self.wire = wire
        self.country_code, self.party_id, self.business_name = country_code, party_id, business_name
        self._accepted = accepted_token
        self.published = published
        self.tokens = TokenCopy()  # the Tokens as the eMSP pushed them, by uid in any case
        self._endpoints = ENDPOINTS + ((("hubclientinfo", "RECEIVER"),) if hub_client_info else ())
        self.client_info: dict[tuple[str, str], dict[str, Any]] = {}  # party -> ClientInfo the hub pushed
        # mod_commands Receiver: (command, body, now) -> CommandResponse; None: NOT_SUPPORTED
        self.on_command: Callable[[str, Mapping[str, Any], datetime], dict[str, Any]] | None = None

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions{self._slash}"

    def own_credentials(self, token: str) -> dict[str, Any]:
        return self.wire.credentials(
            token, self.versions_url, self.country_code, self.party_id, self.business_name
        )

    def _token_ok(self, request: HttpRequest) -> bool:
        value = request.header("Authorization") or ""
        if not value.startswith("Token "):
            return False
        raw = value[len("Token ") :]
        try:
            decoded = base64.b64decode(raw, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = raw
        return self._accepted in (decoded, raw)

    def details(self) -> dict[str, Any]:
        version = self.wire.version
        endpoints = []
        for module, role in self._endpoints:
            entry = {"identifier": module}
            if self.wire.endpoint_roles:
                entry["role"] = role
            endpoints.append(entry | {"url": f"{self.base_url}/{version}/{module}{self._slash}"})
        return {"version": version, "endpoints": endpoints}

    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse:
        headers = {"Content-Type": "application/json"}
        for name in ("X-Request-ID", "X-Correlation-ID"):
            if (value := request.header(name)) is not None:
                headers[name] = value
        if not self._token_ok(request):
            return self._reply(401, 2000, "invalid or missing token", None, now, headers)
        prefix = urlsplit(self.base_url).path.rstrip("/")
        path = request.path.rstrip("/")
        version = self.wire.version
        if path == f"{prefix}/versions" and request.method == "GET":
            data = [{"version": version, "url": f"{self.base_url}/{version}{self._slash}"}]
            return self._reply(200, 1000, "", data, now, headers)
        if path == f"{prefix}/{version}" and request.method == "GET":
            return self._reply(200, 1000, "", self.details(), now, headers)
        module_path = path.removeprefix(f"{prefix}/{version}/")
        if module_path == path:
            return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)
        module, *rest = [unquote(p) for p in module_path.split("/")]
        try:
            if module == "tokens":
                return self._tokens(request, rest, now, headers)
            if module == "commands":
                return self._command(request, rest, now, headers)
            if module == "hubclientinfo" and ("hubclientinfo", "RECEIVER") in self._endpoints:
                return self._client_info(request, rest, now, headers)
            if request.method != "GET":
                return self._reply(405, 2000, "method not allowed", None, now, headers)
            if module == "credentials" and not rest:
                return self._reply(200, 1000, "", self.own_credentials(self._accepted), now, headers)
            if module == "locations" and rest:
                return self._location(rest, now, headers)
            if module in LISTS and not rest:
                page = self.published.page(module, request.url, request.query, self._paging, now)
                return self._reply(200, 1000, "", self._dress(page.items), now, headers | page.headers)
        except BadQuery as exc:
            return self._reply(400, 2001, str(exc), None, now, headers)
        return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)

    def _location(self, rest: list[str], now: datetime, headers: dict[str, str]) -> HttpResponse:
        """GET one Location, EVSE or Connector: /locations/{location_id}[/{evse_uid}[/{connector_id}]]."""
        found: Any = self.published.get("locations", rest[0]) if len(rest) <= 3 else None
        if found is not None and len(rest) >= 2:
            found = next((e for e in found.get("evses", []) if e.get("uid") == rest[1]), None)
        if found is not None and len(rest) == 3:
            found = next((c for c in found.get("connectors", []) if c.get("id") == rest[2]), None)
        if found is None:
            message = "unknown location, EVSE or connector"
            return self._reply(self._not_found_http, 2003, message, None, now, headers)
        return self._reply(200, 1000, "", self._dress(found), now, headers)

    def _tokens(
        self, request: HttpRequest, rest: list[str], now: datetime, headers: dict[str, str]
    ) -> HttpResponse:
        if len(rest) != 3:
            return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)
        uid = rest[2]
        if not (0 < len(uid) <= 36 and uid.isascii() and uid.isprintable()):
            # Token.uid is a CiString(36) (2.1.1 to 2.3.0): no such token can exist, nothing is stored.
            message = "token uid must be a CiString(36): 1 to 36 printable ASCII characters"
            return self._reply(400, 2001, message, None, now, headers)
        if request.method == "GET":
            token = self.tokens.get(uid)
            if token is None:
                return self._reply(self._not_found_http, 2004, "unknown token", None, now, headers)
            return self._reply(200, 1000, "", token, now, headers)
        if request.method not in ("PUT", "PATCH"):
            return self._reply(405, 2000, "method not allowed", None, now, headers)
        try:
            body = loads(request.body or "")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._reply(400, 2001, "the body must be a JSON object", None, now, headers)
        if request.method == "PUT":
            if body.get("uid") != uid:
                return self._reply(400, 2001, "the Token's uid differs from the URL", None, now, headers)
            self.tokens.put(body, request.body)
        elif not self.tokens.patch(uid, body):
            return self._reply(404, 2004, "unknown token: PUT it first", None, now, headers)
        return self._reply(200, 1000, "", None, now, headers)

    def _command(
        self, request: HttpRequest, rest: list[str], now: datetime, headers: dict[str, str]
    ) -> HttpResponse:
        """POST {commands}/{command}: the CommandResponse (mod_commands Receiver interface)."""
        if len(rest) != 1:
            return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)
        if request.method != "POST":
            return self._reply(405, 2000, "method not allowed", None, now, headers)
        try:
            body = loads(request.body or "")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._reply(400, 2001, "the body must be a JSON object", None, now, headers)
        if self.on_command is None:
            return self._reply(200, 1000, "", self.wire.command_response("NOT_SUPPORTED", 0), now, headers)
        return self._reply(200, 1000, "", self.on_command(rest[0], body, now), now, headers)

    def _client_info(
        self, request: HttpRequest, rest: list[str], now: datetime, headers: dict[str, str]
    ) -> HttpResponse:
        if len(rest) != 2:
            return self._reply(404, 2000, f"no such endpoint {request.path}", None, now, headers)
        party = (rest[0].upper(), rest[1].upper())
        if request.method == "GET":
            known = self.client_info.get(party)
            if known is None:
                return self._reply(self._not_found_http, 2003, "unknown party", None, now, headers)
            return self._reply(200, 1000, "", known, now, headers)
        if request.method not in ("PUT", "PATCH"):
            return self._reply(405, 2000, "method not allowed", None, now, headers)
        try:
            body = loads(request.body or "")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._reply(400, 2001, "the body must be a JSON object", None, now, headers)
        if request.method == "PATCH" and party not in self.client_info:
            return self._reply(404, 2003, "unknown party: PUT it first", None, now, headers)
        self.client_info[party] = self.client_info.get(party, {}) | body
        return self._reply(200, 1000, "", None, now, headers)

    def _reply(
        self, http: int, code: int, message: str, data: Any, now: datetime, headers: dict[str, str]
    ) -> HttpResponse:
        envelope: dict[str, Any] = {"status_code": code, "timestamp": format_utc(now)}
        if data is not None and self._data:
            envelope["data"] = data
        if message:
            envelope["status_message"] = message
        return HttpResponse(status=http, headers=headers, body=dumps(envelope))
