"""Sans-IO OCPI 2.2.1 CPO role of a mock CPO, toward one eMSP (bilateral).

It registers with the eMSP (credentials handshake with token A), pushes its Locations and Tariffs,
asks the eMSP for real-time authorization of every OCPP Authorize, reports Sessions (PUT at start,
PATCH on updates) and POSTs a CDR priced from its own tariff when a transaction ends. Inputs are
CSMS events and HTTP responses; outputs are OutboundRequests and authorization decisions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.settlement.tariff import MeterSample, Tariff, parse_tariff, price_session
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, OutboundRequest
from simulators.cpo.events import (
    AuthorizationRequested,
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)
from simulators.cpo.locations import EvseRef, SiteSpec, build_location, evse_index
from simulators.cpo.ocpi_client import Envelope, PartyHeaders, build_request, read_envelope
from simulators.cpo.ocpi_objects import CpoSession, cdr_object, session_object
from simulators.cpo.ocpi_server import CpoOcpiServer
from simulators.cpo.retry import RETRYABLE_HTTP, RetryQueue
from simulators.cpo.tariff_switch import price_with_switches
from simulators.cpo.truth import AuthorizationRecord, CpoTruth, SentCdr
from simulators.dialects.profile import DialectProfile

VERSION = "2.2.1"
KWH = Decimal(1000)


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


class OcpiCpo:
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
    ) -> None:
        self.cpo_id = cpo_id
        self.country_code, self.party_id = country_code, party_id
        self._party = (country_code, party_id)
        self.dialect = dialect
        self.truth = CpoTruth()
        self._emsp_versions_url = emsp_versions_url
        self._token = token_a  # token A until registered, then token C
        self._token_b = f"{cpo_id}-token-b"
        self._server = CpoOcpiServer(
            base_url=base_url,
            country_code=country_code,
            party_id=party_id,
            business_name=business_name,
            accepted_token=self._token_b,
        )
        self._tariff_json = dict(tariffs)
        self._tariffs = {tid: parse_tariff(data) for tid, data in tariffs.items()}
        self._sites = sites
        self._site_tz = {site.location_id: site.time_zone for site in sites}
        self._evses: dict[tuple[str, int], EvseRef] = {}
        self._station_site: dict[str, SiteSpec] = {}
        for site in sites:
            self._evses |= evse_index(site, country_code, party_id)
            for station in site.stations:
                self._station_site[station.station_id] = site
        self._endpoints: dict[str, str] = {}
        self._emsp_party: tuple[str, str] | None = None
        self._registered = False
        self._deferred: list[tuple[CsmsEvent, datetime]] = []
        self._pending: dict[str, _Pending] = {}
        self._counter = 0
        self._authorized: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
        self._auth_refs: dict[str, tuple[str, str]] = {}
        # Transactions in progress; a session leaves once its CDR is out (the truth keeps what counts).
        self._sessions: dict[tuple[str, str], CpoSession] = {}
        self._session_count = 0
        self._retry = RetryQueue()
        self._holding = False  # cdr_hold: CDRs wait for the end-of-day batch
        self._held: list[tuple[dict[str, Any], str]] = []  # (CDR, correlation id), in order
        self._late: list[tuple[dict[str, Any], str]] = []

    def tariff(self, tariff_id: str) -> Tariff:
        return self._tariffs[tariff_id]

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
        correlation: str | None = None,
        **context: Any,
    ) -> OutboundRequest:
        request_id = self._next_id()
        parties = None
        if self._emsp_party is not None:
            parties = PartyHeaders(self.country_code, self.party_id, *self._emsp_party)
        request = build_request(
            method,
            url,
            token=self._token,
            token_encoding=self.dialect.authorization_header,
            request_id=request_id,
            correlation_id=correlation or request_id,
            parties=parties,
            body=body,
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
        return self._retry.next_wakeup()

    def on_wakeup(self, now: datetime) -> CpoOutput:
        return CpoOutput(requests=self._retry.wakeup(now))

    def on_unreachable(self, request_id: str, now: datetime) -> CpoOutput:
        """The request never reached the eMSP (connection refused)."""
        return self._on_failure(request_id, Envelope(0, None, "connection refused", None), now)

    def _on_failure(self, request_id: str, envelope: Envelope, now: datetime) -> CpoOutput:
        pending = self._pending.get(request_id)
        if pending is None:
            return CpoOutput()
        if pending.kind != "authorize" and pending.outbound is not None:
            self.truth.failed_calls.append(
                (format_utc(now), pending.kind, envelope.status_code, envelope.status_message or "retrying")
            )
            self._retry.failed(pending.seq, pending.outbound, now)  # kept pending: it will be answered
            return CpoOutput()
        del self._pending[request_id]
        return self._on_authorize(envelope, pending, now)

    def on_response(self, request_id: str, response: HttpResponse, now: datetime) -> CpoOutput:
        if response.status in RETRYABLE_HTTP:
            return self._on_failure(request_id, read_envelope(response), now)
        pending = self._pending.pop(request_id, None)
        if pending is None:
            return CpoOutput()
        released = self._retry.succeeded(request_id)
        if released:
            out = self._dispatch(request_id, pending, response, now)
            out.requests[:0] = released
            return out
        return self._dispatch(request_id, pending, response, now)

    def _dispatch(
        self, request_id: str, pending: _Pending, response: HttpResponse, now: datetime
    ) -> CpoOutput:
        envelope = read_envelope(response)
        handler: Callable[[Any, _Pending, datetime], CpoOutput] = getattr(self, f"_on_{pending.kind}")
        if pending.kind == "authorize":
            return handler(envelope, pending, now)
        if not envelope.ok:
            self.truth.failed_calls.append(
                (format_utc(now), pending.kind, envelope.status_code, envelope.status_message)
            )
            return CpoOutput()
        return handler(envelope.data, pending, now)

    def _on_versions(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        match = [v for v in data or [] if isinstance(v, dict) and v.get("version") == VERSION]
        if not match:
            self.truth.failed_calls.append((format_utc(now), "versions", None, f"eMSP offers no {VERSION}"))
            return CpoOutput()
        return CpoOutput(requests=[self._send("details", "GET", str(match[0]["url"]), now)])

    def _on_details(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        for endpoint in data.get("endpoints", []):
            self._endpoints[f"{endpoint['identifier']}:{endpoint.get('role', '')}"] = endpoint["url"]
        body = self._server.own_credentials(self._token_b)
        url = self._endpoint("credentials")
        return CpoOutput(requests=[self._send("credentials", "POST", url, now, body=body)])

    def _on_credentials(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        self._token = str(data["token"])  # token C: what we use from now on
        roles = data.get("roles") or []
        emsp_role = next((r for r in roles if r.get("role") == "EMSP"), roles[0] if roles else {})
        self._emsp_party = (str(emsp_role.get("country_code", "")), str(emsp_role.get("party_id", "")))
        self._registered = True
        self.truth.registered_at = now
        out = CpoOutput()
        for tariff_id, tariff in self._tariff_json.items():
            url = f"{self._endpoint('tariffs')}/{self.country_code}/{self.party_id}/{tariff_id}"
            out.requests.append(self._send("put", "PUT", url, now, body=dict(tariff)))
        for site in self._sites:
            location = build_location(site, self.country_code, self.party_id, now)
            url = f"{self._endpoint('locations')}/{self.country_code}/{self.party_id}/{site.location_id}"
            out.requests.append(self._send("put", "PUT", url, now, body=location))
        deferred, self._deferred = self._deferred, []
        for event, at in deferred:
            self._merge(out, self.on_event(event, at))
        return out

    def _on_put(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        return CpoOutput()

    _on_patch = _on_put
    _on_cdr = _on_put

    def _endpoint(self, module: str) -> str:
        for key, url in self._endpoints.items():
            if key.split(":")[0] == module:
                return url.rstrip("/")
        raise KeyError(f"the eMSP has no {module} endpoint")

    @staticmethod
    def _merge(into: CpoOutput, more: CpoOutput) -> None:
        into.requests.extend(more.requests)
        into.decisions.extend(more.decisions)

    # ---------------------------------------------------------------- CSMS events
    def on_event(self, event: CsmsEvent, now: datetime) -> CpoOutput:
        if not self._registered:
            # Nothing can be reported before the handshake; replay it in order once registered.
            self._deferred.append((event, now))
            return CpoOutput()
        if isinstance(event, AuthorizationRequested):
            return self._authorize(event, now)
        if isinstance(event, TransactionStarted):
            return self._session_started(event, now)
        if isinstance(event, MeterSampled):
            return self._sampled(
                event.station_id, event.transaction_id, event.at, event.energy_wh, event.power_w, now
            )
        if isinstance(event, TransactionEnded):
            return self._session_ended(event, now)
        # ChargingStateChanged needs nothing here: the station sends a meter sample at that instant.
        return CpoOutput()

    def _authorize(self, event: AuthorizationRequested, now: datetime) -> CpoOutput:
        site = self._station_site.get(event.station_id)
        body = None
        if site is not None:
            evses = sorted(ref.evse_uid for key, ref in self._evses.items() if key[0] == event.station_id)
            body = {"location_id": site.location_id, "evse_uids": evses}
        url = f"{self._endpoint('tokens')}/{event.token_uid}/authorize?type=RFID"
        request = self._send(
            "authorize",
            "POST",
            url,
            now,
            body=body,
            correlation=f"{self.cpo_id}-auth-{event.ref}",
            ref=event.ref,
            station_id=event.station_id,
            token_uid=event.token_uid,
        )
        return CpoOutput(requests=[request])

    def _on_authorize(self, envelope: Any, pending: _Pending, now: datetime) -> CpoOutput:
        ctx = pending.context
        data = envelope.data if envelope.ok else None
        allowed = isinstance(data, dict) and data.get("allowed") == "ALLOWED"
        if envelope.ok:
            result = str(data.get("allowed")) if isinstance(data, dict) else "INVALID_RESPONSE"
        elif envelope.status_code == 2004:
            result = "UNKNOWN"
        elif envelope.http_status == 0:
            result = "UNREACHABLE"
        else:
            code = envelope.status_code if envelope.status_code is not None else f"HTTP{envelope.http_status}"
            result = f"ERROR_{code}"
        latency_ms = Decimal((now - pending.sent_at).total_seconds() * 1000).quantize(Decimal("0.001"))
        self.truth.authorizations.append(
            AuthorizationRecord(now, ctx["station_id"], ctx["token_uid"], result, latency_ms)
        )
        if allowed and isinstance(data, dict):
            token = data.get("token") or {}
            cdr_token = {
                "country_code": token.get("country_code", self._emsp_party[0] if self._emsp_party else ""),
                "party_id": token.get("party_id", self._emsp_party[1] if self._emsp_party else ""),
                "uid": ctx["token_uid"],
                "type": token.get("type", "RFID"),
                "contract_id": token.get("contract_id", ctx["token_uid"]),
            }
            self._authorized[(ctx["station_id"], ctx["token_uid"])] = (
                cdr_token,
                data.get("authorization_reference"),
            )
        return CpoOutput(decisions=[AuthorizationDecision(ctx["ref"], allowed)])

    def _session_started(self, event: TransactionStarted, now: datetime) -> CpoOutput:
        evse = self._evses[(event.station_id, event.connector_id)]
        cdr_token, auth_ref = self._authorized.pop(
            (event.station_id, event.token_uid),
            (
                {
                    # Never authorized over OCPI (e.g. a station that starts before it asks): the
                    # token can only belong to the eMSP we are registered with.
                    "country_code": self._emsp_party[0] if self._emsp_party else "",
                    "party_id": self._emsp_party[1] if self._emsp_party else "",
                    "uid": event.token_uid,
                    "type": "RFID",
                    "contract_id": event.token_uid,
                },
                None,
            ),
        )
        site = self._station_site[event.station_id]
        self._session_count += 1
        session_id = f"{self.cpo_id}-S{self._session_count:05d}"
        session = CpoSession(
            session_id=session_id,
            station_id=event.station_id,
            transaction_id=event.transaction_id,
            evse=evse,
            cdr_token=cdr_token,
            authorization_reference=auth_ref,
            tariff_id=site.tariff_id,
            start=event.at,
            meter_start_wh=event.meter_start_wh,
            samples=[MeterSample(timestamp=event.at, energy_kwh=Decimal(0))],
        )
        self._sessions[(event.station_id, event.transaction_id)] = session
        self.truth.session_ids[(event.station_id, event.transaction_id)] = session_id
        self.truth.tariff_in_effect[session_id] = (site.tariff_id, site.time_zone)
        body = session_object(
            self._party, session, self._currency(session), now, status="ACTIVE", kwh=Decimal(0)
        )
        return CpoOutput(
            requests=[
                self._send("put", "PUT", self._session_url(session), now, body=body, correlation=session_id)
            ]
        )

    def _sampled(
        self,
        station_id: str,
        transaction_id: str,
        at: datetime,
        energy_wh: int,
        power_w: Decimal | None,
        now: datetime,
    ) -> CpoOutput:
        session = self._sessions.get((station_id, transaction_id))
        if session is None:
            return CpoOutput()
        kwh = Decimal(energy_wh - session.meter_start_wh) / KWH
        power_kw = power_w / KWH if power_w is not None else None
        if session.samples and session.samples[-1].timestamp == at:
            session.samples[-1] = MeterSample(timestamp=at, energy_kwh=kwh, power_kw=power_kw)
        else:
            session.samples.append(MeterSample(timestamp=at, energy_kwh=kwh, power_kw=power_kw))
        if self.dialect.session_updates == "none":
            return CpoOutput()
        body = {"kwh": kwh, "last_updated": format_utc(now)}
        return CpoOutput(
            requests=[
                self._send(
                    "patch",
                    "PATCH",
                    self._session_url(session),
                    now,
                    body=body,
                    correlation=session.session_id,
                )
            ]
        )

    def _session_ended(self, event: TransactionEnded, now: datetime) -> CpoOutput:
        session = self._sessions.pop((event.station_id, event.transaction_id), None)
        if session is None:
            return CpoOutput()
        kwh = Decimal(event.meter_stop_wh - session.meter_start_wh) / KWH
        if session.samples[-1].timestamp == event.at:
            session.samples[-1] = MeterSample(timestamp=event.at, energy_kwh=kwh)
        else:
            session.samples.append(MeterSample(timestamp=event.at, energy_kwh=kwh))
        tariff = self._tariffs[session.tariff_id]
        tz = self._site_tz[session.evse.location_id]
        if session.tariff_switches:
            periods, priced = price_with_switches(
                self._tariffs,
                session.tariff_id,
                session.tariff_switches,
                session.samples,
                start=session.start,
                end=event.at,
                tz=tz,
            )
        else:
            periods, priced = price_session(tariff, session.samples, start=session.start, end=event.at, tz=tz)
        totals = priced.totals.to_ocpi()
        out = CpoOutput()
        body = session_object(self._party, session, self._currency(session), now, status="COMPLETED", kwh=kwh)
        body |= {
            "end_date_time": format_utc(event.at),
            "charging_periods": [p.to_ocpi(decimals=4) for p in periods],
        }
        if "total_cost" in totals:
            body["total_cost"] = totals["total_cost"]
        out.requests.append(
            self._send(
                "put", "PUT", self._session_url(session), now, body=body, correlation=session.session_id
            )
        )
        used = [session.tariff_id, *(tid for _at, tid in session.tariff_switches)]
        embedded = (
            [self._tariff_json[tid] for tid in dict.fromkeys(used)] if self.dialect.cdr_embeds_tariffs else []
        )
        site = self._station_site[event.station_id]
        cdr = cdr_object(
            self._party, session, site, self._currency(session), event.at, periods, totals, embedded, now
        )
        if self._holding:
            self._held.append((cdr, session.session_id))
        else:
            out.requests.append(
                self._send(
                    "cdr", "POST", self._endpoint("cdrs"), now, body=cdr, correlation=session.session_id
                )
            )
        self.truth.cdrs.append(
            SentCdr(
                cdr["id"],
                session.session_id,
                event.station_id,
                event.transaction_id,
                kwh,
                totals.get("total_cost"),
                now,
            )
        )
        return out

    # ------------------------------------------------------------------ timeline
    def publish_tariff(
        self, old_id: str, new_id: str, tariff: Mapping[str, Any], policy: str, now: datetime
    ) -> CpoOutput:
        """A new version of `old_id`, under `new_id`: PUT it, repoint the connectors that used the old one.

        Sessions in progress under `old_id` keep it (`price_at_start`) or switch now (`split_periods`).
        """
        data = dict(tariff) | {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "id": new_id,
            "last_updated": format_utc(now),
        }
        self._tariff_json[new_id] = data
        self._tariffs[new_id] = parse_tariff(data)
        if policy == "split_periods":
            for session in self._sessions.values():
                current = session.tariff_switches[-1][1] if session.tariff_switches else session.tariff_id
                if current == old_id:
                    session.tariff_switches.append((now, new_id))
                    self.truth.tariff_switches[session.session_id] = list(session.tariff_switches)
        moved = [site for site in self._sites if site.tariff_id == old_id]
        self._sites = [replace(s, tariff_id=new_id) if s.tariff_id == old_id else s for s in self._sites]
        for site in self._sites:
            for station in site.stations:
                self._station_site[station.station_id] = site
        if not self._registered:
            return CpoOutput()  # the handshake will push the current tariffs and locations
        out = CpoOutput()
        url = f"{self._endpoint('tariffs')}/{self.country_code}/{self.party_id}/{new_id}"
        out.requests.append(self._send("put", "PUT", url, now, body=data))
        for site in self._sites:
            if site.location_id in {m.location_id for m in moved}:
                location = build_location(site, self.country_code, self.party_id, now)
                url = f"{self._endpoint('locations')}/{self.country_code}/{self.party_id}/{site.location_id}"
                out.requests.append(self._send("put", "PUT", url, now, body=location))
        return out

    def hold_cdrs(self) -> None:
        self._holding = True

    def release_cdrs(
        self, now: datetime, *, duplicate: float = 0.0, late: float = 0.0, rng: random.Random | None = None
    ) -> CpoOutput:
        """POST every held CDR at once; a `duplicate` share twice, a `late` share not yet (next call).

        A call after the batch (the late ones' turn) sends what is left, without further draws.
        """
        out = CpoOutput()
        if not self._holding:
            batch, self._late = self._late, []
            for cdr, correlation in batch:
                out.requests.append(
                    self._send("cdr", "POST", self._endpoint("cdrs"), now, body=cdr, correlation=correlation)
                )
            return out
        self._holding = False
        batch, self._held = self._held, []
        for cdr, correlation in batch:
            if rng is not None and late and rng.random() < late:
                self._late.append((cdr, correlation))
                self.truth.cdrs_late.append(cdr["id"])
                continue
            copies = 2 if rng is not None and duplicate and rng.random() < duplicate else 1
            if copies == 2:
                self.truth.cdrs_resent.append(cdr["id"])
            for _ in range(copies):
                out.requests.append(
                    self._send("cdr", "POST", self._endpoint("cdrs"), now, body=cdr, correlation=correlation)
                )
        return out

    def _currency(self, session: CpoSession) -> str:
        return str(self._tariff_json[session.tariff_id]["currency"])

    def _session_url(self, session: CpoSession) -> str:
        return f"{self._endpoint('sessions')}/{self.country_code}/{self.party_id}/{session.session_id}"
