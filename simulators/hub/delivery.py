"""Delivering the messages the hub accepted, and what it does with the receiver's answer.

A live forward relays the receiver's answer to the waiting sender (headers swapped, Link and
Location pointing at the hub). A forward that cannot be delivered is answered 4003 (unreachable) or
4002 (no answer within the persona's timeout, status_codes Hub errors) unless the persona stores
it: then the sender hears 1000 from the hub and the message waits in the receiver's FIFO.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, loads
from simulators.hub.connections import Call, HubBase
from simulators.hub.envelope import Party, ocpi_status, reply, routing_headers, without_hop_headers
from simulators.hub.ids import IdRewriter
from simulators.hub.persona import HubPersona
from simulators.hub.registry import Connection, Status
from simulators.hub.store import ForwardStore, Message
from simulators.hub.transform import Forward, Transformer
from simulators.hub.truth import Fee, Hop, Outcome

LIVE = ("forward", "broadcast")  # sent at once; "stored" ones come out of a receiver's queue


def name(key: Party) -> str:
    return f"{key[0]}/{key[1]}"


class HubDelivery(HubBase):
    def __init__(self, *, persona: HubPersona, **kwargs: Any) -> None:
        super().__init__(persona=persona, **kwargs)
        self._store = ForwardStore(persona.store_and_forward) if persona.store_and_forward else None
        saf = persona.store_and_forward
        self._resend_on_timeout = saf is not None and saf.resend_on_timeout
        self._fee = persona.fee_per_session
        self._transform = Transformer(persona, self.urls, IdRewriter(f"{self.party[1]}-", self._record_id))
        self._seq = 0
        self._charged: set[tuple[Party, str]] = set()

    # ------------------------------------------------------------------ sending
    def accept(
        self, sender: Party, receiver: Party, forward: Forward, request: HttpRequest, correlation: str
    ) -> Message:
        self._seq += 1
        headers = without_hop_headers(request.headers) | {"X-Correlation-ID": correlation}
        if request.body and not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/json"
        request_in = request.header("X-Request-ID") or ""
        return Message(self._seq, sender, receiver, forward, correlation, headers, request_in)

    def stores(self, message: Message) -> bool:
        target = message.forward.target
        return self._store is not None and self._store.takes(
            message.forward.method, target.module, target.interface
        )

    def holding(self, connection: Connection, message: Message) -> bool:
        """Must the message wait behind others? When the receiver's queue holds any, or when a live
        message about the same object is still in flight to it (per-object order)."""
        if self._store is None:
            return False
        if self._store.holding(connection.id):
            return True
        key = message.forward.object_key
        return any(
            call.kind in LIVE
            and call.connection_id == connection.id
            and call.context["message"].forward.object_key == key
            for call in self._calls.values()
        )

    def deliver(
        self, kind: str, owner: Connection, message: Message, now: datetime, deferred: str = ""
    ) -> None:
        url = self.urls.at_party(owner, message.forward.target)
        if url is None:  # it re-registered without that interface while the message waited
            self.truth.dropped.append(
                (format_utc(now), message.correlation_id, "the receiver has no such interface")
            )
            if kind == "stored" and self._store is not None:
                self._store.give_up(owner.id, now)
            return
        headers = message.headers | routing_headers(message.sender, message.receiver)
        hop = HttpRequest(message.forward.method, url, headers, message.forward.body)
        request_out = self.send(kind, owner, hop, now, message=message, deferred=deferred)
        attempt = max(message.attempts, 1)
        self.truth.hops.append(
            Hop(
                format_utc(now),
                message.correlation_id,
                message.request_in,
                request_out,
                name(message.sender),
                name(message.receiver),
                hop.method,
                hop.url,
                message.forward.object_key,
                attempt,
            )
        )

    def hold(
        self, owner: Connection, message: Message, now: datetime, *, reachable: bool = False
    ) -> HttpResponse:
        """Keep a message for a receiver that cannot take it now (or that other messages for it must
        reach first: `reachable`); the sender hears 1000 from the hub."""
        assert self._store is not None
        self._store.hold(owner.id, message, now, reachable=reachable)
        self.truth.stored.append((format_utc(now), message.correlation_id, owner.id))
        return self._from_hub(
            1000, f"accepted: delivered when {name(message.receiver)} is reachable", message, now
        )

    def flush(self, now: datetime) -> None:
        """Send the queue heads that are due (not while live messages to that receiver are in flight)."""
        if self._store is not None:
            for connection_id, message in self._store.due(now, self._live_receivers()):
                self.deliver("stored", self.registry[connection_id], message, now)

    def _live_receivers(self) -> set[str]:
        return {call.connection_id for call in self._calls.values() if call.kind in LIVE}

    def _store_wakeup(self) -> datetime | None:
        return None if self._store is None else self._store.next_wakeup(self._live_receivers())

    def holds_messages(self) -> bool:
        """Messages wait in a receiver's queue for delivery (a runtime finishing a run waits for them)."""
        return bool(self._holding_ids())

    def _holding_ids(self) -> set[str]:
        store = self._store
        return set() if store is None else {c.id for c in self.registry.all() if store.holding(c.id)}

    # ------------------------------------------------------------------ answers
    def delivered(self, call: Call, response: HttpResponse, now: datetime) -> None:
        message: Message = call.context["message"]
        self._record_resend(call, message, now)
        self._record_cdr_fee(message, response, now)
        if call.kind == "stored" and self._store is not None:
            since = format_utc(message.held_since) if message.held_since else ""
            self.truth.late.append(
                (since, format_utc(now), message.correlation_id, message.forward.object_key)
            )
            following = self._store.delivered(call.connection_id)
            if following is not None:
                self.deliver("stored", self.registry[call.connection_id], following, now)
        if call.kind == "forward":
            owner = self.registry[call.connection_id]
            relayed = self._transform.response(
                owner, message.forward.target, message.forward.method, response
            )
            headers = without_hop_headers(relayed.headers) | {
                "X-Request-ID": message.request_in,
                "X-Correlation-ID": message.correlation_id,
            }
            headers |= routing_headers(message.receiver, message.sender)
            self.complete(call.context["deferred"], HttpResponse(relayed.status, headers, relayed.body))
        self.flush(now)

    def undelivered(self, call: Call, now: datetime, why: str) -> None:
        """A message did not get through (`why`: unreachable or timeout)."""
        message: Message = call.context["message"]
        owner = self.registry[call.connection_id]
        if why == "timeout":
            self._record_resend(call, message, now)
        # A refused connection never reached the receiver: safe to send again. A timeout may have
        # reached it: sent again only when the persona says so (the receiver may get it twice).
        keep = self.stores(message) and (why == "unreachable" or self._resend_on_timeout)
        message.uncertain = message.uncertain or why == "timeout"
        if call.kind == "stored" and self._store is not None:
            if keep:
                if self._store.failed(owner.id, now) is not None:
                    self.truth.dropped.append((format_utc(now), message.correlation_id, "attempts used up"))
            else:
                self.truth.dropped.append((format_utc(now), message.correlation_id, why))
                self._store.give_up(owner.id, now)
        elif keep:
            message.attempts = 1
            answer = self.hold(owner, message, now)
            if call.kind == "forward":
                self.complete(call.context["deferred"], answer)
        elif call.kind == "forward":
            code, text = (
                (4002, "the receiver did not answer in time")
                if why == "timeout"
                else (4003, "the receiver is not reachable")
            )
            self.complete(call.context["deferred"], self._from_hub(code, text, message, now))
        self.flush(now)

    def _from_hub(self, code: int, text: str, message: Message, now: datetime) -> HttpResponse:
        headers = {"X-Request-ID": message.request_in, "X-Correlation-ID": message.correlation_id}
        return reply(code, text, now, headers=headers | routing_headers(self.party, message.sender))

    def _alive(self, connection: Connection, now: datetime) -> None:
        back = connection.status is Status.OFFLINE
        super()._alive(connection, now)
        if back and self._store is not None:  # retry what waits for it now, not at the next step
            self._store.kick(connection.id, now)
            self.flush(now)

    # ------------------------------------------------------------------ records
    def _record_cdr_fee(self, message: Message, response: HttpResponse, now: datetime) -> None:
        forward, target = message.forward, message.forward.target
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
        session_id = str(body.get("session_id") or "") if isinstance(body, dict) else ""
        # One fee per session routed, however often its CDR was delivered and whatever credit and
        # replacement CDRs follow (the eMSP books one net fee per session: emsp/billing/hub_fees.py).
        charged = (message.sender, session_id or f"cdr:{cdr_id}")
        if charged in self._charged:
            return
        self._charged.add(charged)
        ids = self._transform.ids
        original = ids.inward("cdr", cdr_id) if ids is not None else None
        fee = Fee(
            format_utc(now),
            cdr_id,
            original[1] if original else cdr_id,
            name(message.sender),
            name(message.receiver),
            self._fee.amount,
            self._fee.currency,
        )
        self.truth.fees.append(fee)

    def _record_resend(self, call: Call, message: Message, now: datetime) -> None:
        """A resend of a message whose earlier attempt timed out reached the receiver (it answered, or
        took it and said nothing): the receiver may now hold it twice."""
        if call.kind == "stored" and message.uncertain:
            request_out = call.request.header("X-Request-ID") or ""
            self.truth.resent.append((format_utc(now), request_out, message.forward.object_key))

    def _record_id(self, kind: str, owner: Party, original: str, hub_id: str) -> None:
        self.truth.id_map.append((kind, name(owner), original, hub_id))

    def _outcome(self, now: datetime, request_id: str, result: str, response: HttpResponse | None) -> None:
        status = None if response is None else response.status
        code = None if response is None else ocpi_status(response)
        self.truth.outcomes.append(Outcome(format_utc(now), request_id, result, status, code))
