"""From an `HttpRequest` to an `HttpResponse`: routing, authentication, envelope, ids, metrics.

Never raises: OCPI errors become their envelope, anything unexpected becomes a logged 3000.
Before anything is routed: a body above `max_body_bytes` is HTTP 413; path segments with an ASCII
control character (a `%00`) name no resource (404, 2000), other ids are the module's to refuse
(2001); request ids that could not be echoed safely in a header are replaced by our own. Modules
see the request under the configured public base URL, so every URL they build (pagination links)
is the public one, whatever the Host.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from emsp.model import PartyRef
from emsp.ocpi.adapter import VersionAdapter
from emsp.ocpi.auth import decode_authorization
from emsp.ocpi.context import Ctx, Noted, Services
from emsp.ocpi.credentials_cache import CredentialsCache, Parties
from emsp.ocpi.envelope import MISSING, OcpiResult, Pending, respond
from emsp.ocpi.errors import OcpiError, invalid, method_not_allowed, not_found, unauthorized
from emsp.ocpi.modules import CONFIGURATION_MODULES, CPO_MODULES, HANDLERS, REGISTRATION_MODULES
from emsp.ocpi.versions import ADAPTERS, version_details, versions_list
from emsp.services import findings
from emsp.services.cdrs import FreshCdrs
from emsp.services.findings import NewFinding
from emsp.services.partners import parties_of
from emsp.storage.db import Database
from emsp.storage.tables import ClientInfoRow, PartnerRow
from emsp.timeutil import format_utc
from emsp.wire import Deferred, HttpRequest, HttpResponse

ROUTING_HEADERS = ("country-code", "party-id")
_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,254}")  # printable ASCII, safe to echo


class RouterHost(Services, Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def log(self) -> Any: ...
    @property
    def credentials_cache(self) -> CredentialsCache: ...
    @property
    def fresh_cdrs(self) -> FreshCdrs | None: ...
    def defer(
        self, pending: Pending, answer: Callable[[OcpiResult, datetime], HttpResponse], now: datetime
    ) -> Deferred: ...


@dataclass(frozen=True)
class _Route:
    module: str  # "versions", "details", or an OCPI module id; "unknown" when nothing matched
    segments: tuple[str, ...]
    adapter: VersionAdapter | None = None  # of the version in the path (None: /versions)
    trailing_slash: bool = False  # the path ends in a "/" no URL we publish has


# Per version, the modules it has (an endpoint of another version's module is unknown here).
_MODULES = {version: {m for m, _role in a.endpoints} for version, a in ADAPTERS.items()}


def _route(base_path: str, path: str) -> _Route:
    base = base_path.rstrip("/")
    if path != base and not path.startswith(base + "/"):
        return _Route("unknown", ())
    rest = (
        tuple([unquote(s) for s in path[len(base) :].strip("/").split("/")])
        if path[len(base) :].strip("/")
        else ()
    )
    if any(segment.isascii() and not segment.isprintable() for segment in rest):
        return _Route("unknown", ())  # a %00 or another ASCII control character names no resource
    # Any other character reaches the module, which knows what its ids may hold: a non-ASCII token
    # uid is 2001 "must be a CiString" there, however unprintable (a no-break space, U+200B).
    trailing = bool(rest) and path.endswith("/")
    if rest == ("versions",):
        return _Route("versions", (), None, trailing)
    adapter = ADAPTERS.get(rest[0]) if rest else None
    if adapter is None:
        return _Route("unknown", ())
    if len(rest) == 1:
        return _Route("details", (), adapter, trailing)
    if rest[1] in _MODULES[adapter.version]:
        return _Route(rest[1], rest[2:], adapter, trailing)
    return _Route("unknown", ())


class _Unit:
    """The request's unit of work, opened on first use (calling it) and ended with the `with`.

    A request answered from memory alone (a known token authorizing, versions) then costs no
    transaction: no connection checkout, no BEGIN/COMMIT, not even the ORM's bookkeeping."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._unit: AbstractContextManager[Session] | None = None  # entered; exited with the `with`
        self._session: Session | None = None

    def __call__(self) -> Session:
        if self._session is None:
            unit = self._database.unit()
            self._session = unit.__enter__()
            self._unit = unit
        return self._session

    @property
    def opened(self) -> bool:
        return self._session is not None

    def __enter__(self) -> _Unit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        # What an ExitStack holding the one unit would do, without its bookkeeping per request.
        unit, self._unit = self._unit, None
        if unit is None:
            return False
        return bool(unit.__exit__(kind, exc, tb))  # commit, or roll back on an exception


def _find(host: RouterHost, unit: _Unit, token: str | None) -> tuple[str, str, Parties] | None:
    if token is None:
        return None
    cache = host.credentials_cache
    return cache.cached(token) or cache.lookup(unit(), token)


# URLs and Authorization headers remembered (below) are at most this long; no URL we publish nor
# token header we issue is longer, and a longer text is worked out afresh, never kept.
_REMEMBERED_TEXT_MAX = 512


def _raw_token(header: str | None) -> str | None:
    if header is not None and len(header) <= _REMEMBERED_TEXT_MAX:
        return _raw_token_remembered(header)
    return _raw_token_afresh(header)


def _raw_token_afresh(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "token" and value and value.isprintable() else None


# The same few headers on every request (one per partner): read once, as decode_authorization's.
_raw_token_remembered = lru_cache(maxsize=256)(_raw_token_afresh)


def _authenticate(
    host: RouterHost, unit: _Unit, headers: dict[str, str], adapter: VersionAdapter | None, notes: list[Noted]
) -> tuple[str, str, Parties]:
    """(partner_id, "A" | "C", parties): token C of a registered partner first, then a token A.

    Under a version's path the header is read as that version writes it (2.1.1 the token as is,
    2.2.1 onwards Base64). The versions endpoint belongs to no version, and a client that has not
    chosen one yet may write either: the Base64 reading is tried first, then the token as is (the
    2.3.0 transport_and_format note on 2.1.1 implementations that do not encode the token).

    Beyond the spec, only where the partner's tolerance says so (emsp.ocpi.tolerance), each noted:
    the raw token under a version that wants it Base64 (`plain_token`), and the partner's own token
    B in place of the token C we gave it (`token_b_as_c`). Otherwise both are 401."""
    header = headers.get("authorization")
    if adapter is not None:
        decoded = adapter.decode_authorization(header)
        found = _find(host, unit, decoded)
        raw = _raw_token(header)
        if found is None and raw is not None and raw != decoded:
            plain = _find(host, unit, raw)
            if plain is not None:
                if not plain[2].tolerate.plain_token:
                    raise unauthorized(
                        f"credentials token not Base64 encoded (OCPI {adapter.version} Authorization header)"
                    )
                notes.append(Noted("plain_token", f"Authorization: Token {raw[:4]}... (not Base64)"))
                found = plain
    else:
        found = _find(host, unit, decode_authorization(header)) or _find(host, unit, _raw_token(header))
    if found is not None and found[1] == "B":
        if not found[2].tolerate.token_b_as_c:
            raise unauthorized("that is the token B you gave us: call us with the token C we gave you")
        notes.append(Noted("token_b_as_c", "Authorization with the partner's own token B"))
        found = (found[0], "C", found[2])
    if found is not None:
        return found
    if _raw_token(header) is None:
        raise unauthorized("missing or malformed Authorization header (expected: Token <token>)")
    raise unauthorized("unknown credentials token")


def _echo(value: str | None) -> str | None:
    return value if value is not None and _HEADER_VALUE.fullmatch(value) else None


@lru_cache(maxsize=8)
def _base(base_url: str) -> SplitResult:
    return urlsplit(base_url)  # the same few settings strings on every request: split once


def _resolve(base_url: str, url: str) -> tuple[_Route, str | None]:
    """The route of `url` and the URL as addressed under our public base URL (None: unknown route;
    the Host header is the client's say, the path is routed under our base)."""
    if len(url) > _REMEMBERED_TEXT_MAX:
        return _resolve_afresh(base_url, url)
    return _resolve_remembered(base_url, url)


def _resolve_afresh(base_url: str, url: str) -> tuple[_Route, str | None]:
    base, parts = _base(base_url), urlsplit(url)
    route = _route(base.path, parts.path)
    if route.module == "unknown":
        return route, None
    return route, urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


# A CPO sends every update of a session to one URL (a PATCH per meter sample): the URL's route and
# public form, a pure function of the two strings (_Route is frozen), are worked out once while the
# URL is in use. 1,024 URLs (about 0.5 MB): full within the first few hundred sessions, so a long
# run's memory does not grow with it (bench.perf.sim_memory); a world with more sessions in flight
# than that misses more often, at no more cost than working the route out.
_resolve_remembered = lru_cache(maxsize=1024)(_resolve_afresh)


def _too_large(body: str | None, limit: int) -> bool:
    if body is None or len(body) * 4 <= limit:  # a character is at most 4 bytes of UTF-8
        return False
    return len(body) > limit or len(body.encode("utf-8", "surrogatepass")) > limit


def handle_request(host: RouterHost, request: HttpRequest, now: datetime) -> HttpResponse | Deferred:
    route, public = _resolve(host.settings.base_url, request.url)
    if public is not None:
        request = HttpRequest(request.method, public, request.headers, request.body)
    # One session for the whole request: authentication + module, then the bus drain's units.
    with host.db.scope():
        return _handle(host, request, now, route)


def _handle(host: RouterHost, request: HttpRequest, now: datetime, route: _Route) -> HttpResponse | Deferred:
    # Header names are case-insensitive: folded once here rather than scanned per lookup (the
    # first of two spellings wins, as with HttpRequest.header).
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), value)
    request_id = _echo(headers.get("x-request-id")) or f"emsp-req-{host.db.counters.next('request_id')}"
    correlation_id = _echo(headers.get("x-correlation-id")) or request_id
    log = host.log.bind(request_id=request_id, correlation_id=correlation_id, module=route.module)
    who = _Who()
    try:
        limit = host.settings.max_body_bytes
        if _too_large(request.body, limit):
            # transport_and_format: errors on the HTTP layer use HTTP status codes, with the envelope.
            raise OcpiError(2000, f"request body larger than {limit} bytes", http_status=413)
        result = _dispatch(host, request, headers, now, route, log, who)
    except OcpiError as err:
        result = OcpiResult(MISSING, err.status_code, err.message, err.http_status, err.headers)
    except Exception:  # a bug, never the client's input: log it, answer OCPI 3000
        log.exception("internal_error")
        result = OcpiResult(MISSING, 3000, "internal server error", 500)

    def answer(result: OcpiResult, at: datetime) -> HttpResponse:
        out = {"X-Request-ID": request_id, "X-Correlation-ID": correlation_id}
        routed = route.adapter is not None and route.adapter.routing_headers
        if routed and route.module in HANDLERS and route.module not in CONFIGURATION_MODULES:
            out.update(_routing_headers(host, headers))
        out.update(result.headers)
        host.metrics.ocpi_request(who.partner_id, route.module, result.status_code).inc()
        log.info(
            "ocpi_request", at=format_utc(at), partner=who.partner_id, method=request.method,
            status_code=result.status_code,
        )  # fmt: skip
        return respond(
            http_status=result.http_status,
            status_code=result.status_code,
            message=result.message,
            now=at,
            data=result.data,
            headers=out,
        )

    if isinstance(result, Pending):
        # Answered when the partner's side of the handshake is in (or has failed).
        return host.defer(result, answer, now)
    return answer(result, now)


@dataclass
class _Who:
    partner_id: str = "-"


def _dispatch(
    host: RouterHost,
    request: HttpRequest,
    headers: dict[str, str],
    now: datetime,
    route: _Route,
    log: Any,
    who: _Who,
) -> OcpiResult | Pending:
    if route.module == "unknown":
        raise not_found("unknown endpoint", status_code=2000)
    refused: OcpiError | None = None
    notes: list[Noted] = []
    with _Unit(host.db) as unit:
        partner_id, kind, parties = _authenticate(host, unit, headers, route.adapter, notes)
        who.partner_id = partner_id
        tolerance = parties.tolerate
        if route.trailing_slash:
            if not tolerance.trailing_slash:
                raise not_found("unknown endpoint: the URL ends in a slash (no endpoint URL does)", 2000)
            notes.append(Noted("trailing_slash", f"{request.method.upper()} {urlsplit(request.url).path}"))
        _check_routing_headers(route, headers, parties, notes)
        if kind == "A" and route.module not in ("versions", "details", *REGISTRATION_MODULES):
            # Token A only opens versions and credentials (transport_and_format, authorization header).
            raise unauthorized("credentials token A is only valid for versions and credentials")
        version = route.adapter.version if route.adapter is not None else None
        other_version = kind == "C" and version and parties.version and version != parties.version
        if other_version and route.module not in ("details", *REGISTRATION_MODULES):
            # The partner's adapter was chosen at its handshake; another version's modules are not
            # its API (a credentials PUT under that version moves it there, credentials PUT).
            raise not_found(f"unknown endpoint: this partner registered on OCPI {parties.version}", 2000)
        _check_receiver(route, headers, (host.settings.country_code, host.settings.party_id))
        _check_sender(route, headers, parties, unit, partner_id)
        # Findings go to the OCPI-from party only where _check_sender vouched for it.
        named = headers if _sender_checked(route) else {}
        if route.module in CPO_MODULES and parties.own and not parties.cpo and not parties.hub:
            # A partner whose parties are none of them a CPO (a peer eMSP) has no use of a CPO's
            # module, whatever party a request names (a GET of our tokens names none); as
            # hubclientinfo refuses a non-hub. Without any party of its own, ownership answers (404).
            raise OcpiError(
                2001,
                f"{route.module}: only a CPO uses this endpoint, and no party of yours is one",
                http_status=403,
            )
        if route.module in ("versions", "details"):
            if request.method.upper() != "GET":
                raise method_not_allowed("only GET", ["GET"])
            base = host.settings.base_url
            _record(host, unit, partner_id, parties, named, notes, now)
            if route.adapter is None:
                return OcpiResult(versions_list(base))
            return OcpiResult(version_details(base, route.adapter.version))
        assert route.adapter is not None
        ctx = Ctx(
            request,
            now,
            list(route.segments),
            partner_id,
            unit,
            host,
            log.bind(partner=partner_id),
            route.adapter,
            parties=parties,
            notes=notes,
            stored_sessions=host.db.stored_sessions,
        )
        try:
            result = HANDLERS[route.module](ctx)
        except OcpiError as err:
            if not err.commit:
                raise  # the unit of work rolls back: a refused request changes nothing
            refused = err
        _record(host, unit, partner_id, parties, named, ctx.notes, now)
        if ctx.events:  # the transactional outbox: the events commit with their cause, or not at all
            host.bus.write(unit(), ctx.events, now)
    if ctx.events:
        host.bus.committed(ctx.events)  # processed after the response (EmspCore.handle, or a worker)
    ctx.remember_committed(host.fresh_cdrs)
    if refused is not None:
        raise refused
    return result


def _check_routing_headers(
    route: _Route, headers: dict[str, str], parties: Parties, notes: list[Noted]
) -> None:
    """A functional module's request names its parties in the OCPI-from/to-* headers
    (transport_and_format, message routing; versions with routing). Between two platforms of one
    party each (the spec's peer-to-peer exception; we are one party) they may be left out. A hub or
    a partner of several parties that leaves them out is noted here; a partner of several parties
    is not refused: every push names its party in the URL or body, which is what ownership is
    checked on, and a request whose party only the headers could tell is refused where that matters
    (tokens authorize: 2002). Behind a hub the headers are the only word on which party sent it: an
    owner-checked request without OCPI-from is refused there (Ctx.hub_sender)."""
    if route.adapter is None or not route.adapter.routing_headers or route.module in CONFIGURATION_MODULES:
        return
    if route.module not in HANDLERS or (not parties.hub and len(parties.own) <= 1):
        return
    missing = [
        f"OCPI-{side}-{part}" for side in ("from", "to") for part in ROUTING_HEADERS
        if not headers.get(f"ocpi-{side}-{part}")
    ]  # fmt: skip
    if missing:
        notes.append(Noted("routing_headers_missing", f"{route.module}: without {', '.join(missing)}"))


def _check_receiver(route: _Route, headers: dict[str, str], ours: tuple[str, str]) -> None:
    """OCPI-to-* name "the connected party this message is to be sent to" (2.2.1
    transport_and_format, message routing headers); a hub forwards to the receiving party, a
    Broadcast Push included. A functional module's message for another party reached us by
    mistake: refused (2001), not stored as ours. Absent headers are _check_routing_headers' case."""
    if route.adapter is None or not route.adapter.routing_headers or route.module in CONFIGURATION_MODULES:
        return
    to = (headers.get("ocpi-to-country-code", ""), headers.get("ocpi-to-party-id", ""))
    if all(to) and (to[0].upper(), to[1].upper()) != (ours[0].upper(), ours[1].upper()):
        named = f"{to[0][:8]!r}/{to[1][:8]!r}"
        raise invalid(f"OCPI-to-country-code/OCPI-to-party-id name {named}, not this platform's party")


def _check_sender(
    route: _Route, headers: dict[str, str], parties: Parties, unit: _Unit, partner_id: str
) -> None:
    """OCPI-from-* name "the connected party this message is sent from" (2.2.1/2.3.0
    transport_and_format, message routing headers). Without a hub (Party to Party without Hub) that
    is one of the connected platform's own parties: the roles of its credentials (credentials,
    roles) as far as the operator configured them (`own`). Via a hub it is a party the hub forwards
    for: one we know behind it (configured for the hub, else reported in its HubClientInfo) and
    may take from it (`allows`: not another partner's, never ours), or the hub's own HUB party,
    which is how a Broadcast Push arrives (ibid., Broadcast Push). Naming any other is speaking for
    a party the sender is not: refused before anything is read or stored, with the 404
    transport_and_format (errors) allows for another party's objects, as Ctx.require_owner answers.
    Where no owner is checked (a GET of our tokens) this is the only check of the sender."""
    if not _sender_checked(route):
        return
    cc, pid = headers.get("ocpi-from-country-code", "").strip(), headers.get("ocpi-from-party-id", "").strip()
    if not (cc and pid):
        return  # left out: _check_routing_headers' case (and Ctx.hub_sender's where an owner is checked)
    sender = (cc.upper(), pid.upper())
    if not parties.hub:
        if sender in parties.own:
            return
        whose = "not a party of yours (your credentials roles)"
    else:
        if sender in parties.hubs:
            return
        # A ClientInfo is kept only for a CiString(2)/(3) party (hubclientinfo): no other is read for.
        known = sender in parties.behind or (
            len(sender[0]) == 2
            and len(sender[1]) == 3
            and unit().get(ClientInfoRow, (partner_id, *sender)) is not None
        )
        if known and parties.allows(*sender):
            return
        whose = "not a party you forward for (configured for you or in your HubClientInfo)"
    raise OcpiError(
        2001,
        f"OCPI-from-country-code/OCPI-from-party-id name {cc[:8]!r}/{pid[:8]!r}, {whose}",
        http_status=404,
    )


def _sender_checked(route: _Route) -> bool:
    """A functional module of a version with routing headers: where OCPI-from-* mean something and
    _check_sender checks them (versions, details and the configuration modules are not routed)."""
    routed = route.adapter is not None and route.adapter.routing_headers
    return routed and route.module in HANDLERS and route.module not in CONFIGURATION_MODULES


def _party_of(headers: dict[str, str], parties: Parties) -> PartyRef:
    """Whose conduct a finding is: the request's OCPI-from party (`headers`: only where checked,
    _sender_checked), else the partner's one CPO party, else its first configured party."""
    cc, pid = headers.get("ocpi-from-country-code"), headers.get("ocpi-from-party-id")
    if cc and pid and len(cc) == 2 and len(pid) == 3 and (cc + pid).isascii():
        return PartyRef(cc.upper(), pid.upper())
    single = parties.single_cpo() or min(parties.own, default=("", ""))
    return PartyRef(*single)


def _record(
    host: RouterHost,
    unit: _Unit,
    partner_id: str,
    parties: Parties,
    headers: dict[str, str],
    notes: list[Noted],
    now: datetime,
) -> None:
    """The request's findings, counted in its unit of work (emsp.services.findings)."""
    if not notes:
        return
    default = _party_of(headers, parties)
    if not default.country_code:  # not registered yet (token A): its first configured party
        row = unit().get(PartnerRow, partner_id)
        configured = parties_of(row) if row is not None else ()
        if configured:
            default = PartyRef(configured[0].country_code, configured[0].party_id)
    findings.record(
        unit(),
        partner_id,
        [NewFinding(n.kind, n.party or default, n.example, n.module, n.object_id) for n in notes],
        now,
    )
    for note in notes:
        host.metrics.findings.labels(partner=partner_id, kind=note.kind).inc()


def _routing_headers(host: RouterHost, headers: dict[str, str]) -> dict[str, str]:
    """Answer to whoever sent (OCPI-from-*), from us (transport_and_format, message routing)."""
    s = host.settings
    out = {"OCPI-from-country-code": s.country_code, "OCPI-from-party-id": s.party_id}
    for part in ROUTING_HEADERS:
        value = _echo(headers.get(f"ocpi-from-{part}"))
        if value:
            out[f"OCPI-to-{part}"] = value
    return out
