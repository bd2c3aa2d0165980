"""Plumbing of the mock CPO's OCPI role: requests it sends, the handshake, retries.

OcpiParty numbers and builds every request (token, headers, correlation), serves the CPO's own
endpoints, registers with the eMSP on its configured OCPI version (versions, details, credentials
with token A, then pushes its tariffs and locations; on 2.1.1 it also pulls the eMSP's Tokens, whose
`auth_id` its Sessions and CDRs name), dispatches each response to the `_on_<kind>` handler of the
request it answers, and holds requests behind a retry backlog while the eMSP is unreachable. The
version's wire form comes from `simulators.cpo.versions`. What the CPO reports (authorizations,
sessions, CDRs) lives in OcpiCpo (ocpi_cpo.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emsp.settlement.tariff import Tariff
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest
from simulators.cpo.dialect_wire import Dress
from simulators.cpo.events import CsmsEvent
from simulators.cpo.locations import EvseRef, SiteSpec, build_location, evse_index
from simulators.cpo.ocpi_client import Envelope, PartyHeaders, build_request, read_envelope
from simulators.cpo.ocpi_server import CpoOcpiServer
from simulators.cpo.retry import RETRYABLE_HTTP, RetryQueue
from simulators.cpo.sender import Paging, Published
from simulators.cpo.truth import CpoTruth
from simulators.cpo.versions import TokenInfo, wire_for
from simulators.dialects.profile import DialectProfile

PUSHES = frozenset({"put", "patch", "cdr"})  # what the CPO sends the eMSP's Receiver interfaces
HUB_NOT_DELIVERED = frozenset({4002, 4003})
VERSION = "2.2.1"  # the default; a CPO speaks the `ocpi_version` its scenario gives


@dataclass(frozen=True, slots=True)
class AuthorizationDecision:
    ref: str
    accepted: bool


@dataclass(slots=True)
class CpoOutput:
    requests: list[OutboundRequest] = field(default_factory=list)
    decisions: list[AuthorizationDecision] = field(default_factory=list)


@dataclass(slots=True)
class _Pending:
    kind: str
    sent_at: datetime
    context: dict[str, Any]
    seq: int = 0
    outbound: OutboundRequest | None = None


class OcpiParty:
    def __init__(
        self,
        *,
        cpo_id: str,
        country_code: str,
        party_id: str,
        business_name: str,
        base_url: str,
        emsp_versions_url: str,
        token_a: str,
        dialect: DialectProfile,
        tariffs: Mapping[str, Mapping[str, Any]],
        sites: list[SiteSpec],
        ocpi_version: str = VERSION,
        emsp_party: tuple[str, str] | None = None,
        hub_client_info: bool = False,
        seed: int = 0,
    ) -> None:
        self.cpo_id = cpo_id
        self.wire = wire_for(ocpi_version)
        self.version = self.wire.version
        self.country_code, self.party_id = country_code, party_id
        self._party = (country_code, party_id)
        self.dialect = dialect
        # The dialect's own draws (duplicate CDRs): seeded from the run, never the wall clock.
        self._rng = random.Random(f"{seed}:{cpo_id}:dialect")
        # Formats: every outgoing body and object URL is dressed once, in `_send` and the Sender lists.
        local_tz = sites[0].time_zone if sites else "UTC"
        self._dress = Dress.from_dialect(dialect, local_tz=local_tz, cpo_id=cpo_id)
        self._slash = "/" if dialect.url_trailing_slash else ""
        # Requests kept for later (delayed CDRs, a stale PATCH): (due, order, build the request).
        self._later: list[tuple[datetime, int, Callable[[datetime], OutboundRequest | None]]] = []
        self._later_seq = 0
        self.truth = CpoTruth()
        self._emsp_versions_url = emsp_versions_url
        self._token = token_a  # token A until registered, then token C
        self._token_b = f"{cpo_id}-token-b"
        self.published = Published()  # what the Sender interfaces list
        self._server = CpoOcpiServer(
            base_url=base_url,
            wire=self.wire,
            country_code=country_code,
            party_id=party_id,
            business_name=business_name,
            accepted_token=self._token_b,
            published=self.published,
            hub_client_info=hub_client_info,  # behind a hub: hear which parties it connects
            trailing_slash=self._slash,
            ack_data=dialect.ack_data,
            not_found=dialect.not_found,
            paging=Paging.from_dialect(dialect),
            dress=self._dress.apply,
        )
        self._tariff_json = dict(tariffs)
        self._tariffs = {tid: self._parse_tariff(data) for tid, data in tariffs.items()}
        self._sites = sites
        self._site_tz = {site.location_id: site.time_zone for site in sites}
        self._evses: dict[tuple[str, int], EvseRef] = {}
        self._station_site: dict[str, SiteSpec] = {}
        for site in sites:
            self._evses |= evse_index(site, country_code, party_id)
            for station in site.stations:
                self._station_site[station.station_id] = site
        # A station's EVSE uids (the authorize request's evse_uids): looked up, not scanned for.
        self._station_evses: dict[str, list[str]] = {}
        for (station_id, _connector), ref in self._evses.items():
            self._station_evses.setdefault(station_id, []).append(ref.evse_uid)
        self._endpoints: dict[str, str] = {}
        self._emsp_party: tuple[str, str] | None = None
        # Behind a hub the credentials name the hub (role HUB), not the eMSP: the scenario says
        # which party the CPO's OCPI-to-* headers and CDR tokens must name.
        self._configured_emsp_party = emsp_party
        self._registered = False
        self._synced = False  # registered and (2.1.1) the eMSP's Tokens pulled: events may flow
        self._deferred: list[tuple[CsmsEvent, datetime]] = []
        self._pending: dict[str, _Pending] = {}
        self._counter = 0
        self._retry = RetryQueue()
        self._failed: set[str] = set()  # request ids that failed and wait to be sent again

    def tariff(self, tariff_id: str) -> Tariff:
        return self._tariffs[tariff_id]

    def _parse_tariff(self, data: Mapping[str, Any]) -> Tariff:
        return self.wire.parse_tariff(data, self.country_code, self.party_id)

    def token_info(self, uid: str) -> TokenInfo | None:
        """What the eMSP told us of a token (its Tokens list or pushes), if anything."""
        token = self._server.tokens.get(uid)
        return None if token is None else self.wire.token(token, self._emsp_party or ("", ""))

    @property
    def client_info(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What a hub told us of the parties it connects (HubClientInfo), by party."""
        return self._server.client_info

    def evse(self, station_id: str, connector_id: int) -> EvseRef:
        return self._evses[(station_id, connector_id)]

    # ----------------------------------------------------------------- plumbing
    def _next_id(self) -> str:
        self._counter += 1
        return f"{self.cpo_id}-{self._counter:06d}"

    def _send(
        self,
        kind: str,
        method: str,
        url: str,
        now: datetime,
        *,
        body: Any = None,
        body_text: str | None = None,
        correlation: str | None = None,
        **context: Any,
    ) -> OutboundRequest:
        """`body_text`: dumps(body), when the caller wrote it already (for Published.put)."""
        request_id = self._next_id()
        parties = None
        if (
            self._emsp_party is not None
            and self.wire.routing_headers
            and self.dialect.routing_headers == "sent"
        ):
            parties = PartyHeaders(self.country_code, self.party_id, *self._emsp_party)
        url = self._dress.url(url, self.country_code, self.party_id)
        if self._slash and not url.split("?", 1)[0].endswith("/"):
            path, sep, query = url.partition("?")
            url = f"{path}/{sep}{query}"
        dressed = self._dress.apply(body)
        request = build_request(
            method,
            url,
            token=self._token,
            token_encoding=self.wire.token_encoding or self.dialect.authorization_header,
            request_id=request_id,
            correlation_id=correlation or request_id,
            parties=parties,
            body=dressed,
            text=body_text if dressed is body else None,  # a dressed body is other text
        )
        outbound = OutboundRequest(request_id=request_id, partner="emsp", request=request)
        self._pending[request_id] = _Pending(kind, now, context, self._counter, outbound)
        return outbound

    def handle(self, request: HttpRequest, now: datetime) -> HttpResponse:
        """Serve the CPO's own OCPI endpoints (the eMSP fetches our versions after credentials)."""
        return self._server.handle(request, now)

    # ------------------------------------------------------- credentials handshake
    def start(self, now: datetime) -> CpoOutput:
        return CpoOutput(requests=[self._send("versions", "GET", self._emsp_versions_url, now)])

    @property
    def registering(self) -> bool:
        """The handshake (and the 2.1.1 Tokens pull) is under way: a call of it awaits its answer,
        none waits for a retry. False before start(), once synced, and once it failed or stopped
        (an eMSP without our version): a runtime that holds its clock meanwhile must not wait then."""
        return not self._synced and bool(self._pending) and not self._failed and not self._retry.holding

    # ------------------------------------------------------------- retries
    def gate(self, requests: list[OutboundRequest]) -> list[OutboundRequest]:
        """What may go out now: while requests wait to be retried, later ones wait behind them."""
        if not self._retry.holding:
            return requests
        out = []
        for request in requests:
            pending = self._pending.get(request.request_id)
            if pending is None or pending.kind == "authorize" or self._retry.lets_through(request):
                out.append(request)
            else:
                self._retry.hold(pending.seq, request)
        return out

    def next_wakeup(self) -> datetime | None:
        retry = self._retry.next_wakeup()
        if not self._later:  # asked after every output of the CPO: skip the general case
            return retry
        later = self._later[0][0]
        return min((t for t in (retry, later) if t is not None), default=None)

    def on_wakeup(self, now: datetime) -> CpoOutput:
        out = CpoOutput(requests=self._resending(self._retry.wakeup(now), now))
        while self._later and self._later[0][0] <= now:
            _due, _order, build = self._later.pop(0)
            request = build(now)
            if request is not None:
                out.requests.append(request)
        return out

    def cdr_posted_by(self, request_id: str) -> str | None:
        """The id of the CDR this pending request POSTs; None for any other request."""
        pending = self._pending.get(request_id)
        if pending is None or "cdr_id" not in pending.context:
            return None
        return str(pending.context["cdr_id"])

    def link_copy_answered(self, cdr_id: str, response: HttpResponse) -> None:
        """A link's `duplicate` served the POST of CDR `cdr_id` a second time and this is that copy's
        answer (which the CPO never sees). Taken (2xx, 1000), the copy reached the eMSP, which got
        the CDR twice and must recognise the repeat; refused or unavailable (an outage, a hub that
        could not deliver it, a CDR the eMSP refuses either way), it is no repeat it could recognise."""
        if read_envelope(response).ok:
            self.truth.cdrs_link_duplicated.append(cdr_id)

    def _send_later(self, due: datetime, build: Callable[[datetime], OutboundRequest | None]) -> None:
        """Send what `build` makes at `due` (scenario time; the runtime wakes us via next_wakeup)."""
        self._later_seq += 1
        self._later.append((due, self._later_seq, build))
        self._later.sort(key=lambda item: (item[0], item[1]))

    def _resending(self, requests: list[OutboundRequest], now: datetime) -> list[OutboundRequest]:
        """Store-and-forward: record, in the truth, every request sent again after it failed."""
        for request in requests:
            if request.request_id in self._failed:
                self._failed.discard(request.request_id)
                pending = self._pending[request.request_id]
                self.truth.resent.append((format_utc(now), pending.kind, request.request.url))
        return requests

    def received_tokens(self) -> dict[str, dict[str, Any]]:
        """The Tokens the eMSP pushed to (or was pulled by) this CPO, by uid."""
        return self._server.tokens.by_uid()

    def unanswered(self, kind: str) -> list[dict[str, Any]]:
        """The contexts of the `kind` requests (cdr, session, ...) still waiting for a good answer:
        what an observer outside the eMSP knows it has not acknowledged."""
        return [dict(p.context) for p in self._pending.values() if p.kind == kind]

    def on_unreachable(self, request_id: str, now: datetime) -> CpoOutput:
        """The request never reached the eMSP (connection refused)."""
        return self._on_failure(request_id, Envelope(0, None, "connection refused", None), now)

    def on_lost(self, request_id: str, now: datetime) -> CpoOutput:
        """The connection broke before the answer came: the eMSP may well have served the request,
        and its retry may arrive twice (as in life; the receiver must recognise the repeat)."""
        pending = self._pending.get(request_id)
        if pending is not None and "cdr_id" in pending.context and not self._drops(pending):
            self.truth.cdrs_resent.append(pending.context["cdr_id"])
        return self._on_failure(request_id, Envelope(0, None, "connection lost", None), now)

    def _on_failure(self, request_id: str, envelope: Envelope, now: datetime) -> CpoOutput:
        pending = self._pending.get(request_id)
        if pending is None:
            return CpoOutput()
        if pending.kind != "authorize" and pending.outbound is not None and self._drops(pending):
            self.truth.failed_calls.append(
                (format_utc(now), pending.kind, envelope.status_code, envelope.status_message or "dropped")
            )
            self.truth.dropped.append((format_utc(now), pending.kind, pending.outbound.request.url))
            del self._pending[request_id]
            return CpoOutput()
        if pending.kind != "authorize" and pending.outbound is not None:
            self.truth.failed_calls.append(
                (format_utc(now), pending.kind, envelope.status_code, envelope.status_message or "retrying")
            )
            self._failed.add(request_id)
            self._retry.failed(pending.seq, pending.outbound, now)  # kept pending: it will be answered
            return CpoOutput()
        del self._pending[request_id]
        return self._on_authorize(envelope, pending, now)

    def _drops(self, pending: _Pending) -> bool:
        """The dialect gives up on a failed push (push_retry: drop) once registered; the handshake's
        own calls are always retried (without them there is no OCPI link at all)."""
        return self.dialect.push_retry == "drop" and self._synced and pending.kind in PUSHES

    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> CpoOutput:
        if response.status in RETRYABLE_HTTP:
            return self._on_failure(request_id, read_envelope(response), now)
        if self._hub_did_not_deliver(request_id, response):
            return self._on_failure(request_id, read_envelope(response), now)
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return CpoOutput()
        released = self._resending(self._retry.succeeded(request_id), now)
        if released:
            out = self._dispatch(request_id, pending, response, now)
            out.requests[:0] = released
            return out
        return self._dispatch(request_id, pending, response, now)

    def _hub_did_not_deliver(self, request_id: str, response: HttpResponse) -> bool:
        """A push a hub answered 4002 (the receiver did not answer in time) or 4003 (not reachable):
        it was not delivered, and a client sends it again as after a 503 (OCPI status codes, hub
        errors). Dropped, a CDR was lost for good, graded as the eMSP's missing_cdr. An authorization
        keeps its answer: it cannot wait for a retry."""
        pending = self._pending.get(request_id)
        if pending is None or pending.kind not in PUSHES or "400" not in (response.body or ""):
            return False  # the text test spares parsing every answer twice (the eMSP's are 1000s)
        return read_envelope(response).status_code in HUB_NOT_DELIVERED

    def _dispatch(
        self, request_id: str, pending: _Pending, response: HttpResponse, now: datetime
    ) -> CpoOutput:
        envelope = read_envelope(response)
        handler: Callable[[Any, _Pending, datetime], CpoOutput] = getattr(self, f"_on_{pending.kind}")
        if pending.kind == "authorize":
            return handler(envelope, pending, now)
        if not envelope.ok:
            if pending.kind == "cdr":
                self.truth.cdrs_refused.append(str(pending.context.get("cdr_id")))
            self.truth.failed_calls.append(
                (format_utc(now), pending.kind, envelope.status_code, envelope.status_message)
            )
            # A Tokens list the eMSP will not give: carry on without (auth_id falls back to the uid).
            return self._synced_now(now) if pending.kind == "tokens" else CpoOutput()
        if pending.kind in PUSHES:
            self.truth.pushes_accepted += 1
        pending.context["headers"] = response.headers
        return handler(envelope.data, pending, now)

    def _on_versions(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        version = self.version
        match = [v for v in data or [] if isinstance(v, dict) and v.get("version") == version]
        if not match:
            self.truth.failed_calls.append((format_utc(now), "versions", None, f"eMSP offers no {version}"))
            return CpoOutput()
        return CpoOutput(requests=[self._send("details", "GET", str(match[0]["url"]), now)])

    def _on_details(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        for endpoint in data.get("endpoints", []):
            self._endpoints[f"{endpoint['identifier']}:{endpoint.get('role', '')}"] = endpoint["url"]
        body = self._server.own_credentials(self._token_b)
        url = self._endpoint("credentials")
        return CpoOutput(requests=[self._send("credentials", "POST", url, now, body=body)])

    def _on_credentials(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        # token C from now on; a CPO that mixes tokens B and C up keeps calling with its own token B
        after = self.dialect.token_after_registration
        self._token = str(data["token"]) if after == "token_c" else self._token_b
        self._emsp_party = self._configured_emsp_party or self.wire.emsp_party(data)
        self._registered = True
        self.truth.registered_at = now
        out = CpoOutput()
        for tariff_id in self._tariff_json:
            out.requests.append(self._put_tariff(tariff_id, now))
        for site in self._sites:
            out.requests.append(self._put_location(site, now))
        if self.wire.pulls_tokens and self._has_endpoint("tokens"):
            out.requests.append(self._send("tokens", "GET", self._endpoint("tokens"), now))
            return out
        self._merge(out, self._synced_now(now))
        return out

    def _on_tokens(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        """A page of the eMSP's Tokens list (mod_tokens eMSP interface GET); follow `Link: rel=next`."""
        for token in data if isinstance(data, list) else []:
            if isinstance(token, dict) and isinstance(token.get("uid"), str):
                self._server.tokens.put(token)
        link = HttpResponse(200, pending.context.get("headers", {})).header("Link") or ""
        if link.startswith("<") and 'rel="next"' in link:
            return CpoOutput(requests=[self._send("tokens", "GET", link[1 : link.index(">")], now)])
        return self._synced_now(now)

    def _synced_now(self, now: datetime) -> CpoOutput:
        """Registration done: replay, in order, what the stations did meanwhile."""
        self._synced = True
        out = CpoOutput()
        deferred, self._deferred = self._deferred, []
        for event, at in deferred:
            self._merge(out, self.on_event(event, at))
        return out

    def _put_tariff(self, tariff_id: str, now: datetime) -> OutboundRequest:
        body = self.wire.tariff(self._tariff_json[tariff_id])
        self.published.put("tariffs", tariff_id, body)
        url = f"{self._endpoint('tariffs')}/{self.country_code}/{self.party_id}/{tariff_id}"
        return self._send("put", "PUT", url, now, body=body)

    def _put_location(self, site: SiteSpec, now: datetime) -> OutboundRequest:
        body = self.wire.location(self._location(site, now))
        self.published.put("locations", site.location_id, body)
        url = f"{self._endpoint('locations')}/{self.country_code}/{self.party_id}/{site.location_id}"
        return self._send("put", "PUT", url, now, body=body)

    def _location(self, site: SiteSpec, now: datetime) -> dict[str, Any]:
        return build_location(site, self.country_code, self.party_id, now, self._evses)

    def _on_put(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        return CpoOutput()

    _on_patch = _on_put
    _on_cdr = _on_put

    def _has_endpoint(self, module: str) -> bool:
        return any(key.split(":")[0] == module for key in self._endpoints)

    def _endpoint(self, module: str) -> str:
        # A hub lists both interfaces of a module: the CPO calls the eMSP's Receiver (its Tokens Sender).
        wanted = self._endpoints.get(f"{module}:{'SENDER' if module == 'tokens' else 'RECEIVER'}")
        if wanted is not None:
            return wanted.rstrip("/")
        for key, url in self._endpoints.items():
            if key.split(":")[0] == module:
                return url.rstrip("/")
        raise KeyError(f"the eMSP has no {module} endpoint")

    @staticmethod
    def _merge(into: CpoOutput, more: CpoOutput) -> None:
        into.requests.extend(more.requests)
        into.decisions.extend(more.decisions)

    # ------------------------------------------------- what OcpiCpo reports (ocpi_cpo.py)
    def on_event(self, event: CsmsEvent, now: datetime) -> CpoOutput:
        raise NotImplementedError

    def _on_authorize(self, envelope: Any, pending: _Pending, now: datetime) -> CpoOutput:
        raise NotImplementedError
