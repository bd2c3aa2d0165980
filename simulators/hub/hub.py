"""A sans-IO OCPI 2.2.1 roaming hub (transport_and_format, Message Routing; mod_hub_client_info).

The runtime calls `handle(request, now)` for every request to the hub: the hub answers its own
modules (versions, credentials, hubclientinfo) at once and forwards a routed one, answering
`Deferred`; it sends what `pending_requests()` returns, feeds answers to `on_response()` (or
`on_unreachable()` when the connection was refused), collects `completed_responses()`, and calls
`on_wakeup(now)` at `next_wakeup()`. `added_latency` is the hub's own delay on every message.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from emsp.timeutil import format_utc
from emsp.wire import Deferred, HttpRequest, HttpResponse, loads
from simulators.hub.connections import Call
from simulators.hub.envelope import (
    VERSION,
    HubRefusal,
    ocpi_status,
    reply,
    routing_headers,
    routing_party,
    token_of,
)
from simulators.hub.handshake import HandshakeFailed, parse_credentials
from simulators.hub.persona import HubPersona
from simulators.hub.registry import Connection, Status
from simulators.hub.routing import HubRouting

RETRYABLE_HTTP = frozenset({502, 503, 504})  # the receiver is there but not serving: no OCPI answer
MESSAGES = ("forward", "broadcast", "stored")


class OcpiHub(HubRouting):
    def __init__(
        self,
        *,
        hub_id: str,
        country_code: str,
        party_id: str,
        base_url: str,
        persona: HubPersona,
        business_name: str = "Roaming hub",
    ) -> None:
        super().__init__(
            hub_id=hub_id,
            country_code=country_code,
            party_id=party_id,
            business_name=business_name,
            base_url=base_url,
            persona=persona,
        )

    # ------------------------------------------------------------------ inbound
    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse | Deferred:
        echo = {
            name: value for name in ("X-Request-ID", "X-Correlation-ID") if (value := request.header(name))
        }
        relative = self.urls.relative(request.path)
        if relative is None:
            return reply(2000, f"{request.path} is not a hub URL", now, http=404, headers=echo)
        token = token_of(request)
        found = self.registry.by_token(token) if token else None
        if found is None:
            headers = {**echo, "WWW-Authenticate": "Token"}
            return reply(2000, "missing or unknown credentials token", now, http=401, headers=headers)
        connection, registration_only = found
        configuration = relative in ("/versions", f"/{VERSION}", f"/{VERSION}/credentials")
        if registration_only and not configuration:
            # transport_and_format, Authorization header: token A opens versions and credentials only.
            return reply(2000, "this token is for registration only", now, http=401, headers=echo)
        if not registration_only:
            self._alive(connection, now)
        try:
            return self._dispatch(connection, request, relative, now, echo)
        except HubRefusal as refusal:
            self.truth.refused.append((format_utc(now), connection.id, refusal.code, refusal.message))
            headers = echo | self._answer_routing(connection, request)
            return reply(refusal.code, refusal.message, now, http=refusal.http, headers=headers)

    def _dispatch(
        self, connection: Connection, request: HttpRequest, relative: str, now: datetime, echo: dict[str, str]
    ) -> HttpResponse | Deferred:
        if relative == f"/{VERSION}/credentials":
            return self._credentials(connection, request, now, echo)
        if relative in ("/versions", f"/{VERSION}", f"/{VERSION}/hubclientinfo") and request.method != "GET":
            return reply(
                2000, f"{request.method} is not allowed here", now, http=405, headers=echo | {"Allow": "GET"}
            )
        if relative == "/versions":
            return reply(1000, "", now, data=[{"version": VERSION, "url": self.urls.details}], headers=echo)
        if relative == f"/{VERSION}":
            details = {"version": VERSION, "endpoints": self.urls.own_endpoints()}
            return reply(1000, "", now, data=details, headers=echo)
        if relative == f"/{VERSION}/hubclientinfo":
            try:
                data, paging = self._book.page(self.urls.endpoint("hubclientinfo"), request.query)
            except ValueError as exc:
                return reply(2001, str(exc), now, headers=echo)
            return reply(1000, "", now, data=data, headers=echo | paging)
        target = self.urls.target(relative, urlsplit(request.url).query)
        if target is None:
            return reply(2000, f"the hub has no endpoint {request.path}", now, http=404, headers=echo)
        return self.route(connection, request, target, now)

    def _credentials(
        self, connection: Connection, request: HttpRequest, now: datetime, echo: dict[str, str]
    ) -> HttpResponse | Deferred:
        method = request.method
        if method == "GET":
            if not connection.registered or connection.token_in is None:
                return reply(2000, "not registered yet", now, http=405, headers=echo)
            return reply(1000, "", now, data=self.own_credentials(connection.token_in), headers=echo)
        if method == "DELETE":
            if not connection.registered:
                return reply(2000, "not registered", now, http=405, headers=echo)
            connection.registered, connection.token_in = False, None
            self._set_status(connection, Status.OFFLINE, now)
            self._probe_at.pop(connection.id, None)  # unregistered: nothing to probe
            return reply(1000, "", now, headers=echo)
        if method not in ("POST", "PUT"):
            return reply(2000, f"{method} is not allowed here", now, http=405, headers=echo)
        # credentials, POST (register) needs an unregistered client; PUT (update) a registered one.
        if (method == "POST") == connection.registered:
            return reply(
                2000,
                f"credentials {method} while {'' if connection.registered else 'not '}registered",
                now,
                http=405,
                headers=echo,
            )
        try:
            body = loads(request.body) if request.body else None
        except ValueError:
            return reply(2001, "the request body is not JSON", now, http=400, headers=echo)
        try:
            creds = parse_credentials(body, connection.allowed)
        except HandshakeFailed as failed:
            return reply(failed.code, failed.message, now, headers=echo)
        deferred_id = self._next_id()
        self._credentials_inbound(connection, creds, deferred_id, now)
        return Deferred(deferred_id)

    # --------------------------------------------------------------- answers
    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> None:
        call = self._calls.pop(request_id, None)
        if call is None:
            if request_id in self._given_up:
                self._outcome(now, request_id, "late", response)
            return
        if response.status in RETRYABLE_HTTP and ocpi_status(response) is None:
            self._failed(request_id, call, now, "unreachable", response)
            return
        self._outcome(now, request_id, "answered", response)
        self._alive(self.registry[call.connection_id], now)
        if call.kind in ("register", "fetch"):
            self._handshake_step(call, response, now)
        elif call.kind in MESSAGES:
            self.delivered(call, response, now)

    def on_unreachable(self, request_id: str, now: datetime) -> None:
        """The request never reached its receiver (connection refused or reset)."""
        call = self._calls.pop(request_id, None)
        if call is not None:
            self._failed(request_id, call, now, "unreachable", None)

    def on_lost(self, request_id: str, now: datetime) -> None:
        """The connection broke after the request left: the receiver may have taken it though no
        answer came. Handled as unreachable, but a message sent again is recorded as a resend
        (truth.resent: the receiver may hold it twice), as after a timeout."""
        call = self._calls.get(request_id)
        if call is not None and call.kind in MESSAGES:
            call.context["message"].uncertain = True
        self.on_unreachable(request_id, now)

    def on_timeout(self, request_id: str, now: datetime) -> None:
        """No answer in time, by the runtime's measure (`timeouts_by_runtime`): as the hub's own
        deadline would have it; an answer that still comes is recorded as late."""
        call = self._calls.pop(request_id, None)
        if call is not None:
            self._given_up.add(request_id)
            self._failed(request_id, call, now, "timeout", None)

    def _failed(
        self, request_id: str, call: Call, now: datetime, why: str, response: HttpResponse | None
    ) -> None:
        self._outcome(now, request_id, why, response)
        connection = self.registry[call.connection_id]
        if why == "unreachable" and connection.status is Status.CONNECTED:
            self._set_status(connection, Status.OFFLINE, now)
        if call.kind in ("register", "fetch"):
            self._handshake_step(call, None, now)
        elif call.kind in MESSAGES:
            self.undelivered(call, now, why)

    def abort_deferred(self, deferred_id: str, now: datetime, reason: str = "no answer in time") -> None:
        """Stop waiting for the call a deferred answer needs (a runtime that gave up on its own
        clock): the sender gets what a timeout gives (4002, or 3001 during registration)."""
        for request_id, call in list(self._calls.items()):
            if call.context.get("deferred") == deferred_id:
                del self._calls[request_id]
                self._given_up.add(request_id)
                self._failed(request_id, call, now, "timeout", None)
                return

    # --------------------------------------------------------------- time
    def next_wakeup(self) -> datetime | None:
        times = self._deadlines()
        if (at := self._store_wakeup()) is not None:
            times.append(at)
        return min(times, default=None)

    def on_wakeup(self, now: datetime) -> None:
        for request_id, call in self._expired(now):
            self._failed(request_id, call, now, "timeout", None)
        self.flush(now)
        self._probe_offline(now, self._holding_ids())  # a holding queue probes by itself
        self._retry_registrations(now)

    def _answer_routing(self, connection: Connection, request: HttpRequest) -> dict[str, str]:
        sender = routing_party(request, "from")
        if sender is None or not connection.speaks_for(sender):
            return {}
        return routing_headers(self.party, sender)
