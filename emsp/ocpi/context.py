"""What a module handler gets: the request, the authenticated partner, a unit of work, services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session

from emsp.bus import Event
from emsp.model import PartyRef
from emsp.observability import EmspMetrics
from emsp.ocpi import adapter
from emsp.ocpi.adapter import VersionAdapter
from emsp.ocpi.body import parse_json
from emsp.ocpi.credentials_cache import PartyScope
from emsp.ocpi.errors import OcpiError, busy, invalid
from emsp.ocpi.tolerance import STRICT, Tolerance, needs_normalising, normalise_body
from emsp.ocpi.validation import validate
from emsp.outbox import Outbox
from emsp.services.cdrs import FreshCdrs
from emsp.services.tokens import TokenAuthority
from emsp.storage.queries import SessionKey, StoredSession, StoredSessions
from emsp.storage.tables import PartnerRow
from emsp.wire import HttpRequest, OutboundRequest

__all__ = ["Ctx", "Services", "Settings", "check_same", "require_segments", "validate"]


class Settings(adapter.Settings, Protocol):
    """What the adapters need of our identity, and what the modules need besides."""

    @property
    def base_url(self) -> str: ...
    @property
    def page_limit(self) -> int: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def token_secret(self) -> bytes | None: ...  # keys the credentials tokens we issue


class Services(Protocol):
    """The parts of the core a module handler may use (implemented by `EmspCore`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def bus(self) -> Outbox: ...
    @property
    def metrics(self) -> EmspMetrics: ...
    @property
    def tokens(self) -> TokenAuthority: ...

    def queue_outbound(
        self, db: Session, partner: str, request: HttpRequest, purpose: str
    ) -> OutboundRequest: ...

    def new_id(self, db: Session, counter: str) -> int: ...

    def handshake_pending(self, partner_id: str) -> bool:
        """A credentials handshake with this partner is running (its answer is deferred)."""
        ...

    def check_tariff(self, tariff: dict[str, Any]) -> str | None:
        """None if the tariff engine accepts it (or is absent), else the reason."""
        ...

    def party_reconnected(self, hub_id: str, country_code: str, party_id: str, now: datetime) -> None:
        """A hub reports a party CONNECTED (again): catch up with it once this request is done."""
        ...


@dataclass(frozen=True, slots=True)
class Noted:
    """A finding of this request (emsp.findings), written with the request's unit of work."""

    kind: str
    example: str
    party: PartyRef | None = None  # None: the request's party (routing header, the partner's one party)
    module: str = ""
    object_id: str = ""


@dataclass
class Ctx:
    request: HttpRequest
    now: datetime
    segments: list[str]  # path segments after /{version}/{module}
    partner_id: str  # the authenticated partner
    unit: Callable[[], Session]  # the request's unit of work, opened on first use (see `db`)
    services: Services
    log: Any
    adapter: VersionAdapter  # of the version in the URL
    events: list[Event] = field(default_factory=list)  # written to the outbox by the router
    # The parties the partner may push for (operator-configured); None: no restriction (tests only).
    parties: PartyScope | None = None
    notes: list[Noted] = field(default_factory=list)  # findings, written by the router with the unit
    _partner: PartnerRow | None = field(default=None, repr=False)
    # Stored sessions remembered in memory (emsp.storage.queries.StoredSessions; None: always read),
    # and what this request wrote, added to them by the router once its unit has committed.
    stored_sessions: StoredSessions | None = None
    written_sessions: dict[SessionKey, StoredSession | None] = field(default_factory=dict)
    session_facts: dict[SessionKey, object] = field(default_factory=dict)  # remembered with them
    # The columns of the CDRs this request inserted: settled from memory once its unit committed
    # (emsp.services.cdrs.FreshCdrs; in-memory SQLite only).
    written_cdrs: list[dict[str, Any]] = field(default_factory=list)

    def remember_committed(self, fresh_cdrs: FreshCdrs | None) -> None:
        """Once this request's unit has committed: what it wrote becomes what the next read gives
        (the remembered sessions; the CDRs settled from memory). Whoever runs a handler and commits
        calls it, the router and the catch-up pull alike: a write left out keeps an older row in
        memory, and the next push of that session is checked against it."""
        if self.written_sessions and self.stored_sessions is not None:
            self.stored_sessions.update(self.written_sessions, self.session_facts)
        if self.written_cdrs and fresh_cdrs is not None:
            fresh_cdrs.add(self.written_cdrs)

    @property
    def tolerance(self) -> Tolerance:
        """What the operator configured this partner's requests may deviate in (emsp.ocpi.tolerance)."""
        return self.parties.tolerate if self.parties is not None else STRICT

    def note(
        self, kind: str, example: str, *, party: PartyRef | None = None, module: str = "", object_id: str = ""
    ) -> None:
        self.notes.append(Noted(kind, example[:200], party, module, object_id))

    @property
    def db(self) -> Session:
        """The request's unit of work: a handler that never asks for it costs no transaction."""
        return self.unit()

    def require_owner(self, country_code: str, party_id: str) -> None:
        """A client pushes objects only for its own parties (transport_and_format, client owned
        object push, errors): any other party is answered 404, so no partner can touch another's data."""
        if self.parties is None:
            return
        if not self.parties.allows(country_code, party_id):
            raise OcpiError(
                2001, f"{country_code}/{party_id} is not a party configured for you", http_status=404
            )
        sender = self.hub_sender()
        owner = (country_code.upper(), party_id.upper())
        broadcast = sender in self.parties.hubs and self.method != "GET"
        if sender is not None and sender != owner and not broadcast:
            # Behind a hub every party is the hub's partner; the OCPI-from headers name the party
            # that sent the message (transport_and_format, message routing headers): one party
            # may not push or read another's objects through the hub. The hub's own party is the
            # hub speaking for itself: a Broadcast Push is sent as the hub (ibid., Broadcast Push),
            # a push only: "GET SHALL NOT be used in combination with Broadcast Push" (ibid.).
            raise OcpiError(
                2001,
                f"OCPI-from-country-code/OCPI-from-party-id name {sender[0]}/{sender[1]}, not "
                f"{owner[0]}/{owner[1]} whose object this is",
                http_status=404,
            )
        if not self.parties.acts_as_cpo(country_code, party_id):
            # Every module that asks for an owner is a CPO's (emsp.ocpi.modules.CPO_MODULES).
            raise OcpiError(
                2001,
                f"{country_code.upper()}/{party_id.upper()} is not configured as a CPO party: "
                f"only a CPO uses {self.module or 'this module'}",
                http_status=403,
            )

    def hub_sender(self) -> tuple[str, str] | None:
        """The party a hub says sent this request (OCPI-from-*); None from a partner that is no hub,
        and behind a 2.1.1 hub, which has no routing headers (ownership is then the URL's alone).
        A message via a hub carries the routing headers (2.2.1/2.3.0 transport_and_format, message
        routing): without them nobody can tell which party behind the hub sent it, so it is refused
        rather than taken for whichever party the URL names."""
        if self.parties is None or not self.parties.hub or not self.adapter.routing_headers:
            return None
        sender = self.routing_from()
        if sender is None:
            raise invalid("a request via a hub names its sender in OCPI-from-country-code/OCPI-from-party-id")
        return sender

    def routing_from(self) -> tuple[str, str] | None:
        """The party the OCPI-from-* headers name (upper-cased, CiStrings), in versions that have
        them; None when either is not given."""
        if not self.adapter.routing_headers:
            return None
        headers = {key.lower(): value.strip() for key, value in self.request.headers.items()}
        country_code, party_id = headers.get("ocpi-from-country-code"), headers.get("ocpi-from-party-id")
        return (country_code.upper(), party_id.upper()) if country_code and party_id else None

    @property
    def partner(self) -> PartnerRow:
        """The partner's row, loaded in this unit of work on first use (most modules need only the id)."""
        if self._partner is None:
            row = self.db.get(PartnerRow, self.partner_id)
            if row is None:  # authenticated a moment ago in this very transaction
                raise RuntimeError(f"partner {self.partner_id} vanished")
            self._partner = row
        return self._partner

    def publish(self, event: Event) -> None:
        self.events.append(event)

    @property
    def method(self) -> str:
        return self.request.method.upper()

    def url_for(self, *segments: str) -> str:
        """Our URL of an object: each segment percent-encoded as an RFC 3986 path segment (§3.3), so
        an id holding `/ ? # %` or a space stays one segment the router decodes back; `.` and `..`
        (dot-segments, which clients remove, §5.2.4) are encoded as %2E. A CDR POST's Location
        header must resolve to the CDR (mod_cdrs, POST)."""
        return "/".join(
            [self.services.settings.base_url.rstrip("/"), self.adapter.version, *map(_segment, segments)]
        )

    def json(self) -> Any:
        """The parsed body; invalid JSON is a transport error: HTTP 400 (status_codes). Deviations
        the partner's tolerance accepts come out in their spec form (noted); a DateTime with a UTC
        offset is refused unless tolerated (emsp.ocpi.tolerance)."""
        body = parse_json(self.request.body)
        tolerance = self.tolerance
        offsets = self.adapter.datetime_offsets
        if not needs_normalising(self.request.body or "", tolerance, offsets_allowed=offsets):
            return body
        return normalise_body(
            body, tolerance, self._note_body, self.adapter.price_from_number, offsets_allowed=offsets
        )

    def _note_body(self, kind: str, example: str) -> None:
        self.note(kind, example, module=self.module)

    @property
    def module(self) -> str:
        path = urlsplit(self.request.url).path.rstrip("/").split("/")
        version = path.index(self.adapter.version) if self.adapter.version in path else -1
        return path[version + 1] if 0 <= version < len(path) - 1 else ""

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise invalid("request body must be a JSON object")
        return body

    def busy_check(self) -> None:
        if not self.services.bus.has_capacity(self.partner_id, len(self.events) + 1):
            raise busy("too many pending updates from this partner; retry later")


def _segment(text: str) -> str:
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


def require_segments(ctx: Ctx, minimum: int, maximum: int) -> list[str]:
    from emsp.ocpi.errors import not_found

    if not minimum <= len(ctx.segments) <= maximum or any(s == "" for s in ctx.segments):
        raise not_found("unknown resource", status_code=2000)
    return ctx.segments


def check_same(field: str, path_value: str, body_value: Any) -> None:
    """Object id/party in the URL must match the body (transport_and_format, client owned push)."""
    if body_value is not None and str(body_value) != path_value:
        raise invalid(f"'{field}' in body ({body_value}) differs from the URL ({path_value})")
