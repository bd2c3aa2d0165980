"""Pull from a CPO's Sender interfaces (Locations, Tariffs, Sessions, CDRs), every version, sans-IO.

Why: a push can be lost (a CPO that gives up on a failed request, a link outage), and OCPI's answer
is the Sender's GET list (transport_and_format, "Pagination"; mod_sessions/mod_cdrs/mod_locations/
mod_tariffs "Sender Interface"): `date_from` (inclusive) / `date_to` (exclusive) on last_updated,
`offset`, `limit`, and the answer's `X-Total-Count`, `X-Limit` and `Link: <url>; rel="next"`.

A pull is one GET list per module, page after page, issued as outbound requests the runtime
performs (like the handshake's fetches). Every object goes through the module's receiver handler
as if it had been pushed (same adapter, same services), so it is stored once: an object we already
hold at that last_updated or newer is skipped (stale never replaces newer), a CDR we hold is never
stored or billed again.

Pagination is followed defensively, since Senders get it wrong: the Link is followed as given; an
empty page ends the pull; a missing Link ends it unless X-Total-Count says objects remain (then
offsets are counted on, with a finding); a page that brings no object not seen already in this pull
(a server that ignores `offset`), a Link already fetched, or more than `max_pages` pages stop it
with a finding, never a loop. A complete pull stores its start time as the partner's last sync of
that module: the next catch-up asks from there (less `overlap`, since clocks differ).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.model import PartyRef
from emsp.ocpi.adapter import VersionAdapter
from emsp.ocpi.channels import Channel, Party, cpo_channels
from emsp.ocpi.context import Ctx, Services
from emsp.ocpi.credentials_cache import party_scope
from emsp.ocpi.endpoints import SENDER, usable_url
from emsp.ocpi.errors import OcpiError
from emsp.ocpi.modules import HANDLERS
from emsp.ocpi.modules.common import stored_last_updated
from emsp.ocpi.versions import adapter_for
from emsp.services import findings
from emsp.services.cdrs import FreshCdrs
from emsp.services.findings import NewFinding
from emsp.storage.db import Database
from emsp.storage.queries import find_cdr, find_location, find_pulled_version, find_tariff, session_raw
from emsp.storage.tables import PartnerRow, PulledCdrRow, PulledVersionRow, SyncStateRow
from emsp.timeutil import format_utc
from emsp.wire import HttpRequest, HttpResponse, dumps, loads

PURPOSE = "pull:"
MODULES = ("locations", "tariffs", "sessions", "cdrs")

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r";\s*rel\s*=\s*\"?([^\";]*)\"?", re.IGNORECASE)


def next_link(header: str | None) -> str | None:
    """The URL of the `rel="next"` entry of a Link header (RFC 8288 forms: quoted or bare rel,
    several links, several rel values), or None."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        for rel in _REL_NEXT.findall(match.group(2)):
            if "next" in rel.lower().split():
                url = match.group(1).strip()
                return url or None
    return None


def with_query(url: str, **params: str) -> str:
    """`url` with `params` set (replacing those keys), every other query pair kept."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*params.items(), *kept]), ""))


class PullHost(Services, Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def fresh_cdrs(self) -> FreshCdrs | None: ...
    @property
    def log(self) -> Any: ...


@dataclass(frozen=True)
class PullSettings:
    max_pages: int = 1000  # a pull of one module stops (finding) after this many pages
    overlap: timedelta = timedelta(minutes=1)  # a catch-up asks from the last sync less this
    retry_after: timedelta = timedelta(minutes=1)  # a failed pull is tried again after this
    every: timedelta | None = None  # a catch-up of every partner this often (None: never)


@dataclass
class PullRun:
    run_id: str
    partner_id: str
    module: str
    reason: str
    started_at: datetime
    url: str  # the first page's URL
    channel: Channel | None = None  # through a hub: the party asked for (routing headers)
    pages: int = 0
    objects: int = 0  # objects stored (new, or newer than ours)
    received: int = 0  # objects listed
    offset: int = 0  # objects listed so far (to count offsets on without a Link)
    fetched: set[str] = field(default_factory=set)
    seen: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class PullStats:
    pulls: int = 0
    complete: int = 0
    failed: int = 0
    pages: int = 0
    objects: int = 0
    findings: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Puller:
    """Runs pulls for a core (`host`): `start()` queues the first GETs, `on_response()` the rest."""

    def __init__(self, host: PullHost, settings: PullSettings, page_limit: int) -> None:
        self._host = host
        self.settings = settings
        self._limit = page_limit
        self._runs: dict[str, PullRun] = {}
        # (partner, module, party through a hub) -> (when, why)
        self._retry: dict[tuple[str, str, Party | None], tuple[datetime, str]] = {}
        self._next_periodic: datetime | None = None
        self.stats: dict[str, PullStats] = {}
        self._counter = 0

    # ---- starting ----

    def running(self, partner_id: str, module: str, party: Party | None = None) -> bool:
        return any(
            r.partner_id == partner_id and r.module == module and _party(r) == party
            for r in self._runs.values()
        )

    def start(
        self,
        partner_id: str,
        now: datetime,
        reason: str,
        modules: Iterable[str] = MODULES,
        party: Party | None = None,
    ) -> list[str]:
        """Pull `modules` of a registered partner from its last sync on; the run ids started
        (a module already being pulled, or without a Sender endpoint, is left out). A hub is
        pulled per party it is the channel for (`party`: only that one), with routing headers,
        and only for parties it reported CONNECTED (emsp.ocpi.channels)."""
        started: list[str] = []
        with self._host.db.unit() as db:
            partner = db.get(PartnerRow, partner_id)
            if partner is None or not partner.registered or partner.token_b is None:
                return []
            adapter = adapter_for(partner.version)
            targets: list[Channel | None] = [None]
            if partner.hub:
                targets = [
                    c
                    for c in cpo_channels(db, partner)
                    if c.status == "CONNECTED" and (party is None or c.party == party)
                ]
            for module in modules:
                url = usable_url(partner, module, SENDER, self._host.settings.base_url)
                for channel in targets:
                    target = None if channel is None else channel.party
                    if url is None or self.running(partner_id, module, target):
                        continue
                    self._retry.pop((partner_id, module, target), None)
                    state = db.get(SyncStateRow, (partner_id, _state_key(module, target)))
                    params = {"limit": str(self._limit)}
                    if state is not None:
                        params["date_from"] = format_utc(state.last_sync - self.settings.overlap)
                    self._counter += 1
                    run = PullRun(
                        f"{partner_id}:{module}:{self._counter}", partner_id, module, reason, now,
                        with_query(url, **params), channel,
                    )  # fmt: skip
                    self._runs[run.run_id] = run
                    self._stats(partner_id).pulls += 1
                    self._host.log.info(
                        "pull_started", partner=partner_id, module=module, reason=reason,
                        party=None if target is None else "/".join(target),
                    )  # fmt: skip
                    self._get(db, partner, adapter, run, run.url)
                    started.append(run.run_id)
        return started

    def start_all(self, now: datetime, reason: str) -> list[str]:
        with self._host.db.unit() as db:
            ids = list(
                db.scalars(
                    select(PartnerRow.partner_id)
                    .where(PartnerRow.registered.is_(True))
                    .order_by(PartnerRow.partner_id)
                )
            )
        return [run for partner_id in ids for run in self.start(partner_id, now, reason)]

    def never_synced(self) -> list[str]:
        """Registered partners with a Sender endpoint we have never pulled (nor are pulling)."""
        out = []
        with self._host.db.unit() as db:
            partners = db.scalars(
                select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
            ).all()
            synced = {row.partner for row in db.scalars(select(SyncStateRow))}
            for partner in partners:
                pid = partner.partner_id
                if pid in synced or any(r.partner_id == pid for r in self._runs.values()):
                    continue
                if pid in self.stats or any(key[0] == pid for key in self._retry):
                    continue  # tried already: a failed first pull is retried on its own schedule
                if any(usable_url(partner, m, SENDER, self._host.settings.base_url) for m in MODULES):
                    out.append(pid)
        return out

    # ---- timers ----

    def next_due(self, now: datetime) -> datetime | None:
        """When `run_due` must next be called (a retry or the periodic catch-up); None: never."""
        times = [when for when, _why in self._retry.values()]
        if self.settings.every is not None:
            if self._next_periodic is None:
                self._next_periodic = now + self.settings.every
            times.append(self._next_periodic)
        return min(times) if times else None

    def run_due(self, now: datetime) -> list[str]:
        started: list[str] = []
        for (partner_id, module, party), (when, why) in sorted(self._retry.items(), key=str):
            if when <= now:
                del self._retry[(partner_id, module, party)]
                started += self.start(partner_id, now, f"retry ({why})", [module], party)
        every = self.settings.every
        if every is not None and self._next_periodic is not None and self._next_periodic <= now:
            self._next_periodic = now + every
            started += self.start_all(now, "periodic")
        return started

    # ---- pages ----

    def _stats(self, partner_id: str) -> PullStats:
        return self.stats.setdefault(partner_id, PullStats())

    def _get(self, db: Session, partner: PartnerRow, adapter: VersionAdapter, run: PullRun, url: str) -> None:
        assert partner.token_b is not None
        headers = {"Authorization": adapter.encode_authorization(partner.token_b)}
        if run.channel is not None:
            headers |= run.channel.headers(self._host.settings)
        elif adapter.routing_headers:
            s = self._host.settings
            headers |= {"OCPI-from-country-code": s.country_code, "OCPI-from-party-id": s.party_id}
        run.fetched.add(url)
        request = HttpRequest("GET", url, headers)
        self._host.queue_outbound(db, partner.partner_id, request, PURPOSE + run.run_id)

    def on_response(self, run_id: str, response: HttpResponse, now: datetime) -> None:
        run = self._runs.get(run_id)
        if run is None:
            return
        log = self._host.log.bind(partner=run.partner_id, module=run.module, pull=run_id)
        items, problem = _page(response)
        if problem is not None:
            self._fail(run, now, problem)
            return
        assert items is not None
        run.pages += 1
        stats = self._stats(run.partner_id)
        stats.pages += 1
        new = 0
        for item in items:
            run.received += 1
            key = _key(item)
            if key is not None and key in run.seen:
                continue
            if key is not None:
                run.seen.add(key)
            new += 1
            if self._apply(run, item, now):
                run.objects += 1
                stats.objects += 1
        run.offset += len(items)
        if not items:
            self._done(run, now)
            return
        if new == 0:
            # Every object of this page came already in this pull: the server ignores offset
            # (or its Link points back). Stop rather than loop; what we have is stored.
            self._finding(run, now, "pagination_no_progress", f"page {run.pages} brought no new object")
            self._done(run, now, complete=False)
            return
        if run.pages >= self.settings.max_pages:
            self._finding(run, now, "pagination_page_cap", f"stopped after {run.pages} pages")
            self._done(run, now, complete=False)
            return
        link = next_link(response.header("Link"))
        if link is None:
            total = _int(response.header("X-Total-Count"))
            if total is not None and run.offset < total:
                # No Link though objects remain: count offsets on (a Sender that forgot the Link).
                self._finding(
                    run, now, "pagination_link_missing",
                    f"no Link after {run.offset} of {total} objects; continuing by offset",
                )  # fmt: skip
                link = with_query(run.url, offset=str(run.offset), limit=str(self._limit))
            else:
                self._done(run, now)
                return
        if link in run.fetched:
            self._finding(run, now, "pagination_loop", f"Link points to a page already fetched: {link}")
            self._done(run, now, complete=False)
            return
        log.debug("pull_page", page=run.pages, objects=len(items))
        with self._host.db.unit() as db:
            partner = db.get(PartnerRow, run.partner_id)
            if partner is None or partner.token_b is None:
                self._fail(run, now, "partner no longer registered")
                return
            self._get(db, partner, adapter_for(partner.version), run, link)

    def _done(self, run: PullRun, now: datetime, *, complete: bool = True) -> None:
        del self._runs[run.run_id]
        if complete:
            self._stats(run.partner_id).complete += 1
            with self._host.db.unit() as db:
                key = _state_key(run.module, _party(run))
                state = db.get(SyncStateRow, (run.partner_id, key))
                if state is None:
                    db.add(SyncStateRow(partner=run.partner_id, module=key, last_sync=run.started_at))
                elif state.last_sync < run.started_at:
                    state.last_sync = run.started_at
        self._host.log.info(
            "pull_done", partner=run.partner_id, module=run.module, pages=run.pages,
            objects=run.objects, received=run.received, complete=complete, at=format_utc(now),
        )  # fmt: skip

    def _fail(self, run: PullRun, now: datetime, why: str) -> None:
        """The Sender could not be read (unreachable, an error): try again later from the same sync."""
        del self._runs[run.run_id]
        self._stats(run.partner_id).failed += 1
        self._retry[(run.partner_id, run.module, _party(run))] = (now + self.settings.retry_after, why)
        self._host.log.warning("pull_failed", partner=run.partner_id, module=run.module, error=why)

    def _finding(self, run: PullRun, now: datetime, kind: str, detail: str) -> None:
        self._stats(run.partner_id).findings += 1
        cc, pid = _party(run) or ("", "")  # through a hub: the party whose Sender it was
        finding = NewFinding(kind, PartyRef(cc, pid), detail, module=run.module)
        with self._host.db.unit() as db:
            findings.record(db, run.partner_id, [finding], now)  # one counted row per kind
        self._host.metrics.findings.labels(partner=run.partner_id, kind=kind).inc()
        self._host.log.warning(kind, partner=run.partner_id, module=run.module, detail=detail)

    # ---- objects ----

    def _apply(self, run: PullRun, item: Any, now: datetime) -> bool:
        """Store one listed object through its module's receiver handler, unless we hold it at that
        last_updated or newer. True when it was stored."""
        if not isinstance(item, dict):
            return False
        try:
            return self._store(run, item, now)
        except OcpiError as err:  # the unit rolled back: the object is refused, as a push would be
            self._host.log.warning(
                "pulled_object_refused", module=run.module, object_id=item.get("id"), error=err.message
            )
            return False

    def _store(self, run: PullRun, item: dict[str, Any], now: datetime) -> bool:
        host = self._host
        events: list[Any] = []
        with host.db.unit() as db:
            partner = db.get(PartnerRow, run.partner_id)
            if partner is None:
                return False
            adapter = adapter_for(partner.version)
            scope = party_scope(partner, db, (host.settings.country_code, host.settings.party_id))
            party = _party_of(item, scope.single_cpo())
            object_id = item.get("id")
            if party is None or not isinstance(object_id, str) or not object_id:
                return False
            if not scope.allows(party.country_code, party.party_id):
                return False  # never another partner's party, whatever its Sender lists
            before = None if run.module == "cdrs" else _stored_at(db, run.module, party, object_id)
            if _held(db, run.module, party, object_id, item, before):
                return False
            if run.module == "cdrs":
                method, segments = "POST", []
            else:
                method, segments = "PUT", [party.country_code, party.party_id, object_id]
            url = "/".join([host.settings.base_url.rstrip("/"), adapter.version, run.module, *segments])
            # As if the object's party had pushed it: through a hub, a push names its sender in
            # OCPI-from-* (or is refused), and the pulled object's party is who it came from.
            headers = {
                "Content-Type": "application/json",
                "OCPI-from-country-code": party.country_code,
                "OCPI-from-party-id": party.party_id,
            }
            ctx = Ctx(
                HttpRequest(method, url, headers, dumps(item)),
                now, segments, run.partner_id, _fixed(db), host,
                host.log.bind(partner=run.partner_id, pulled=True), adapter, parties=scope,
                stored_sessions=host.db.stored_sessions,
            )  # fmt: skip
            HANDLERS[run.module](ctx)
            if run.module == "cdrs":
                db.add(
                    PulledCdrRow(
                        partner=run.partner_id, country_code=party.country_code,
                        party_id=party.party_id, cdr_id=object_id,
                    )
                )  # fmt: skip
            else:
                _note_pulled(db, run, run.module, party, object_id, before)
            events = ctx.events
            if events:
                host.bus.write(db, events, now)
        if events:
            host.bus.committed(events)
        ctx.remember_committed(host.fresh_cdrs)  # else the next push reads the session as before the pull
        return True


def _party(run: PullRun) -> Party | None:
    return None if run.channel is None else run.channel.party


def _state_key(module: str, party: Party | None) -> str:
    """SyncStateRow.module: the module, and through a hub the party ("sessions@DE/ABC")."""
    return module if party is None else f"{module}@{party[0]}/{party[1]}"


def _fixed(db: Session) -> Callable[[], Session]:
    return lambda: db


def _party_of(item: dict[str, Any], single: tuple[str, str] | None) -> PartyRef | None:
    cc, pid = item.get("country_code"), item.get("party_id")
    if isinstance(cc, str) and isinstance(pid, str):
        return PartyRef(cc.upper(), pid.upper())
    return None if single is None else PartyRef(*single)  # 2.1.1 objects name no party


def _held(
    db: Session, module: str, party: PartyRef, object_id: str, item: dict[str, Any], stored: datetime | None
) -> bool:
    """We hold this object already, at its last_updated or newer (`stored`; a CDR never changes)."""
    if module == "cdrs":
        return find_cdr(db, party.country_code, party.party_id, object_id) is not None
    if stored is None:
        return False
    listed = stored_last_updated(item)
    return listed is None or listed <= stored


def _stored_at(db: Session, module: str, party: PartyRef, object_id: str) -> datetime | None:
    """last_updated of the stored Location, Tariff or Session; None: not stored."""
    cc, pid = party.country_code, party.party_id
    if module == "sessions":
        row = session_raw(db, cc, pid, object_id)
        return None if row is None else row[2]
    if module == "locations":
        location = find_location(db, cc, pid, object_id)
        return None if location is None else location.last_updated
    tariff = find_tariff(db, cc, pid, object_id)
    return None if tariff is None else tariff.last_updated


def _note_pulled(
    db: Session, run: PullRun, module: str, party: PartyRef, object_id: str, before: datetime | None
) -> None:
    """Remember the version just stored as pulled (`PulledVersionRow`), with the newest the party
    had pushed: what was stored before, unless that was an earlier pull's (then what it knew)."""
    stored = _stored_at(db, module, party, object_id)
    if stored is None:  # the handler kept nothing (cannot happen for an accepted object)
        return
    row = find_pulled_version(db, party.country_code, party.party_id, module, object_id)
    if row is None:
        db.add(
            PulledVersionRow(
                partner=run.partner_id, country_code=party.country_code, party_id=party.party_id,
                module=module, object_id=object_id, last_updated=stored, pushed_before=before,
            )
        )  # fmt: skip
        return
    if before is not None and before != row.last_updated:  # a push replaced the earlier pulled one
        row.pushed_before = before
    row.partner, row.last_updated = run.partner_id, stored


def _key(item: Any) -> tuple[str, str, str] | None:
    if not isinstance(item, dict):
        return None
    return (str(item.get("country_code", "")), str(item.get("party_id", "")), str(item.get("id", "")))


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _page(response: HttpResponse) -> tuple[list[Any] | None, str | None]:
    """(the page's objects, None) or (None, why it is unusable)."""
    if response.status != 200:
        return None, f"HTTP {response.status}"
    try:
        body = loads(response.body) if response.body else None
    except ValueError:
        return None, "the answer is not JSON"
    if not isinstance(body, dict) or body.get("status_code") != 1000:
        status = body.get("status_code") if isinstance(body, dict) else None
        return None, f"OCPI status {status}"
    data = body.get("data")
    if data is None:
        return [], None
    if not isinstance(data, list):
        return None, "the answer's data is not a list"
    return data, None


__all__ = ["MODULES", "PURPOSE", "PullRun", "PullSettings", "PullStats", "Puller", "next_link"]
