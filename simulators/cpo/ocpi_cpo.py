"""Sans-IO OCPI 2.2.1 CPO role of a mock CPO, toward one eMSP (bilateral).

It registers with the eMSP (credentials handshake with token A, OcpiParty), pushes its Locations and
Tariffs, asks the eMSP for real-time authorization of every OCPP Authorize, reports Sessions (PUT at
start, PATCH on updates) and POSTs a CDR priced from its own tariff when a transaction ends. Inputs
are CSMS events and HTTP responses; outputs are OutboundRequests and authorization decisions. The
timeline's effects on a CPO (a new tariff version, a CDR batch) are in its base, CpoTimeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from sys import intern
from typing import Any
from urllib.parse import quote

from emsp.settlement.tariff import (
    DEFAULT_POLICY,
    SPEC_READING,
    MeterSample,
    PricingPolicy,
    Reading,
    Tariff,
    build_charging_periods,
    price_session,
)
from emsp.timeutil import format_utc
from emsp.wire import HttpResponse, OutboundRequest, dumps
from simulators.cpo.cdr_batch import CdrBatch
from simulators.cpo.commands import CommandReceiver
from simulators.cpo.events import (
    AuthorizationRequested,
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)
from simulators.cpo.flow import pricing_samples
from simulators.cpo.locations import SiteSpec
from simulators.cpo.ocpi_objects import CpoSession, cdr_object, session_object
from simulators.cpo.ocpi_party import VERSION, AuthorizationDecision, CpoOutput, _Pending
from simulators.cpo.ocpi_timeline import CpoTimeline
from simulators.cpo.tariff_switch import TariffChange, price_with_switches, tariff_at_start
from simulators.cpo.truth import AuthorizationRecord, SentCdr, latency_decimal, unanswered
from simulators.cpo.whitelist import may_whitelist
from simulators.dialects.profile import DialectProfile
from simulators.ocppj.signed import ocpi_signed_data

__all__ = ["VERSION", "AuthorizationDecision", "CpoOutput", "OcpiCpo"]

KWH = Decimal(1000)
STALE_PATCH_DELAY = timedelta(minutes=2)


def _own_reading(dialect: DialectProfile) -> PricingPolicy:
    """How this CPO reads its own tariffs when it prices its CDRs (the eMSP reads them per spec)."""
    reading = Reading(
        cost_rounding=dialect.cost_rounding,
        step_size=dialect.step_size,
        min_duration_from=dialect.min_duration_from,
        end_time_midnight=dialect.end_time_midnight,
        restriction_clock=dialect.restriction_clock,
        midnight_wrap=dialect.midnight_wrap,
    )
    return replace(DEFAULT_POLICY, name=f"cpo-{dialect.name}", reading=reading)


# How long a driver's authorization waits for an OCPI link still being set up (the handshake takes
# a second; an eMSP or hub down since the start takes as long as its outage) before the CPO gives up.
UNLINKED_WAIT = timedelta(seconds=30)


class OcpiCpo(CpoTimeline):
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
        super().__init__(
            cpo_id=cpo_id,
            country_code=country_code,
            party_id=party_id,
            business_name=business_name,
            base_url=base_url,
            emsp_versions_url=emsp_versions_url,
            token_a=token_a,
            dialect=dialect,
            tariffs=tariffs,
            sites=sites,
            ocpi_version=ocpi_version,
            emsp_party=emsp_party,
            hub_client_info=hub_client_info,
            seed=seed,
        )
        self._policy = _own_reading(dialect)
        # Called with (station, transaction, session, total_cost excl. VAT) when this CPO prices a
        # session as the spec reads its tariff: the bench compares it with the ground truth right then
        # (bench/spec_guard.py), so no cost is kept per session for a comparison at the end of the run.
        self.spec_priced: Callable[[str, str, str, Decimal], None] | None = None
        # (station, token) -> the session's CdrToken, authorization_reference and AuthMethod
        self._authorized: dict[tuple[str, str], tuple[dict[str, Any], str | None, str]] = {}
        # Transactions in progress; a session leaves once its CDR is out (the truth keeps what counts).
        self._sessions: dict[tuple[str, str], CpoSession] = {}
        self._session_count = 0
        # One (tariff id, time zone) tuple per distinct pair, shared by the sessions' truth records.
        self._tariff_pairs: dict[tuple[str, str], tuple[str, str]] = {}
        # Each tariff_change as published, in order (tariff_switch.tariff_at_start reads them).
        self._tariff_changes: list[TariffChange] = []
        # Tariff id -> (that Tariff, whether any element has restrictions), asked for every meter
        # sample's PATCH (_patch_periods). A Tariff is frozen; one published again under its id is
        # another object, read again.
        self._restricted: dict[str, tuple[Tariff, bool]] = {}
        # cdr_hold: CDRs wait for the end-of-day batch
        self._batch = CdrBatch(resent=self.truth.cdrs_resent, late=self.truth.cdrs_late)
        # mod_commands Receiver (simulators/cpo/commands.py); our reservation id -> its station
        self.reservation_stations: dict[int, str] = {}
        self.commands = CommandReceiver(self)
        self._server.on_command = self.commands.receive

    def _tariff_pair(self, tariff_id: str, time_zone: str) -> tuple[str, str]:
        pair = (tariff_id, time_zone)
        return self._tariff_pairs.setdefault(pair, pair)

    # ---------------------------------------------------------------- commands (commands.py)
    def transaction_of(self, session_id: str) -> tuple[str, str] | None:
        """(station, transaction id) of a session in progress."""
        for (station_id, transaction_id), session in self._sessions.items():
            if session.session_id == session_id:
                return station_id, transaction_id
        return None

    def connector_at(self, location_id: str, evse_uid: Any) -> tuple[str, int] | None:
        """(station, connector) of an EVSE of ours (the first of the Location without an EVSE)."""
        for (station_id, connector_id), ref in sorted(self._evses.items()):
            if ref.location_id == location_id and evse_uid in (None, ref.evse_uid):
                return station_id, connector_id
        return None

    def remote_start_token(self, station_id: str, token: dict[str, Any], reference: Any) -> None:
        """The Token a START_SESSION names (authorized by the eMSP): the session's CdrToken."""
        uid = str(token["uid"])
        ref = reference if isinstance(reference, str) else None
        self._authorized[(station_id, uid)] = (self._cdr_token(uid, token), ref, "COMMAND")

    def post_command_result(self, url: str, body: dict[str, Any], now: datetime) -> OutboundRequest:
        return self._send("put", "POST", url, now, body=body, correlation=url.rpartition("/")[2])

    # ---------------------------------------------------------------- CSMS events
    def on_event(self, event: CsmsEvent, now: datetime) -> CpoOutput:
        if not self._synced:
            # Nothing can be reported before the handshake; replay it in order once registered. An
            # authorization waits only UNLINKED_WAIT for the link (see on_wakeup): a driver does not.
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

    def next_wakeup(self) -> datetime | None:
        if not self._deferred:  # the usual case (registered): no waiting authorization to look at
            return super().next_wakeup()
        waits = [at + UNLINKED_WAIT for e, at in self._deferred if isinstance(e, AuthorizationRequested)]
        return min([t for t in (super().next_wakeup(), *waits) if t is not None], default=None)

    def on_wakeup(self, now: datetime) -> CpoOutput:
        """Authorizations that waited UNLINKED_WAIT for a link to the eMSP that is not there (its
        registration not done: an eMSP or hub unreachable since the start) are refused as the eMSP
        not answering, or allowed from the whitelist, as when the eMSP cannot be reached later."""
        out = super().on_wakeup(now)
        expired = [
            (e, at)
            for e, at in self._deferred
            if isinstance(e, AuthorizationRequested) and at + UNLINKED_WAIT <= now
        ]
        for event, at in expired:
            self._deferred.remove((event, at))
            assert isinstance(event, AuthorizationRequested)
            station, uid = event.station_id, event.token_uid
            latency_ms = Decimal((now - at).total_seconds() * 1000).quantize(Decimal("0.001"))
            token = self._whitelisted(uid, unanswered=True)
            if token is not None:
                more = self._allow_from_whitelist(station, uid, token, event.ref, latency_ms, now)
            else:
                record = AuthorizationRecord(now, station, uid, "UNREACHABLE", latency_ms)
                self.truth.authorizations.append(record)
                more = CpoOutput(decisions=[AuthorizationDecision(event.ref, False)])
            self._merge(out, more)
        return out

    def _whitelisted(self, uid: str, *, unanswered: bool) -> dict[str, Any] | None:
        """The eMSP's Token for `uid` if its whitelist lets this CPO allow it from its own copy."""
        token = self._server.tokens.get(uid)
        if token is None or not may_whitelist(token, self.dialect.whitelist_allowed, unanswered=unanswered):
            return None
        return token

    def _allow_from_whitelist(
        self, station_id: str, uid: str, token: dict[str, Any], ref: str, latency_ms: Decimal, now: datetime
    ) -> CpoOutput:
        self.truth.authorizations.append(AuthorizationRecord(now, station_id, uid, "WHITELIST", latency_ms))
        self._authorized[(station_id, uid)] = (self._cdr_token(uid, token), None, "WHITELIST")
        return CpoOutput(decisions=[AuthorizationDecision(ref, True)])

    def _authorize(self, event: AuthorizationRequested, now: datetime) -> CpoOutput:
        always = self._whitelisted(event.token_uid, unanswered=False)
        if always is not None:  # WhitelistType ALWAYS: real-time authorization is not allowed
            return self._allow_from_whitelist(
                event.station_id, event.token_uid, always, event.ref, Decimal("0.000"), now
            )
        site = self._station_site.get(event.station_id)
        body = None
        if site is not None:
            evses = sorted(self._station_evses.get(event.station_id, []))
            body = {"location_id": site.location_id, "evse_uids": evses}
        # The station's idTag goes into the path percent-encoded: a real charger's may hold a "/", a
        # space or non-ASCII, which the eMSP must see as that uid (and refuse as no CiString, 2001).
        url = f"{self._endpoint('tokens')}/{quote(event.token_uid, safe='')}/authorize?type=RFID"
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
        result = intern(result)  # few values, one record per authorization: one string each
        latency_ms = latency_decimal((now - pending.sent_at).total_seconds() * 1000)
        if unanswered(result) and (token := self._whitelisted(ctx["token_uid"], unanswered=True)):
            return self._allow_from_whitelist(
                ctx["station_id"], ctx["token_uid"], token, ctx["ref"], latency_ms, now
            )
        self.truth.authorizations.append(
            AuthorizationRecord(now, ctx["station_id"], ctx["token_uid"], result, latency_ms)
        )
        if allowed and isinstance(data, dict):
            # 2.2.1 and later name the token in the answer; 2.1.1 does not (the Tokens list does).
            token = data.get("token") if isinstance(data.get("token"), dict) else None
            self._authorized[(ctx["station_id"], ctx["token_uid"])] = (
                self._cdr_token(ctx["token_uid"], token),
                data.get("authorization_reference"),
                "AUTH_REQUEST",
            )
        return CpoOutput(decisions=[AuthorizationDecision(ctx["ref"], allowed)])

    def _session_started(self, event: TransactionStarted, now: datetime) -> CpoOutput:
        evse = self._evses.get((event.station_id, event.connector_id))
        if evse is None:
            # A transaction the CSMS learned without its EVSE (2.0.1 names it once, in the event
            # that may have been lost): the session is real, so it goes on the station's first EVSE.
            # A station of no site of ours has nothing to report it on.
            ours = sorted(k for k in self._evses if k[0] == event.station_id)
            if not ours:
                return CpoOutput()
            evse = self._evses[ours[0]]
        # Never authorized over OCPI (e.g. a station that starts before it asks): the token can
        # only belong to the eMSP we are registered with.
        unasked = (self._cdr_token(event.token_uid, None), None, "AUTH_REQUEST")
        cdr_token, auth_ref, auth_method = self._authorized.pop((event.station_id, event.token_uid), unasked)
        site = self._station_site[event.station_id]
        tariff_id, switches = tariff_at_start(self._tariff_changes, site.tariff_id, event.at)
        self._session_count += 1
        session_id = f"{self.cpo_id}-S{self._session_count:05d}"
        session = CpoSession(
            session_id=session_id,
            station_id=event.station_id,
            transaction_id=event.transaction_id,
            evse=evse,
            cdr_token=cdr_token,
            authorization_reference=auth_ref,
            auth_method=auth_method,
            tariff_id=tariff_id,
            tariff_switches=switches,
            start=event.at,
            meter_start_wh=event.meter_start_wh,
            samples=[MeterSample(timestamp=event.at, energy_kwh=Decimal(0))],
        )
        self._sessions[(event.station_id, event.transaction_id)] = session
        self.truth.session_ids[(event.station_id, event.transaction_id)] = session_id
        self.truth.tariff_in_effect[session_id] = self._tariff_pair(tariff_id, site.time_zone)
        if switches:
            self.truth.tariff_switches[session_id] = list(switches)
        # A CPO that leaves its Sessions PENDING never says ACTIVE (mod_sessions SessionStatus).
        session.status = "PENDING" if self.dialect.session_left_pending else "ACTIVE"
        body = session_object(
            self._party, session, self._currency(session), now, status=session.status, kwh=Decimal(0)
        )
        patched = self.dialect.patches_sessions  # PATCHes follow: the store keeps it as a dict
        out = CpoOutput(requests=[self._put_session(session, body, now, patched=patched)])
        if self.dialect.last_updated_on_noop == "bump":
            # Its back office re-sends the Location, unchanged but for a new last_updated.
            out.requests.append(self._put_location(site, now))
        return out

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
        if session is None or (session.samples and at < session.samples[-1].timestamp):
            # An older sample arriving late changes nothing: the curve stays in time order and
            # the session's kWh never goes back.
            return CpoOutput()
        kwh = Decimal(energy_wh - session.meter_start_wh) / KWH
        power_kw = power_w / KWH if power_w is not None else None
        flowed = session.samples[-1].energy_kwh if session.samples else Decimal(0)
        if session.samples and session.samples[-1].timestamp == at:
            session.samples[-1] = MeterSample(timestamp=at, energy_kwh=kwh, power_kw=power_kw)
        else:
            session.samples.append(MeterSample(timestamp=at, energy_kwh=kwh, power_kw=power_kw))
        flowing = kwh > flowed
        changed, session.flowing = flowing != session.flowing, flowing
        updates = self.dialect.session_updates
        if updates == "none":
            return CpoOutput()
        if updates == "put_only":
            # Every update a full PUT (mod_sessions allows it; PATCH is what updates are for).
            body = session_object(
                self._party, session, self._currency(session), now, status=session.status, kwh=kwh
            )
            return CpoOutput(requests=[self._put_session(session, body, now)])
        fields: dict[str, Any] = {"kwh": kwh, "last_updated": format_utc(now)}
        periods, appended = self._patch_periods(session, at, changed)
        if periods:
            fields["charging_periods"] = periods
        body = self.wire.session_patch(fields)
        self.published.patch("sessions", session.session_id, body, appended)
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

    def _patch_periods(
        self, session: CpoSession, at: datetime, changed: bool
    ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        """The ChargingPeriods a PATCH carries. mod_sessions, PATCH: the receiver *adds* the
        periods a PATCH holds, so `delta` sends each period once, when it has ended (a new one
        began: the energy flow stopped or resumed, or another tariff element applies); a
        `full_list` CPO sends every period so far, the running one too, in every PATCH. With them,
        the fields its own Sender copy adds to rather than replaces (Published.patch)."""
        full = self.dialect.charging_periods_patch == "full_list"
        appended = () if full else ("charging_periods",)
        if session.tariff_switches:
            return [], appended  # periods across a tariff switch go with the final PUT (tariff_switch.py)
        tariff = self._tariffs[session.tariff_id]
        if not full and not changed and not self._has_restrictions(session.tariff_id, tariff):
            return [], appended  # nothing can have ended: no need to cut the periods again
        tz = self._site_tz[session.evse.location_id]
        periods = build_charging_periods(
            tariff, pricing_samples(session.samples), start=session.start, end=at, tz=tz, policy=self._policy
        )
        wire = [p.to_ocpi(decimals=4) for p in periods]
        if full:
            return wire, appended
        ended = wire[:-1]
        new, session.periods_sent = ended[session.periods_sent :], max(session.periods_sent, len(ended))
        return new, appended

    def _has_restrictions(self, tariff_id: str, tariff: Tariff) -> bool:
        known = self._restricted.get(tariff_id)
        if known is None or known[0] is not tariff:
            known = (tariff, any(element.restrictions is not None for element in tariff.elements))
            self._restricted[tariff_id] = known
        return known[1]

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
        samples = pricing_samples(session.samples)  # periods charge while the station drew power
        if session.tariff_switches:
            periods, priced = price_with_switches(
                self._tariffs,
                session.tariff_id,
                session.tariff_switches,
                samples,
                start=session.start,
                end=event.at,
                tz=tz,
            )
        else:
            periods, priced = price_session(
                tariff, samples, start=session.start, end=event.at, tz=tz, policy=self._policy
            )
        spec_read = session.tariff_switches or self._policy.reading == SPEC_READING
        if spec_read and self.spec_priced is not None:
            # Priced as the spec reads the tariff: the truth must come to the same (bench/spec_guard.py).
            excl_vat = priced.totals.total_cost.excl_vat
            self.spec_priced(event.station_id, session.transaction_id, session.session_id, excl_vat)
        totals = priced.totals.to_ocpi()
        out = CpoOutput()
        body = session_object(self._party, session, self._currency(session), now, status="COMPLETED", kwh=kwh)
        body |= {
            "end_date_time": format_utc(event.at),
            "charging_periods": [p.to_ocpi(decimals=4) for p in periods],
        }
        if "total_cost" in totals:
            body["total_cost"] = totals["total_cost"]
        out.requests.append(self._put_session(session, body, now))
        if self.dialect.stale_patch_after_final:
            # A PATCH held up in the CPO's queue arrives after the final PUT, older by last_updated.
            stale = self.wire.session_patch({"kwh": kwh, "last_updated": format_utc(session.start)})
            url = self._session_url(session)
            self._send_later(
                now + STALE_PATCH_DELAY,
                lambda at: self._send("patch", "PATCH", url, at, body=stale, correlation=session.session_id),
            )
        used = [session.tariff_id, *(tid for _at, tid in session.tariff_switches)]
        embedded = (
            [self._tariff_json[tid] for tid in dict.fromkeys(used)] if self.dialect.cdr_embeds_tariffs else []
        )
        site = self._station_site[event.station_id]
        cdr = cdr_object(
            self._party, session, site, self._currency(session), event.at, periods, totals, embedded, now
        )
        if self.dialect.cdr_totals_mismatch:
            # Its totals are not the sum of its periods: one kWh more than the periods hold.
            cdr["total_energy"] = Decimal(cdr["total_energy"]) + 1
        signed = ocpi_signed_data(list(event.signed))
        if signed is not None:  # calibration-law evidence from the station (OCPP signed meter values)
            cdr["signed_data"] = signed
        cdr = self.wire.cdr(cdr, self._published_location(session))
        cost = totals.get("total_cost")
        if cost is not None and not cost.get("excl_vat") and self.dialect.zero_cost_cdrs == "withheld":
            # A CPO that sends no CDR for a free session: the eMSP never learns it ended.
            self.truth.cdrs_withheld.append(str(cdr["id"]))
            return out
        text = dumps(cdr)  # stored and sent: written once
        self.published.put("cdrs", cdr["id"], cdr, text)
        if not self._batch.keep(cdr, session.session_id):
            out.requests.extend(self._post_cdr(cdr, session.session_id, now, text))
        self.truth.cdrs.append(
            SentCdr(
                str(cdr["id"]),
                session.session_id,
                event.station_id,
                session.transaction_id,  # equal to the event's, and the very string session_ids keeps
                event.meter_stop_wh - session.meter_start_wh,
                now,
            )
        )
        return out

    def _post_cdr(
        self, cdr: dict[str, Any], correlation: str, now: datetime, text: str | None = None
    ) -> list[OutboundRequest]:
        """POST a CDR now, or `cdr_delay_minutes` later; a `duplicate_cdrs` share of them twice.
        `text`: dumps(cdr) as just written, reused by a POST sent now."""
        share = self.dialect.duplicate_cdrs
        copies = 2 if share and self._rng.random() < share else 1
        if copies == 2:
            self.truth.cdrs_resent.append(str(cdr["id"]))

        def post(at: datetime, body_text: str | None = None) -> OutboundRequest:
            url = self._endpoint("cdrs")
            return self._send(
                "cdr",
                "POST",
                url,
                at,
                body=cdr,
                body_text=body_text,
                correlation=correlation,
                cdr_id=cdr["id"],
            )

        delay = self.dialect.cdr_delay_minutes
        if delay:
            self.truth.cdrs_late.append(str(cdr["id"]))
            for _ in range(copies):
                self._send_later(now + timedelta(minutes=delay), post)
            return []
        return [post(now, text) for _ in range(copies)]

    def _on_cdr(self, data: Any, pending: _Pending, now: datetime) -> CpoOutput:
        """mod_cdrs POST: the answer's `Location` header holds the URL of the created CDR (a hub
        that stored the CDR to forward it later may answer without one: nothing to do then). A CPO
        that looks for the URL in the body finds none, takes the POST for failed and sends it again."""
        cdr_id = str(pending.context.get("cdr_id"))
        if self.dialect.cdr_url_from == "location_header":
            url = HttpResponse(200, pending.context.get("headers", {})).header("Location")
            if url:
                self.truth.cdr_urls[cdr_id] = url
            return CpoOutput()
        url = data.get("url") if isinstance(data, dict) else None
        if url:
            self.truth.cdr_urls[cdr_id] = str(url)
            return CpoOutput()
        if cdr_id in self.truth.cdrs_resent or pending.outbound is None:
            return CpoOutput()
        self.truth.cdrs_resent.append(cdr_id)
        self.truth.failed_calls.append((format_utc(now), "cdr", None, "no CDR URL in the answer: sent again"))
        request = pending.outbound.request
        return CpoOutput(
            requests=[
                self._send(
                    "cdr",
                    "POST",
                    request.url,
                    now,
                    body=self.published.get("cdrs", cdr_id),
                    correlation=request.header("X-Correlation-ID"),
                    cdr_id=cdr_id,
                )
            ]
        )

    def _cdr_token(self, uid: str, token: dict[str, Any] | None) -> dict[str, Any]:
        """The 2.2.1 CdrToken of a session (the internal form; 2.1.1 sends its contract_id as auth_id)."""
        info = self.wire.token(token, self._emsp_party or ("", "")) if token is not None else None
        info = info or self.token_info(uid)
        party = self._emsp_party or ("", "")
        return {
            "country_code": info.country_code if info else party[0],
            "party_id": info.party_id if info else party[1],
            "uid": uid,
            "type": info.type if info else "RFID",
            "contract_id": info.contract_id if info else uid,
        }

    def _published_location(self, session: CpoSession) -> dict[str, Any]:
        return self.published.get("locations", session.evse.location_id) or {}

    def _put_session(
        self, session: CpoSession, body: dict[str, Any], now: datetime, *, patched: bool = False
    ) -> OutboundRequest:
        wire = self.wire.session(body, self._published_location(session))
        text = dumps(wire)  # stored and sent: written once
        self.published.put("sessions", session.session_id, wire, text, patched=patched)
        url = self._session_url(session)
        return self._send("put", "PUT", url, now, body=wire, body_text=text, correlation=session.session_id)

    def _currency(self, session: CpoSession) -> str:
        return str(self._tariff_json[session.tariff_id]["currency"])

    def _session_url(self, session: CpoSession) -> str:
        return f"{self._endpoint('sessions')}/{self.country_code}/{self.party_id}/{session.session_id}"
