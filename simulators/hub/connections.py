"""The hub's plumbing toward its connected parties: outbound calls, deadlines, connection status.

HubBase numbers and sends the hub's own requests (each with a deadline), completes answers the
hub owed (`Deferred`), runs the credentials handshakes in both directions, keeps each connection's
status and pushes HubClientInfo on every change, and probes offline parties (mod_hub_client_info,
"Still alive check": a GET on their versions endpoint). Routing lives in OcpiHub (hub.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest, dumps
from simulators.hub.client_info import ClientInfoBook
from simulators.hub.envelope import Party, authorization, party, reply
from simulators.hub.handshake import Credentials, HandshakeFailed, Learnt, Registration
from simulators.hub.persona import HubPersona
from simulators.hub.registry import Connection, PartyRole, Registry, Status
from simulators.hub.truth import HubTruth
from simulators.hub.urls import HubUrls

# The hub retries a registration that got no answer after these steps (as a CPO retries its own
# handshake, simulators/cpo/retry.py): the last one repeats until the party answers.
REGISTER_BACKOFF = tuple(timedelta(seconds=s) for s in (1, 2, 4, 8, 16, 32, 60))


@dataclass(slots=True)
class Call:
    """A request the hub sent and waits on; `context` is what its answer is needed for."""

    kind: str  # forward, broadcast, stored, clientinfo, probe, register, fetch
    connection_id: str  # whom it went to
    request: HttpRequest
    deadline: datetime
    context: dict[str, Any] = field(default_factory=dict)
    wait: timedelta = timedelta(0)  # how long the hub waits for its answer (deadline - sent)


class HubBase:
    def __init__(
        self,
        *,
        hub_id: str,
        country_code: str,
        party_id: str,
        business_name: str,
        base_url: str,
        persona: HubPersona,
    ) -> None:
        self.hub_id = hub_id
        self.party: Party = party(country_code, party_id)
        self.business_name = business_name
        self.persona = persona
        self.urls = HubUrls(base_url)
        self.registry = Registry()
        self.truth = HubTruth()
        self._book = ClientInfoBook()
        self._timeout = timedelta(seconds=persona.forward_timeout_s)
        self._probe_every = timedelta(seconds=persona.offline_probe_s)
        self._counter = 0
        self._outbox: list[OutboundRequest] = []
        self._calls: dict[str, Call] = {}  # request id -> call, in the order sent
        self._given_up: set[str] = set()  # calls the hub stopped waiting for (a late answer is recorded)
        self._completed: dict[str, HttpResponse] = {}  # deferred id -> final answer, in order made
        self._probe_at: dict[str, datetime] = {}
        self._register_at: dict[str, datetime] = {}  # connection id -> when to register again
        self._register_step: dict[str, int] = {}  # connection id -> backoff step of its next retry
        # The runtime times the hub's calls out itself (`on_timeout`), not the hub's deadlines: the
        # live runtime, whose scenario clock runs `speed` times faster than the wall, would otherwise
        # magnify a partner's real processing time into timeouts that sim never sees.
        self.timeouts_by_runtime = False

    # ------------------------------------------------------------ configuration
    def add_connection(
        self,
        connection_id: str,
        parties: Iterable[PartyRole],
        now: datetime,
        *,
        token_a: str | None = None,
        versions_url: str | None = None,
        their_token_a: str | None = None,
    ) -> None:
        """Configure a connection: `token_a` for a party that registers with the hub, or its
        `versions_url` and `their_token_a` for the hub to register toward it (`register`)."""
        allowed = tuple(PartyRole(p.country_code.upper(), p.party_id.upper(), p.role) for p in parties)
        connection = Connection(connection_id, allowed, token_a=token_a, versions_url=versions_url)
        connection.token_out = their_token_a
        self.registry.add(connection)
        self._set_status(connection, Status.PLANNED, now)

    def register(self, connection_id: str, now: datetime) -> None:
        """The hub registers toward a party (credentials, Registration: the hub is the Sender)."""
        connection = self.registry[connection_id]
        if connection.versions_url is None or connection.token_out is None:
            raise ValueError(
                f"hub connection {connection_id!r} has no versions URL and token A to register with"
            )
        connection.token_in = self._new_token()  # token B: the party uses it to fetch our versions
        ours = self.own_credentials(connection.token_in)
        handshake = Registration(
            connection.versions_url, connection.token_out, ours=ours, allowed=connection.allowed
        )
        self.send("register", connection, handshake.start(), now, handshake=handshake)

    def set_status(self, connection_id: str, status: Status, now: datetime) -> None:
        """The operator's word on a connection (e.g. SUSPENDED: it will not connect again)."""
        self._set_status(self.registry[connection_id], status, now)

    def own_credentials(self, token: str) -> dict[str, Any]:
        # credentials, Credentials object: a hub reports itself with role HUB only.
        role = {
            "role": "HUB",
            "country_code": self.party[0],
            "party_id": self.party[1],
            "business_details": {"name": self.business_name},
        }
        return {"token": token, "url": self.urls.versions, "roles": [role]}

    @property
    def added_latency(self) -> timedelta:
        """The runtime holds every request the hub sends and every answer it gives this much longer."""
        return timedelta(milliseconds=self.persona.added_latency_ms)

    # --------------------------------------------------------- runtime interface
    def pending_requests(self) -> list[OutboundRequest]:
        out, self._outbox = self._outbox, []
        return out

    def completed_responses(self) -> list[tuple[str, HttpResponse]]:
        """Answers to requests `handle()` deferred: (deferred id, response)."""
        out, self._completed = list(self._completed.items()), {}
        return out

    def take_response(self, deferred_id: str) -> HttpResponse | None:
        """The answer to one deferred request once it is there (given once); as the eMSP core's, so
        the live runtime's ASGI front (emsp/api.py, DeferredResponses) can serve the hub too."""
        return self._completed.pop(deferred_id, None)

    # ------------------------------------------------------------------ plumbing
    def _next_id(self) -> str:
        self._counter += 1
        return f"{self.hub_id}-{self._counter:06d}"

    def _new_token(self) -> str:
        return f"{self._next_id()}-token"

    def send(
        self,
        kind: str,
        connection: Connection,
        request: HttpRequest,
        now: datetime,
        *,
        wait: timedelta | None = None,
        **context: Any,
    ) -> str:
        """Queue a request with a fresh X-Request-ID (transport_and_format, Unique message IDs),
        answered within `wait` (None: the persona's forward timeout)."""
        request_id = self._next_id()
        headers = dict(request.headers)
        headers["X-Request-ID"] = request_id
        headers.setdefault("X-Correlation-ID", request_id)
        if connection.token_out is not None and "Authorization" not in headers:
            headers["Authorization"] = authorization(connection.token_out)
        outbound = HttpRequest(request.method, request.url, headers, request.body)
        self._outbox.append(OutboundRequest(request_id, connection.id, outbound))
        wait = self._timeout if wait is None else wait
        self._calls[request_id] = Call(kind, connection.id, outbound, now + wait, context, wait)
        return request_id

    def complete(self, deferred_id: str, response: HttpResponse) -> None:
        self._completed[deferred_id] = response

    def _expired(self, now: datetime) -> list[tuple[str, Call]]:
        if self.timeouts_by_runtime:
            return []
        expired = [(rid, call) for rid, call in self._calls.items() if call.deadline <= now]
        for request_id, _call in expired:
            del self._calls[request_id]
            self._given_up.add(request_id)
        return expired

    def _deadlines(self) -> list[datetime]:
        calls = [] if self.timeouts_by_runtime else [call.deadline for call in self._calls.values()]
        return calls + list(self._probe_at.values()) + list(self._register_at.values())

    def _retry_registrations(self, now: datetime) -> None:
        for connection_id, at in list(self._register_at.items()):
            if at <= now:
                del self._register_at[connection_id]
                self.register(connection_id, now)

    def forward_timeout(self) -> timedelta:
        """How long the hub waits for an answer to a call it sent (the persona's forward_timeout_s)."""
        return self._timeout

    def call_timeout(self, request_id: str) -> timedelta:
        """How long the hub waits for the answer to this call (a credentials POST of its own
        registration waits longer: `_handshake_step`); the forward timeout for one it forgot."""
        call = self._calls.get(request_id)
        return self._timeout if call is None else call.wait

    # ------------------------------------------------------------------ status
    def _set_status(self, connection: Connection, status: Status, now: datetime) -> None:
        was = connection.status
        connection.status = status
        if status is Status.OFFLINE:
            self._probe_at.setdefault(connection.id, now + self._probe_every)
        else:
            self._probe_at.pop(connection.id, None)
        changed = [
            role for role in connection.roles or connection.allowed if self._book.set(role, status, now)
        ]
        receivers = [c for c in self.registry.all() if c.id != connection.id]
        for role in changed:
            for receiver in receivers:
                self._push_client_info(receiver, role.key, now)
        if status is Status.CONNECTED and was is not Status.CONNECTED:
            # The newcomer learns of everyone else too (mod_hub_client_info, Push model).
            own = {role.key for role in connection.roles}
            for key in self._book.parties():
                if key not in own:
                    self._push_client_info(connection, key, now)

    def _push_client_info(self, receiver: Connection, key: Party, now: datetime) -> None:
        url = receiver.endpoint("hubclientinfo", "RECEIVER")
        if receiver.status is not Status.CONNECTED or url is None:
            return
        info = self._book.object(key)
        # Configuration module: no routing headers (transport_and_format, Message Routing Headers).
        request = HttpRequest(
            "PUT",
            f"{url.rstrip('/')}/{key[0]}/{key[1]}",
            {"Content-Type": "application/json"},
            dumps(info),
        )
        self.send("clientinfo", receiver, request, now)
        self.truth.client_info.append((format_utc(now), receiver.id, f"{key[0]}/{key[1]}", info["status"]))

    def _probe_offline(self, now: datetime, busy: set[str]) -> None:
        """Still alive check of offline parties whose queue is not probing already."""
        for connection_id, at in list(self._probe_at.items()):
            connection = self.registry[connection_id]
            if at > now or connection.versions_url is None:
                continue
            self._probe_at[connection_id] = now + self._probe_every
            if connection_id not in busy:
                self.send("probe", connection, HttpRequest("GET", connection.versions_url), now)

    def _alive(self, connection: Connection, now: datetime) -> None:
        """Something came from the party or it answered: an offline connection is back."""
        if connection.status is Status.OFFLINE:
            self._set_status(connection, Status.CONNECTED, now)

    # --------------------------------------------------------------- handshakes
    def _credentials_inbound(
        self, connection: Connection, creds: Credentials, deferred_id: str, now: datetime
    ) -> None:
        handshake = Registration(creds.url, creds.token)
        self.send(
            "fetch",
            connection,
            handshake.start(),
            now,
            handshake=handshake,
            creds=creds,
            deferred=deferred_id,
        )

    def _handshake_step(self, call: Call, response: HttpResponse | None, now: datetime) -> None:
        connection = self.registry[call.connection_id]
        handshake: Registration = call.context["handshake"]
        try:
            if response is None:
                raise HandshakeFailed(3001, "the party did not answer the hub's handshake call")
            step = handshake.on_response(response)
        except HandshakeFailed as failed:
            self.truth.refused.append((format_utc(now), connection.id, failed.code, failed.message))
            if call.kind == "fetch":
                self.complete(call.context["deferred"], reply(failed.code, failed.message, now))
            elif response is None:
                # Our own registration got no answer (the party is down, or a 502/503/504): start
                # over after a backoff step, else the parties behind the hub never reach it. A
                # party that answered and refused is not asked again (the operator must fix that).
                backoff = self._register_step.get(connection.id, 0)
                self._register_at[connection.id] = now + REGISTER_BACKOFF[backoff]
                self._register_step[connection.id] = min(backoff + 1, len(REGISTER_BACKOFF) - 1)
            return
        if isinstance(step, HttpRequest):  # it carries the handshake's own token (A, or the party's)
            # The party answers our credentials POST only once it has fetched our versions and
            # details (credentials, Registration): two calls of its own to us, each of which may
            # take as long as a call of ours. A bilateral CPO waits for that answer whatever it takes.
            nested = step.method == "POST" and call.kind == "register"
            self.send(
                call.kind, connection, step, now, wait=self._timeout * 3 if nested else None, **call.context
            )
            return
        self._registered(connection, call, step, now)

    def _registered(self, connection: Connection, call: Call, learnt: Learnt, now: datetime) -> None:
        connection.endpoints = dict(learnt.endpoints)
        if call.kind == "fetch":
            creds: Credentials = call.context["creds"]
            connection.token_out, connection.versions_url, connection.roles = (
                creds.token,
                creds.url,
                creds.roles,
            )
            connection.token_in = self._new_token()  # token C
            self.complete(
                call.context["deferred"], reply(1000, "", now, data=self.own_credentials(connection.token_in))
            )
        else:
            assert learnt.credentials is not None
            connection.token_out, connection.roles = learnt.credentials.token, learnt.credentials.roles
        connection.registered = True
        self.truth.registered.append((format_utc(now), connection.id))
        self._register_step.pop(connection.id, None)
        self._set_status(connection, Status.CONNECTED, now)
