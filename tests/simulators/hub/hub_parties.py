"""Test doubles around the hub: a fake CPO / eMSP speaking OCPI 2.2.1 wire JSON, and an in-memory net.

`FakeParty` serves its own versions, details, credentials, HubClientInfo and module endpoints,
records every request it receives, and calls the hub through `call()`. `Net` moves requests
between the parties and the hub at one `now`, like a runtime with zero latency; a party can be
`down` (connection refused) or `silent` (takes the request, never answers).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from emsp.core import EmspCore
from emsp.timeutil import format_utc
from emsp.wire import Deferred, HttpRequest, HttpResponse, OutboundRequest, dumps, loads
from simulators.hub import OcpiHub

HUB_VERSIONS = "http://hub.local/ocpi/versions"
INTERFACE = {"CPO": "SENDER", "EMSP": "RECEIVER"}  # the party's interface of a CPO-owned module
CPO_OWNED = ("locations", "tariffs", "sessions", "cdrs")
EMSP_OWNED = ("tokens", "commands")
PAGE = 10
CORE = "emsp"  # the hub's connection id of a real eMSP core in the net


@dataclass(frozen=True)
class Received:
    method: str
    module: str
    suffix: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class FakeParty:
    name: str
    country_code: str
    party_id: str
    role: str  # CPO or EMSP
    token_a_for_hub: str = ""  # the token A the hub operator gave us (we register with the hub)
    token_a_issued: str = ""  # the token A we gave the hub (the hub registers with us)
    known_tokens: tuple[str, ...] = ()  # token uids we authorize (eMSP)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # what our GET lists return
    received: list[Received] = field(default_factory=list)
    client_info: dict[str, str] = field(default_factory=dict)  # "CC/PID" -> status pushed to us
    answers: dict[str, HttpResponse] = field(default_factory=dict)  # our request id -> the hub's answer
    outbox: list[OutboundRequest] = field(default_factory=list)
    hub_token: str = ""  # what we authenticate with at the hub
    accepted: set[str] = field(default_factory=set)  # tokens we accept
    hub_endpoints: dict[tuple[str, str], str] = field(default_factory=dict)
    _steps: dict[str, str] = field(default_factory=dict)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.accepted |= {self.token_a_issued} - {""}

    @property
    def base(self) -> str:
        return f"http://{self.name}.local/ocpi"

    @property
    def versions_url(self) -> str:
        return f"{self.base}/versions"

    def endpoints(self) -> list[dict[str, str]]:
        out = [
            {"identifier": "credentials", "role": "RECEIVER", "url": f"{self.base}/2.2.1/credentials"},
            {"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{self.base}/2.2.1/hubclientinfo"},
        ]
        for module in CPO_OWNED:
            out.append(
                {"identifier": module, "role": INTERFACE[self.role], "url": f"{self.base}/2.2.1/{module}"}
            )
        mine = "RECEIVER" if self.role == "CPO" else "SENDER"
        for module in EMSP_OWNED:
            out.append({"identifier": module, "role": mine, "url": f"{self.base}/2.2.1/{module}"})
        return out

    def credentials(self, token: str) -> dict[str, Any]:
        roles = [
            {
                "role": self.role,
                "country_code": self.country_code,
                "party_id": self.party_id,
                "business_details": {"name": self.name},
            }
        ]
        return {"token": token, "url": self.versions_url, "roles": roles}

    # ------------------------------------------------------------------ client
    def _request(
        self,
        method: str,
        url: str,
        now: datetime,
        *,
        body: Any = None,
        step: str = "",
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> OutboundRequest:
        self._counter += 1
        request_id = f"{self.name}-{self._counter}"
        encoded = base64.b64encode((token or self.hub_token).encode()).decode()
        out = {
            "Authorization": f"Token {encoded}",
            "X-Request-ID": request_id,
            "X-Correlation-ID": f"corr-{request_id}",
        }
        out |= headers or {}
        if body is not None:
            out["Content-Type"] = "application/json"
        outbound = OutboundRequest(
            request_id, "hub", HttpRequest(method, url, out, None if body is None else dumps(body))
        )
        self.outbox.append(outbound)
        if step:
            self._steps[request_id] = step
        return outbound

    def register_with_hub(self, now: datetime) -> None:
        self._request("GET", HUB_VERSIONS, now, step="versions", token=self.token_a_for_hub)

    def call(
        self,
        method: str,
        module: str,
        interface: str,
        suffix: str,
        now: datetime,
        *,
        body: Any = None,
        to: tuple[str, str] | None = None,
        sender: tuple[str, str] | None = None,
        omit: str | None = None,
    ) -> str:
        """A routed request to the hub; `omit` leaves out the "to" or "from" routing headers."""
        sender = sender or (self.country_code, self.party_id)
        headers = {}
        if omit != "from":
            headers |= {"OCPI-from-country-code": sender[0], "OCPI-from-party-id": sender[1]}
        if to is not None and omit != "to":
            headers |= {"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]}
        url = self.hub_endpoints[(module, interface)] + suffix
        return self._request(method, url, now, body=body, headers=headers).request_id

    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> None:
        self.answers[request_id] = response
        step = self._steps.pop(request_id, "")
        data = response.json().get("data") if response.body else None
        if step == "versions":
            self._request("GET", data[0]["url"], now, step="details", token=self.token_a_for_hub)
        elif step == "details":
            self.hub_endpoints = {(e["identifier"], e["role"]): e["url"] for e in data["endpoints"]}
            if not self.hub_token:  # we register: POST our credentials with token A
                token_b = f"{self.name}-token-b"
                self.accepted.add(token_b)
                url = self.hub_endpoints[("credentials", "RECEIVER")]
                self._request(
                    "POST",
                    url,
                    now,
                    body=self.credentials(token_b),
                    step="credentials",
                    token=self.token_a_for_hub,
                )
        elif step == "credentials" and data is not None:
            self.hub_token = data["token"]

    # ------------------------------------------------------------------ server
    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse:
        echo = {k: v for k in ("X-Request-ID", "X-Correlation-ID") if (v := request.header(k)) is not None}
        routing = {}
        for a, b in (("from", "to"), ("to", "from")):
            for part in ("country-code", "party-id"):
                if (value := request.header(f"OCPI-{a}-{part}")) is not None:
                    routing[f"OCPI-{b}-{part}"] = value
        headers = echo | routing

        def answer(
            code: int, data: Any = None, http: int = 200, extra: dict[str, str] | None = None
        ) -> HttpResponse:
            envelope = {"status_code": code, "timestamp": format_utc(now)} | (
                {"data": data} if data is not None else {}
            )
            return HttpResponse(
                http, headers | (extra or {}) | {"Content-Type": "application/json"}, dumps(envelope)
            )

        auth = request.header("Authorization") or ""
        token = base64.b64decode(auth.removeprefix("Token ")).decode() if auth.startswith("Token ") else ""
        if token not in self.accepted:
            return answer(2000, http=401)
        path = urlsplit(request.url).path.removeprefix(urlsplit(self.base).path)
        body = loads(request.body) if request.body else None
        if path == "/versions":
            return answer(1000, [{"version": "2.2.1", "url": f"{self.base}/2.2.1"}])
        if path == "/2.2.1":
            return answer(1000, {"version": "2.2.1", "endpoints": self.endpoints()})
        if path == "/2.2.1/credentials" and request.method == "POST":  # the hub registers with us
            self.hub_token = body["token"]
            token_c = f"{self.name}-token-c"
            self.accepted.add(token_c)
            self.accepted.discard(self.token_a_issued)
            self._request("GET", HUB_VERSIONS, now, step="learn-versions")
            return answer(1000, self.credentials(token_c))
        module, _, suffix = path.removeprefix("/2.2.1/").partition("/")
        suffix = "/" + suffix if suffix else ""
        query = dict(parse_qsl(urlsplit(request.url).query))
        self.received.append(Received(request.method, module, suffix, query, dict(request.headers), body))
        if module == "hubclientinfo":
            self.client_info[f"{body['country_code']}/{body['party_id']}"] = body["status"]
            return answer(1000)
        if request.method == "GET" and not suffix:
            items = self.objects.get(module, [])
            offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", PAGE)), PAGE)
            extra = {"X-Total-Count": str(len(items)), "X-Limit": str(PAGE)}
            if offset + limit < len(items):
                following = urlencode({"offset": offset + limit, "limit": limit})
                extra["Link"] = f'<{self.base}/2.2.1/{module}?{following}>; rel="next"'
            return answer(1000, items[offset : offset + limit], extra=extra)
        if module == "tokens" and suffix.endswith("/authorize"):
            uid = suffix.split("/")[1]
            if uid not in self.known_tokens:
                return answer(2004, http=404)
            return answer(1000, {"allowed": "ALLOWED", "token": {"uid": uid}})
        if module == "cdrs" and request.method == "POST":
            return answer(1000, http=201, extra={"Location": f"{self.base}/2.2.1/cdrs/{body['id']}"})
        return answer(1000)

    def learnt_hub(self, request_id: str, response: HttpResponse, now: datetime) -> bool:
        """Follow-up of the hub registering with us: learn its endpoints with the token it gave."""
        step = self._steps.get(request_id)
        if step == "learn-versions":
            del self._steps[request_id]
            self._request("GET", response.json()["data"][0]["url"], now, step="learn-details")
            return True
        if step == "learn-details":
            del self._steps[request_id]
            data = response.json()["data"]
            self.hub_endpoints = {(e["identifier"], e["role"]): e["url"] for e in data["endpoints"]}
            return True
        return False


class Net:
    """Moves every request at once (no latency) until nothing moves; `now` is the caller's."""

    def __init__(self, hub: OcpiHub, parties: list[FakeParty], core: EmspCore | None = None) -> None:
        """`core`, a real eMSP, is the hub's connection "emsp" (and all its calls go to the hub)."""
        self.hub = hub
        self.parties = {party.name: party for party in parties}
        self.core = core
        self._core_waiting: dict[str, str] = {}  # the core's deferred id -> the hub's request id
        self.down: set[str] = set()
        self.silent: set[str] = set()
        self.lost: set[str] = set()  # they serve the request, but the answer never reaches the hub
        self.hub_sent: list[OutboundRequest] = []  # every request the hub sent, in order
        self._waiting: dict[str, tuple[FakeParty | str, str]] = {}

    def run(self, now: datetime) -> None:
        moved = True
        while moved:
            moved = False
            for party in self.parties.values():
                out, party.outbox = party.outbox, []
                for outbound in out:
                    moved = True
                    response = self.hub.handle(outbound.request, now)
                    if isinstance(response, Deferred):
                        self._waiting[response.deferred_id] = (party, outbound.request_id)
                    else:
                        self._deliver(party, outbound.request_id, response, now)
            moved = self._run_core(now) or moved
            for outbound in self.hub.pending_requests():
                moved = True
                self.hub_sent.append(outbound)
                if self.core is not None and outbound.partner == CORE:
                    answer = self.core.handle(outbound.request, now)
                    if isinstance(answer, Deferred):
                        self._core_waiting[answer.deferred_id] = outbound.request_id
                    else:
                        self.hub.on_response(outbound.request_id, answer, now)
                    continue
                party = self.parties[outbound.partner]
                if party.name in self.down:
                    self.hub.on_unreachable(outbound.request_id, now)
                    continue
                response = party.handle(outbound.request, now)
                if party.name in self.lost:
                    self.hub.on_lost(outbound.request_id, now)
                elif party.name not in self.silent:
                    self.hub.on_response(outbound.request_id, response, now)
            for deferred_id, response in self.hub.completed_responses():
                moved = True
                waiter, request_id = self._waiting.pop(deferred_id)
                if isinstance(waiter, FakeParty):
                    self._deliver(waiter, request_id, response, now)
                elif self.core is not None:
                    self.core.on_response(request_id, response, now)

    def _run_core(self, now: datetime) -> bool:
        if self.core is None:
            return False
        moved = False
        for outbound in self.core.pending_requests():
            moved = True
            response = self.hub.handle(outbound.request, now)
            if isinstance(response, Deferred):
                self._waiting[response.deferred_id] = (CORE, outbound.request_id)
            else:
                self.core.on_response(outbound.request_id, response, now)
        for deferred_id, response in self.core.completed_responses():
            moved = True
            self.hub.on_response(self._core_waiting.pop(deferred_id), response, now)
        return moved

    @staticmethod
    def _deliver(party: FakeParty, request_id: str, response: HttpResponse, now: datetime) -> None:
        if not party.learnt_hub(request_id, response, now):
            party.on_response(request_id, response, now)

    def wake(self, now: datetime) -> None:
        self.hub.on_wakeup(now)
        self.run(now)

    def sent_to(self, name: str) -> list[HttpRequest]:
        return [o.request for o in self.hub_sent if o.partner == name]
