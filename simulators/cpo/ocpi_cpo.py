"""Sans-IO OCPI 2.2.1 CPO role of a mock CPO, toward one eMSP (bilateral).

It registers with the eMSP (credentials handshake with token A, OcpiParty), pushes its Locations and
Tariffs, asks the eMSP for real-time authorization of every OCPP Authorize, reports Sessions (PUT at
start, PATCH on updates) and POSTs a CDR priced from its own tariff when a transaction ends. Inputs
are CSMS events and HTTP responses; outputs are OutboundRequests and authorization decisions. The
timeline's effects on a CPO (a new tariff version, a CDR batch) are at the end.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.settlement.tariff import MeterSample, price_session
from emsp.timeutil import format_utc
from emsp.wire import OutboundRequest
from simulators.cpo.cdr_batch import CdrBatch
from simulators.cpo.commands import CommandReceiver
from simulators.cpo.events import (
    AuthorizationRequested,
    CsmsEvent,
    MeterSampled,
    TransactionEnded,
    TransactionStarted,
)
from simulators.cpo.locations import SiteSpec
from simulators.cpo.ocpi_objects import CpoSession, cdr_object, session_object
from simulators.cpo.ocpi_party import VERSION, AuthorizationDecision, CpoOutput, OcpiParty, _Pending
from simulators.cpo.tariff_switch import price_with_switches
from simulators.cpo.truth import AuthorizationRecord, SentCdr
from simulators.dialects.profile import DialectProfile

__all__ = ["VERSION", "AuthorizationDecision", "CpoOutput", "OcpiCpo"]

KWH = Decimal(1000)


class OcpiCpo(OcpiParty):
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
        )
        self._authorized: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
        # Transactions in progress; a session leaves once its CDR is out (the truth keeps what counts).
        self._sessions: dict[tuple[str, str], CpoSession] = {}
        self._session_count = 0
        # cdr_hold: CDRs wait for the end-of-day batch
        self._batch = CdrBatch(resent=self.truth.cdrs_resent, late=self.truth.cdrs_late)
        # mod_commands Receiver (simulators/cpo/commands.py); our reservation id -> its station
        self.reservation_stations: dict[int, str] = {}
        self.commands = CommandReceiver(self)
        self._server.on_command = self.commands.receive

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
        self._authorized[(station_id, uid)] = (self._cdr_token(uid, token), ref)

    def post_command_result(self, url: str, body: dict[str, Any], now: datetime) -> OutboundRequest:
        return self._send("put", "POST", url, now, body=body, correlation=url.rpartition("/")[2])

    # ---------------------------------------------------------------- CSMS events
    def on_event(self, event: CsmsEvent, now: datetime) -> CpoOutput:
        if not self._synced:
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
            # 2.2.1 and later name the token in the answer; 2.1.1 does not (the Tokens list does).
            token = data.get("token") if isinstance(data.get("token"), dict) else None
            self._authorized[(ctx["station_id"], ctx["token_uid"])] = (
                self._cdr_token(ctx["token_uid"], token),
                data.get("authorization_reference"),
            )
        return CpoOutput(decisions=[AuthorizationDecision(ctx["ref"], allowed)])

    def _session_started(self, event: TransactionStarted, now: datetime) -> CpoOutput:
        evse = self._evses[(event.station_id, event.connector_id)]
        # Never authorized over OCPI (e.g. a station that starts before it asks): the token can
        # only belong to the eMSP we are registered with.
        cdr_token, auth_ref = self._authorized.pop(
            (event.station_id, event.token_uid), (self._cdr_token(event.token_uid, None), None)
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
        return CpoOutput(requests=[self._put_session(session, body, now)])

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
        body = self.wire.session_patch({"kwh": kwh, "last_updated": format_utc(now)})
        self.published.patch("sessions", session.session_id, body)
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
        out.requests.append(self._put_session(session, body, now))
        used = [session.tariff_id, *(tid for _at, tid in session.tariff_switches)]
        embedded = (
            [self._tariff_json[tid] for tid in dict.fromkeys(used)] if self.dialect.cdr_embeds_tariffs else []
        )
        site = self._station_site[event.station_id]
        cdr = cdr_object(
            self._party, session, site, self._currency(session), event.at, periods, totals, embedded, now
        )
        cdr = self.wire.cdr(cdr, self._published_location(session))
        self.published.put("cdrs", cdr["id"], cdr)
        if not self._batch.keep(cdr, session.session_id):
            out.requests.append(
                self._send(
                    "cdr",
                    "POST",
                    self._endpoint("cdrs"),
                    now,
                    body=cdr,
                    correlation=session.session_id,
                    cdr_id=cdr["id"],
                )
            )
        self.truth.cdrs.append(
            SentCdr(
                str(cdr["id"]),
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
        self._tariffs[new_id] = self._parse_tariff(data)
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
        out = CpoOutput(requests=[self._put_tariff(new_id, now)])
        for site in self._sites:
            if site.location_id in {m.location_id for m in moved}:
                out.requests.append(self._put_location(site, now))
        return out

    def hold_cdrs(self) -> None:
        self._batch.hold()

    def release_cdrs(
        self, now: datetime, *, duplicate: float = 0.0, late: float = 0.0, rng: random.Random | None = None
    ) -> CpoOutput:
        """POST the held CDRs at once (CdrBatch: some twice, some later); a later call sends the late ones."""
        out = CpoOutput()
        for cdr, correlation in self._batch.release(duplicate=duplicate, late=late, rng=rng):
            out.requests.append(
                self._send(
                    "cdr",
                    "POST",
                    self._endpoint("cdrs"),
                    now,
                    body=cdr,
                    correlation=correlation,
                    cdr_id=cdr["id"],
                )
            )
        return out

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

    def _put_session(self, session: CpoSession, body: dict[str, Any], now: datetime) -> OutboundRequest:
        wire = self.wire.session(body, self._published_location(session))
        self.published.put("sessions", session.session_id, wire)
        url = self._session_url(session)
        return self._send("put", "PUT", url, now, body=wire, correlation=session.session_id)

    def _currency(self, session: CpoSession) -> str:
        return str(self._tariff_json[session.tariff_id]["currency"])

    def _session_url(self, session: CpoSession) -> str:
        return f"{self._endpoint('sessions')}/{self.country_code}/{self.party_id}/{session.session_id}"
