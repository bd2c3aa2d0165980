"""How the hub routes a request (transport_and_format, Message Routing) and what it does with the
answer: to one party by the `OCPI-to-*` headers, to every party of the opposite role (Broadcast Push,
`OCPI-to-*` naming the hub), or, in an open-routing persona, to the one party that can take it.

`OCPI-from-*` must name a party the sending connection speaks for; every hop gets a new
X-Request-ID and keeps the X-Correlation-ID (transport_and_format, Unique message IDs); the
receiver's answer goes back to the sender with the routing headers swapped. Routing failures are
the hub codes of status_codes: 4001 unknown receiver, 4002 timeout, 4003 receiver not connected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from emsp.wire import Deferred, HttpRequest, HttpResponse, loads
from simulators.hub.connections import Call, HubBase
from simulators.hub.envelope import (
    Party,
    ocpi_status,
    reply,
    routing_headers,
    routing_party,
    without_hop_headers,
)
from simulators.hub.ids import IdRewriter
from simulators.hub.persona import BROADCAST_MODULES, HubPersona
from simulators.hub.registry import Connection, Status
from simulators.hub.store import ForwardStore, Stored
from simulators.hub.transform import Forward, Transformer
from simulators.hub.truth import Fee, Hop, Outcome
from simulators.hub.urls import Target

# Broadcast Push reaches the "opposite role"; OTHER counts as an eMSP-like receiver of CPO data but
# sends to CPOs only (transport_and_format, Broadcast Push).
OPPOSITE = {"CPO": ("EMSP", "NSP", "OTHER"), "EMSP": ("CPO",), "OTHER": ("CPO",)}


class Refused(Exception):
    def __init__(self, code: int, message: str, http: int | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.http = code, message, http


def _name(key: Party) -> str:
    return f"{key[0]}/{key[1]}"


class HubRouting(HubBase):
    def __init__(self, *, persona: HubPersona, **kwargs: Any) -> None:
        super().__init__(persona=persona, **kwargs)
        self._open_routing = persona.routing_headers == "open"
        self._broadcasts = persona.broadcast
        self._store = ForwardStore(persona.store_and_forward) if persona.store_and_forward else None
        self._resend_on_timeout = (
            persona.store_and_forward is not None and persona.store_and_forward.resend_on_timeout
        )
        self._fee = persona.fee_per_session
        ids = IdRewriter(f"{self.party[1]}-", self._record_id)
        self._transform = Transformer(persona, self.urls, ids)
        self._seq = 0
        self._charged: set[tuple[Party, str]] = set()

    # ------------------------------------------------------------------ routing
    def route(
        self, connection: Connection, request: HttpRequest, target: Target, now: datetime
    ) -> HttpResponse | Deferred:
        sender = self._sender(connection, request)
        correlation = request.header("X-Correlation-ID") or self._next_id()
        receiver = routing_party(request, "to")
        if receiver is None:
            receiver = self._open_receiver(connection, sender, request.method, target)
        if receiver == self.party:
            return self._broadcast(connection, sender, request, target, correlation, now)
        return self._to_party(connection, sender, receiver, request, target, correlation, now)

    def _sender(self, connection: Connection, request: HttpRequest) -> Party:
        sender = routing_party(request, "from")
        if sender is None:
            if self._open_routing and len(connection.roles) == 1:
                return connection.roles[0].key
            raise Refused(
                2001, "OCPI-from-country-code and OCPI-from-party-id are required on a routed request"
            )
        if not connection.speaks_for(sender):
            raise Refused(
                2001, f"OCPI-from names {_name(sender)}, a party this connection does not speak for"
            )
        return sender

    def _open_receiver(self, connection: Connection, sender: Party, method: str, target: Target) -> Party:
        """Open Routing Request (transport_and_format): no OCPI-to-*, the hub picks the receiver."""
        if not self._open_routing:
            raise Refused(
                2001, "OCPI-to-country-code and OCPI-to-party-id are required: this hub does no open routing"
            )
        role = self.registry.role_of(sender)
        wanted = OPPOSITE.get(role.role if role else "", ())
        keys = [
            r.key for c in self.registry.all() if c.id != connection.id for r in c.roles if r.role in wanted
        ]
        if len(keys) == 1:
            return keys[0]
        if method != "GET" and target.module in BROADCAST_MODULES:
            return self.party  # undetermined push: broadcast it (Open Routing Request)
        raise Refused(
            2001, "the hub cannot tell whom this is for: send OCPI-to-country-code and OCPI-to-party-id"
        )

    def _to_party(
        self,
        connection: Connection,
        sender: Party,
        receiver: Party,
        request: HttpRequest,
        target: Target,
        correlation: str,
        now: datetime,
    ) -> HttpResponse | Deferred:
        owner = self.registry.owner_of(receiver)
        if owner is None:
            raise Refused(4001, f"unknown receiver {_name(receiver)}: no such party is connected to this hub")
        forward = self._transform.request(connection, sender, request.method, target, request.body)
        headers = self._passed_on(request, correlation)
        stores = self._store is not None and self._store.takes(forward.method, target.module)
        if not owner.registered or owner.status is not Status.CONNECTED:
            if stores and owner.registered and owner.status is Status.OFFLINE:
                return self._hold(owner, sender, receiver, forward, correlation, headers, now, request)
            raise Refused(4003, f"receiver {_name(receiver)} is not connected ({owner.status.value})")
        if stores and self._store is not None and self._store.holding(owner.id):
            return self._hold(owner, sender, receiver, forward, correlation, headers, now, request)
        url = self.urls.at_party(owner, forward.target)
        if url is None:
            raise Refused(
                4000, f"receiver {_name(receiver)} has no {target.module} {target.interface} interface"
            )
        deferred_id = self._next_id()
        hop = HttpRequest(forward.method, url, headers | routing_headers(sender, receiver), forward.body)
        request_in = request.header("X-Request-ID") or ""
        request_out = self.send(
            "forward",
            owner,
            hop,
            now,
            deferred=deferred_id,
            sender=sender,
            receiver=receiver,
            forward=forward,
            correlation=correlation,
            request_in=request_in,
            headers=headers,
        )
        self._hop(now, correlation, request_in, request_out, sender, receiver, hop, forward.object_key, 1)
        return Deferred(deferred_id)

    def _broadcast(
        self,
        connection: Connection,
        sender: Party,
        request: HttpRequest,
        target: Target,
        correlation: str,
        now: datetime,
    ) -> HttpResponse:
        if request.method == "GET":
            raise Refused(4000, "GET cannot be broadcast, and this hub offers no GET All via Hubs")
        if not self._broadcasts or target.module not in BROADCAST_MODULES:
            raise Refused(4000, f"this hub does not broadcast {target.module}")
        forward = self._transform.request(connection, sender, request.method, target, request.body)
        headers = self._passed_on(request, correlation)
        role = self.registry.role_of(sender)
        wanted = OPPOSITE.get(role.role if role else "", ())
        stores = self._store is not None and self._store.takes(forward.method, target.module)
        request_in = request.header("X-Request-ID") or ""
        for other in self.registry.all():
            roles = [r for r in other.roles if r.role in wanted]
            url = self.urls.at_party(other, forward.target)
            if other.id == connection.id or not roles or not other.registered or url is None:
                continue  # only parties implementing the module get it (Broadcast Push)
            receiver = roles[0].key
            if other.status is Status.CONNECTED and not (
                self._store is not None and self._store.holding(other.id)
            ):
                # The hub pushes as itself: OCPI-from is the hub (transport_and_format, Broadcast Push).
                hop = HttpRequest(
                    forward.method, url, headers | routing_headers(self.party, receiver), forward.body
                )
                request_out = self.send(
                    "broadcast",
                    other,
                    hop,
                    now,
                    forward=forward,
                    receiver=receiver,
                    headers=headers,
                    correlation=correlation,
                )
                self._hop(
                    now,
                    correlation,
                    request_in,
                    request_out,
                    self.party,
                    receiver,
                    hop,
                    forward.object_key,
                    1,
                )
            elif stores and other.status is Status.OFFLINE:
                self._hold(other, self.party, receiver, forward, correlation, headers, now, None)
        answer = {"X-Correlation-ID": correlation, "X-Request-ID": request_in} | routing_headers(
            self.party, sender
        )
        return reply(1000, "", now, headers=answer)

    # ------------------------------------------------------------------ answers
    def _answered(self, request_id: str, call: Call, response: HttpResponse, now: datetime) -> None:
        self._outcome(now, request_id, "answered", response)
        if call.kind in ("register", "fetch"):
            self._handshake_step(call, response, now)
            return
        if call.kind not in ("forward", "broadcast", "stored"):
            return  # HubClientInfo pushes and probes: the outcome is all there is
        forward: Forward = call.context["forward"]
        if call.kind != "broadcast":
            self._record_cdr_fee(call, response, now)
        if call.kind == "stored" and self._store is not None:
            following = self._store.delivered(call.connection_id)
            if following is not None:
                self.send_stored(call.connection_id, following, now)
        if call.kind != "forward":
            return  # a broadcast's or stored message's sender had its answer from the hub already
        relayed = self._transform.response(
            self.registry[call.connection_id], forward.target, forward.method, response
        )
        headers = without_hop_headers(relayed.headers) | {
            "X-Request-ID": call.context["request_in"],
            "X-Correlation-ID": call.context["correlation"],
        }
        headers |= routing_headers(call.context["receiver"], call.context["sender"])
        self.complete(call.context["deferred"], HttpResponse(relayed.status, headers, relayed.body))

    def undelivered(self, call: Call, now: datetime, why: str) -> None:
        """A forward, broadcast or stored message did not get through (`why`: unreachable, timeout)."""
        forward: Forward = call.context["forward"]
        owner = self.registry[call.connection_id]
        stores = self._store is not None and self._store.takes(forward.method, forward.target.module)
        # Refused never reached the receiver: safe to store. A timeout may have: resent only when the
        # persona says so (the receiver may then get it twice; truth.resent names each).
        keep = stores and (why == "unreachable" or self._resend_on_timeout)
        if call.kind == "stored" and self._store is not None:
            stored = self._store.in_flight(owner.id)
            if stored is not None and why == "timeout":
                stored.uncertain = True
            if not keep and stored is not None:
                self.truth.dropped.append((format_utc(now), call.request.header("X-Request-ID") or "", why))
                following = self._store.delivered(owner.id)  # give up on it; the queue goes on
                if following is not None:
                    self.send_stored(owner.id, following, now)
                return
            dropped = self._store.failed(owner.id, now)
            if dropped is not None:
                self.truth.dropped.append(
                    (format_utc(now), call.request.header("X-Request-ID") or "", "attempts used up")
                )
            return
        if keep:
            sender = call.context.get("sender", self.party)
            self._hold(
                owner,
                sender,
                call.context["receiver"],
                forward,
                call.context["correlation"],
                call.context["headers"],
                now,
                None,
                uncertain=why == "timeout",
                attempts=1,
            )
            if call.kind == "forward":
                self.complete(call.context["deferred"], self._stored_answer(call, now))
            return
        if call.kind == "forward":
            code, text = (
                (4002, "the receiver did not answer in time")
                if why == "timeout"
                else (4003, "the receiver is not reachable")
            )
            answer = {
                "X-Request-ID": call.context["request_in"],
                "X-Correlation-ID": call.context["correlation"],
            }
            answer |= routing_headers(self.party, call.context["sender"])
            self.complete(call.context["deferred"], reply(code, text, now, headers=answer))

    # ---------------------------------------------------------- store-and-forward
    def _hold(
        self,
        owner: Connection,
        sender: Party,
        receiver: Party,
        forward: Forward,
        correlation: str,
        headers: dict[str, str],
        now: datetime,
        request: HttpRequest | None,
        *,
        uncertain: bool = False,
        attempts: int = 0,
    ) -> HttpResponse:
        assert self._store is not None
        self._seq += 1
        stored = Stored(
            self._seq, sender, receiver, forward, correlation, headers, attempts, uncertain=uncertain
        )
        self._store.hold(owner.id, stored, now)
        self.truth.stored.append((format_utc(now), correlation, owner.id))
        echo = {"X-Correlation-ID": correlation} | routing_headers(self.party, sender)
        if request is not None and (request_id := request.header("X-Request-ID")):
            echo["X-Request-ID"] = request_id
        return reply(
            1000, f"accepted: the hub delivers it when {_name(receiver)} is reachable", now, headers=echo
        )

    def _stored_answer(self, call: Call, now: datetime) -> HttpResponse:
        answer = {"X-Request-ID": call.context["request_in"], "X-Correlation-ID": call.context["correlation"]}
        answer |= routing_headers(self.party, call.context["sender"])
        return reply(
            1000, "accepted: the hub delivers it when the receiver is reachable", now, headers=answer
        )

    def send_stored(self, connection_id: str, stored: Stored, now: datetime) -> None:
        owner = self.registry[connection_id]
        url = self.urls.at_party(owner, stored.forward.target)
        assert url is not None  # it had the endpoint when the message was stored
        headers = stored.headers | routing_headers(stored.sender, stored.receiver)
        hop = HttpRequest(stored.forward.method, url, headers, stored.forward.body)
        request_out = self.send(
            "stored",
            owner,
            hop,
            now,
            forward=stored.forward,
            sender=stored.sender,
            receiver=stored.receiver,
            correlation=stored.correlation_id,
            headers=stored.headers,
        )
        if stored.uncertain:
            self.truth.resent.append((format_utc(now), request_out, stored.forward.object_key))
        self._hop(
            now,
            stored.correlation_id,
            "",
            request_out,
            stored.sender,
            stored.receiver,
            hop,
            stored.forward.object_key,
            stored.attempts,
        )

    def _alive(self, connection: Connection, now: datetime) -> None:
        super()._alive(connection, now)
        if self._store is not None and not self._store.in_flight(connection.id):
            self._store.kick(connection.id, now)
            for connection_id, stored in self._store.due(now):
                self.send_stored(connection_id, stored, now)

    def _holding(self) -> set[str]:
        if self._store is None:
            return set()
        return {c.id for c in self.registry.all() if self._store.holding(c.id)}

    # ------------------------------------------------------------------ records
    def _record_cdr_fee(self, call: Call, response: HttpResponse, now: datetime) -> None:
        forward: Forward = call.context["forward"]
        target = forward.target
        if self._fee is None or (target.module, target.interface, forward.method) != (
            "cdrs",
            "RECEIVER",
            "POST",
        ):
            return
        if not 200 <= response.status < 300 or ocpi_status(response) != 1000:
            return
        body = loads(forward.body) if forward.body else {}
        cdr_id = str(body.get("id", "")) if isinstance(body, dict) else ""
        sender: Party = call.context["sender"]
        if (sender, cdr_id) in self._charged:
            return  # one fee per CDR, however often it was delivered
        self._charged.add((sender, cdr_id))
        ids = self._transform.ids
        original = ids.inward("cdr", cdr_id) if ids is not None else None
        self.truth.fees.append(
            Fee(
                format_utc(now),
                cdr_id,
                original[1] if original else cdr_id,
                _name(sender),
                _name(call.context["receiver"]),
                self._fee.amount,
                self._fee.currency,
            )
        )

    def _record_id(self, kind: str, owner: Party, original: str, hub_id: str) -> None:
        self.truth.id_map.append((kind, _name(owner), original, hub_id))

    def _hop(
        self,
        now: datetime,
        correlation: str,
        request_in: str,
        request_out: str,
        sender: Party,
        receiver: Party,
        hop: HttpRequest,
        object_key: str,
        attempt: int,
    ) -> None:
        self.truth.hops.append(
            Hop(
                format_utc(now),
                correlation,
                request_in,
                request_out,
                _name(sender),
                _name(receiver),
                hop.method,
                hop.url,
                object_key,
                attempt,
            )
        )

    def _outcome(self, now: datetime, request_id: str, result: str, response: HttpResponse | None) -> None:
        status = None if response is None else response.status
        code = None if response is None else ocpi_status(response)
        self.truth.outcomes.append(Outcome(format_utc(now), request_id, result, status, code))

    @staticmethod
    def _passed_on(request: HttpRequest, correlation: str) -> dict[str, str]:
        headers = without_hop_headers(request.headers) | {"X-Correlation-ID": correlation}
        if request.body and not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        return headers
