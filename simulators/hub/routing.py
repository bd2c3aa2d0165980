"""Whom a request goes to (transport_and_format, Message Routing): to one party by its `OCPI-to-*`
headers, to every party of the opposite role (Broadcast Push: `OCPI-to-*` naming the hub), or, in an
open-routing persona, to the one party that can take it (Open Routing Request).

`OCPI-from-*` must name a party the sending connection speaks for. Routing failures are the hub
codes of status_codes: 4001 unknown receiver, 4003 receiver not connected (4002 in delivery.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.wire import Deferred, HttpRequest, HttpResponse
from simulators.hub.delivery import HubDelivery, name
from simulators.hub.envelope import HubRefusal, Party, reply, routing_headers, routing_party
from simulators.hub.persona import BROADCAST_MODULES
from simulators.hub.registry import Connection, Status
from simulators.hub.urls import Target

# Broadcast Push reaches the "opposite role"; OTHER counts as an eMSP-like receiver of CPO data but
# sends to CPOs only (transport_and_format, Broadcast Push).
OPPOSITE = {"CPO": ("EMSP", "NSP", "OTHER"), "EMSP": ("CPO",), "OTHER": ("CPO",)}


class HubRouting(HubDelivery):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._open_routing = self.persona.routing_headers == "open"
        self._broadcasts = self.persona.broadcast

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
            raise HubRefusal(
                2001, "OCPI-from-country-code and OCPI-from-party-id are required on a routed request"
            )
        if not connection.speaks_for(sender):
            raise HubRefusal(
                2001, f"OCPI-from names {name(sender)}, a party this connection does not speak for"
            )
        return sender

    def _open_receiver(self, connection: Connection, sender: Party, method: str, target: Target) -> Party:
        if not self._open_routing:
            raise HubRefusal(
                2001, "OCPI-to-country-code and OCPI-to-party-id are required: no open routing here"
            )
        role = self.registry.role_of(sender)
        wanted = OPPOSITE.get(role.role if role else "", ())
        keys = [
            r.key for c in self.registry.all() if c.id != connection.id for r in c.roles if r.role in wanted
        ]
        if len(keys) == 1:
            return keys[0]
        if method != "GET" and target.module in BROADCAST_MODULES:
            return self.party  # a push whose receiver the hub cannot tell: broadcast it
        raise HubRefusal(
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
            raise HubRefusal(
                4001, f"unknown receiver {name(receiver)}: no such party is connected to this hub"
            )
        forward = self._transform.request(connection, sender, request.method, target, request.body)
        if self.urls.at_party(owner, forward.target) is None and owner.registered:
            raise HubRefusal(
                4000, f"receiver {name(receiver)} has no {target.module} {target.interface} interface"
            )
        message = self.accept(sender, receiver, forward, request, correlation)
        if not owner.registered or owner.status is not Status.CONNECTED:
            if self.stores(message) and owner.registered and owner.status is Status.OFFLINE:
                return self.hold(owner, message, now)
            raise HubRefusal(4003, f"receiver {name(receiver)} is not connected ({owner.status.value})")
        if self.stores(message) and self.holding(owner, message):
            return self.hold(owner, message, now, reachable=True)  # nothing overtakes what waits
        deferred_id = self._next_id()
        self.deliver("forward", owner, message, now, deferred_id)
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
            raise HubRefusal(4000, "GET cannot be broadcast, and this hub offers no GET All via Hubs")
        if not self._broadcasts or target.module not in BROADCAST_MODULES:
            raise HubRefusal(4000, f"this hub does not broadcast {target.module}")
        forward = self._transform.request(connection, sender, request.method, target, request.body)
        role = self.registry.role_of(sender)
        wanted = OPPOSITE.get(role.role if role else "", ())
        for other in self.registry.all():
            roles = [r for r in other.roles if r.role in wanted]
            if other.id == connection.id or not roles or self.urls.at_party(other, forward.target) is None:
                continue  # only parties implementing the module get it (Broadcast Push)
            # The hub pushes as itself: OCPI-from names the hub (transport_and_format, Broadcast Push).
            message = self.accept(self.party, roles[0].key, forward, request, correlation)
            if other.status is Status.CONNECTED and not (
                self.stores(message) and self.holding(other, message)
            ):
                self.deliver("broadcast", other, message, now)
            elif self.stores(message) and other.status is Status.OFFLINE:
                self.hold(other, message, now)
            elif self.stores(message) and other.status is Status.CONNECTED:
                self.hold(other, message, now, reachable=True)
        headers = {"X-Correlation-ID": correlation, "X-Request-ID": request.header("X-Request-ID") or ""}
        return reply(1000, "", now, headers=headers | routing_headers(self.party, sender))
