"""The eMSP's pull client (emsp.ocpi.pull) against a CPO Sender (the mock CPO's paginate), including
the ways Senders get pagination wrong: it must get every object once, and never loop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from emsp_helpers import CPO_V221, CPO_VERSIONS, T0, V, cdr, location, ocpi_ok, register, session, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.ocpi.pull import next_link
from emsp.storage.tables import DuplicateCdrRow, FindingRow
from emsp.wire import HttpRequest, HttpResponse, dumps
from simulators.cpo.sender import Published, paginate

SENDERS = [
    {"identifier": module, "role": "SENDER", "url": f"{CPO_V221}/{module}"}
    for module in ("locations", "tariffs", "sessions", "cdrs")
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<http://c/s?offset=2&limit=2>; rel="next"', "http://c/s?offset=2&limit=2"),
        ("<http://c/s?offset=2>; rel=next", "http://c/s?offset=2"),
        ('<http://c/s?offset=2>;rel="next"', "http://c/s?offset=2"),
        ('<http://c/s?offset=2>; REL="Next"', "http://c/s?offset=2"),
        ('<http://c/s?offset=0>; rel="prev", <http://c/s?offset=4>; rel="next"', "http://c/s?offset=4"),
        ('<http://c/s?offset=4>; title="more"; rel="next"', "http://c/s?offset=4"),
        ('<http://c/s?offset=4>; rel="last next"', "http://c/s?offset=4"),
        ('<http://c/s?offset=0>; rel="prev"', None),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_next_link_forms(header: str | None, expected: str | None) -> None:
    assert next_link(header) == expected


Quirk = Callable[[list[dict[str, Any]], HttpRequest], HttpResponse]


def _sender_page(objects: list[dict[str, Any]], request: HttpRequest, **changes: Any) -> HttpResponse:
    page = paginate(objects, request.url, request.query)
    headers = dict(page.headers)
    link_form = changes.get("link_form")
    if "Link" in headers and link_form is not None:
        url = headers["Link"][1 : headers["Link"].index(">")]
        headers["Link"] = link_form.format(url=url)
    return HttpResponse(200, headers, dumps({"data": page.items, "status_code": 1000, "timestamp": "x"}))


def spec(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    return _sender_page(objects, request)


def page_cap(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    """The server lowers every limit to 2 (X-Limit 2)."""
    query = request.query | {"limit": str(min(int(request.query.get("limit", "2")), 2))}
    parts = urlsplit(request.url)
    capped = HttpRequest("GET", urlunsplit((*parts[:3], urlencode(query), "")))
    return _sender_page(objects, capped)


def link_missing(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    response = page_cap(objects, request)
    return HttpResponse(200, {k: v for k, v in response.headers.items() if k != "Link"}, response.body)


def link_and_total_missing(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    response = page_cap(objects, request)
    kept = {k: v for k, v in response.headers.items() if k not in ("Link", "X-Total-Count")}
    return HttpResponse(200, kept, response.body)


def link_without_limit(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    """The Link drops the limit: the next page comes at the server's default size."""
    response = page_cap(objects, request)
    link = response.headers.get("Link")
    if link is None:
        return response
    url = link[1 : link.index(">")]
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "limit"]
    bare = urlunsplit((*parts[:3], urlencode(query), ""))
    return HttpResponse(200, response.headers | {"Link": f'<{bare}>; rel="next"'}, response.body)


def empty_last_page(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    """A Link even on the last page; it leads to an empty page (with a Link again)."""
    response = page_cap(objects, request)
    if "Link" not in response.headers:
        offset = int(request.query.get("offset", "0")) + 2
        parts = urlsplit(request.url)
        url = urlunsplit((*parts[:3], urlencode(request.query | {"offset": str(offset)}), ""))
        return HttpResponse(200, response.headers | {"Link": f'<{url}>; rel="next"'}, response.body)
    return response


def offset_ignored(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    """Every page is the first page, with a Link to the 'next' one."""
    query = {k: v for k, v in request.query.items() if k != "offset"}
    parts = urlsplit(request.url)
    first = HttpRequest("GET", urlunsplit((*parts[:3], urlencode(query), "")))
    response = page_cap(objects, first)
    if "Link" in response.headers:
        offset = int(request.query.get("offset", "0")) + 2
        url = urlunsplit((*parts[:3], urlencode(request.query | {"offset": str(offset)}), ""))
        response = HttpResponse(200, response.headers | {"Link": f'<{url}>; rel="next"'}, response.body)
    return response


def frozen_date_to(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
    """The server adds date_to (the time of the first page) to every Link: still every object."""
    response = page_cap(objects, request)
    link = response.headers.get("Link")
    if link is None or "date_to" in link:
        return response
    url = link[1 : link.index(">")] + "&date_to=2030-01-01T00%3A00%3A00Z"
    return HttpResponse(200, response.headers | {"Link": f'<{url}>; rel="next"'}, response.body)


class Cpo:
    """A CPO's versions, details and Sender lists, with a pagination quirk; counts list GETs."""

    def __init__(self, quirk: Quirk = spec) -> None:
        self.published = Published()
        self.quirk = quirk
        self.gets: list[str] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.url == CPO_VERSIONS:
            return ocpi_ok([{"version": "2.2.1", "url": CPO_V221}])
        if request.url == CPO_V221:
            return ocpi_ok({"version": "2.2.1", "endpoints": SENDERS})
        module = urlsplit(request.url).path.rsplit("/", 1)[-1]
        self.gets.append(request.url)
        return self.quirk(self.published.all(module), request)


def run(core: EmspCore, cpo: Cpo, now: Any) -> int:
    """Answer the core's calls until none is left; how many were made."""
    count = 0
    while pending := core.pending_requests():
        for outbound in pending:
            count += 1
            assert count < 500, "the pull loops"
            core.on_response(outbound.request_id, cpo(outbound.request), now)
    return count


@pytest.fixture
def emsp() -> EmspCore:
    return EmspCore(EmspSettings())


def _registered(emsp: EmspCore, cpo: Cpo, monkeypatch: pytest.MonkeyPatch) -> Any:
    import emsp_helpers

    monkeypatch.setattr(emsp_helpers, "fake_cpo", cpo)
    monkeypatch.setattr(
        emsp_helpers, "answer_outbound", lambda core, now, _cpo=None: run(core, cpo, now) and []
    )
    return register(emsp)


def _publish_sessions(cpo: Cpo, n: int) -> None:
    for i in range(n):
        stamp = (T0 + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cpo.published.put("sessions", f"S{i}", session(f"S{i}", last_updated=stamp))


@pytest.mark.parametrize(
    ("quirk", "finding"),
    [
        (spec, None),
        (page_cap, None),
        (link_missing, "pagination_link_missing"),
        (link_without_limit, None),
        (empty_last_page, None),
        (frozen_date_to, None),
    ],
)
def test_initial_sync_gets_every_object_once(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch, quirk: Quirk, finding: str | None
) -> None:
    cpo = Cpo(quirk)
    _publish_sessions(cpo, 7)
    _registered(emsp, cpo, monkeypatch)
    records = emsp.records()
    assert sorted(s.session_id for s in records.sessions) == [f"S{i}" for i in range(7)]
    stats = emsp.pull_stats()["cpo1"]
    assert stats["objects"] == 7
    assert stats["failed"] == 0
    kinds = {f.kind for f in records.findings}
    assert (finding in kinds) if finding else not kinds
    assert len([u for u in cpo.gets if "/sessions" in u]) <= 6  # 7 objects at most 2 a page, +1 empty


@pytest.mark.parametrize("form", ['<{url}>; rel="next"', "<{url}>; rel=next", '<{url}>;rel="next"'])
def test_link_forms_followed(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    def quirk(objects: list[dict[str, Any]], request: HttpRequest) -> HttpResponse:
        query = request.query | {"limit": "3"}
        parts = urlsplit(request.url)
        return _sender_page(
            objects, HttpRequest("GET", urlunsplit((*parts[:3], urlencode(query), ""))), link_form=form
        )

    cpo = Cpo(quirk)
    _publish_sessions(cpo, 8)
    _registered(emsp, cpo, monkeypatch)
    assert len(emsp.records().sessions) == 8
    assert emsp.pull_stats()["cpo1"]["pages"] == 3 + 3  # sessions: 3 pages; one each for the others


def test_server_ignoring_offset_stops_with_a_finding(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    cpo = Cpo(offset_ignored)
    _publish_sessions(cpo, 5)
    _registered(emsp, cpo, monkeypatch)
    records = emsp.records()
    assert len(records.sessions) == 2  # the first page: what the server gives
    assert [f.kind for f in records.findings] == ["pagination_no_progress"]
    assert len([u for u in cpo.gets if "/sessions" in u]) == 2


def test_link_and_count_missing_ends_the_pull(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    cpo = Cpo(link_and_total_missing)
    _publish_sessions(cpo, 5)
    _registered(emsp, cpo, monkeypatch)
    assert len(emsp.records().sessions) == 2  # nothing says more exist: a missing Link is the end


def test_catch_up_asks_from_the_last_sync(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    cpo.gets.clear()
    # A Session and its CDR the CPO published but whose pushes never arrived.
    later = client.now + timedelta(minutes=30)
    stamp = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    cpo.published.put("sessions", "LOST", session("LOST", status="COMPLETED", last_updated=stamp))
    cpo.published.put("cdrs", "CDR-LOST", cdr("CDR-LOST", session_id="LOST", last_updated=stamp))
    assert emsp.link_restored("cpo1", later)
    run(emsp, cpo, later)
    assert all("date_from=" in url for url in cpo.gets)
    records = emsp.records()
    assert [s.session_id for s in records.sessions] == ["LOST"]
    assert [c.cdr_id for c in records.cdrs] == ["CDR-LOST"]
    assert len(records.invoice_lines) == 1


def test_pulled_objects_are_stored_once(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    # Pushed first, then listed again by the Sender: not stored, not billed twice, no repeat.
    body = cdr("CDR-1", last_updated="2025-03-01T10:05:00Z")
    assert client.call("POST", f"{V}/cdrs", body).status == 201
    cpo.published.put("cdrs", "CDR-1", body)
    # Pulled first, then pushed: the push is answered, not stored, and is no repeat.
    cpo.published.put("cdrs", "CDR-2", cdr("CDR-2", session_id="S2"))
    # A stale listing never replaces a newer session.
    newer = session("S1", kwh=5, last_updated="2025-03-01T09:30:00Z")
    assert client.call("PUT", f"{V}/sessions/DE/CPA/S1", newer).status == 201
    cpo.published.put("sessions", "S1", session("S1", kwh=1, last_updated="2025-03-01T09:10:00Z"))
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    assert client.call("POST", f"{V}/cdrs", cdr("CDR-2", session_id="S2")).status == 200
    records = emsp.records()
    assert sorted(c.cdr_id for c in records.cdrs) == ["CDR-1", "CDR-2"]
    assert len(records.invoice_lines) == 2
    assert records.duplicate_cdrs == ()
    assert [s.kwh for s in records.sessions] == [5]
    assert records.findings == ()  # skipping a stale listing is no finding of the partner's
    # A second POST of the pulled CDR is a repeat again.
    assert client.call("POST", f"{V}/cdrs", cdr("CDR-2", session_id="S2")).status == 200
    with emsp.db.unit() as db:
        assert db.query(DuplicateCdrRow).count() == 1
        # ... and only that repeat is noticed on the partner (emsp.findings duplicate_cdr).
        assert [(f.kind, f.count) for f in db.query(FindingRow)] == [("duplicate_cdr", 1)]


def test_unreachable_sender_is_retried(emsp: EmspCore, monkeypatch: pytest.MonkeyPatch) -> None:
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    down = True

    def flaky(request: HttpRequest) -> HttpResponse:
        return HttpResponse(503, {}, "Service Unavailable") if down else cpo(request)

    now = client.now + timedelta(minutes=5)
    emsp.link_restored("cpo1", now)
    while pending := emsp.pending_requests():
        for outbound in pending:
            emsp.on_response(outbound.request_id, flaky(outbound.request), now)
    assert emsp.pull_stats()["cpo1"]["failed"] == 4
    due = emsp.next_pull_at(now)
    assert due == now + timedelta(minutes=1)
    down = False
    cpo.published.put("sessions", "LATE", session("LATE"))
    emsp.run_due_pulls(due)
    run(emsp, cpo, due)
    assert [s.session_id for s in emsp.records().sessions] == ["LATE"]
    assert emsp.next_pull_at(due) is None


def test_a_pulled_session_is_what_the_next_push_is_checked_against(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review9 M12: the pull stored a newer, ended Session, yet the next push was checked against
    the session as the previous push left it in memory (in-memory SQLite): an older PUT was applied
    over it and reopened it. Every database must answer it the same: not applied."""
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    pushed = session("S1", kwh=1, last_updated="2025-03-01T09:10:00Z")
    assert client.call("PUT", f"{V}/sessions/DE/CPA/S1", pushed).status == 201  # remembered
    ended = session("S1", status="COMPLETED", kwh=5, last_updated="2025-03-01T09:30:00Z")
    cpo.published.put("sessions", "S1", ended)
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    # The CPO's stored push of 09:20 arrives after the pull.
    late = session("S1", kwh=3, last_updated="2025-03-01T09:20:00Z")
    client.call("PUT", f"{V}/sessions/DE/CPA/S1", late)
    client.call("PATCH", f"{V}/sessions/DE/CPA/S1", {"kwh": 4, "last_updated": "2025-03-01T09:25:00Z"})
    [stored] = emsp.records().sessions
    assert (stored.status, stored.kwh) == ("COMPLETED", 5)


def _kinds(emsp: EmspCore) -> list[tuple[str, str, int]]:
    with emsp.db.unit() as db:
        return [(f.kind, f.object_id, f.count) for f in db.query(FindingRow).order_by(FindingRow.kind)]


@pytest.mark.parametrize("where", ["memory", "file"])
def test_a_late_push_behind_the_pulled_version_is_no_stale_update(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, where: str
) -> None:
    """hub-outage: the catch-up pull fetched newer Sessions, then the CPOs' pushes queued during the
    outage arrived (10 stale_update findings on three CPOs that did nothing wrong). Behind what our
    own pull fetched, a push is not applied and is no finding; older than the CPO's own earlier
    push, or than a push that replaced the pulled version, it still is one. A file database has no
    sessions kept in memory: the times compared are read back from the table."""
    url = "sqlite://" if where == "memory" else f"sqlite:///{tmp_path / 'emsp.db'}"
    emsp = EmspCore(EmspSettings(database_url=url))
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    path = f"{V}/sessions/DE/CPA/S1"
    assert client.call("PUT", path, session("S1", kwh=1, last_updated="2025-03-01T09:10:00Z")).status == 201
    cpo.published.put("sessions", "S1", session("S1", kwh=5, last_updated="2025-03-01T09:30:00Z"))
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    cpo.published.put("sessions", "S1", session("S1", kwh=6, last_updated="2025-03-01T09:40:00Z"))
    emsp.pull_from("cpo1", client.now + timedelta(minutes=1))  # pulled again: still what it pushed last
    run(emsp, cpo, client.now)
    # A replay of its 09:10 push, then its queued pushes of 09:20 and 09:25 arrive: behind the
    # pull, in the CPO's own order.
    for late in (
        client.call("PUT", path, session("S1", kwh=1, last_updated="2025-03-01T09:10:00Z")),
        client.call("PUT", path, session("S1", kwh=3, last_updated="2025-03-01T09:20:00Z")),
        client.call("PATCH", path, {"kwh": 4, "last_updated": "2025-03-01T09:25:00Z"}),
    ):
        assert (late.status, late.json()["status_code"]) == (200, 1000)
        assert "not applied" in late.json()["status_message"]
    assert [s.kwh for s in emsp.records().sessions] == [6]
    assert _kinds(emsp) == []
    # r13 Q3: older than the CPO's own push of 09:25, which came after the pull: its fault.
    client.call("PUT", path, session("S1", kwh=3, last_updated="2025-03-01T09:22:00Z"))
    assert _kinds(emsp) == [("stale_update", "S1", 1)]
    # Older than the CPO's own push of 09:10, before the pull: its fault, pull or not.
    client.call("PUT", path, session("S1", kwh=2, last_updated="2025-03-01T09:05:00Z"))
    assert _kinds(emsp) == [("stale_update", "S1", 2)]
    # A push replaces the pulled version: an older one after it is stale again.
    assert client.call("PUT", path, session("S1", kwh=7, last_updated="2025-03-01T09:50:00Z")).status == 200
    client.call("PUT", path, session("S1", kwh=6, last_updated="2025-03-01T09:45:00Z"))
    assert _kinds(emsp) == [("stale_update", "S1", 3)]
    assert [s.kwh for s in emsp.records().sessions] == [7]


def test_a_late_tariff_push_behind_the_pulled_version_is_no_stale_update(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    cpo.published.put("tariffs", "TAR1", {**tariff(), "last_updated": "2025-03-01T09:30:00Z"})
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    late = client.call(
        "PUT", f"{V}/tariffs/DE/CPA/TAR1", {**tariff(), "last_updated": "2025-03-01T09:20:00Z"}
    )
    assert "not applied" in late.json()["status_message"]
    assert _kinds(emsp) == []  # the CPO had pushed nothing before: any older push is a late one


def _location_at(when: str) -> dict[str, Any]:
    """LOC1 with its Location, EVSE and Connector all last updated `when`."""
    loc = location()
    evse = loc["evses"][0]
    loc["last_updated"] = evse["last_updated"] = evse["connectors"][0]["last_updated"] = when
    return loc


def test_a_late_evse_push_behind_the_pulled_location_is_no_stale_update(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """r13 Q8: our pull records whole Locations, so the CPO's EVSE status PATCH and Connector PUT
    queued during an outage, arriving behind the pulled Location, were charged as stale_update
    (the whole-Location push of the same age was not). Neutral alike; an EVSE push older than the
    CPO's own pre-pull push, or behind a push that replaced the pulled Location, still is one."""
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    path = f"{V}/locations/DE/CPA/LOC1"
    assert client.call("PUT", path, _location_at("2025-03-01T09:10:00Z")).status in (200, 201)
    cpo.published.put("locations", "LOC1", _location_at("2025-03-01T09:30:00Z"))
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    connector = _location_at("2025-03-01T09:15:00Z")["evses"][0]["connectors"][0]
    for late in (
        client.call("PATCH", f"{path}/EVSE1", {"status": "CHARGING", "last_updated": "2025-03-01T09:20:00Z"}),
        client.call("PUT", f"{path}/EVSE1/1", connector),
    ):
        assert late.json()["status_code"] == 1000
        assert "(fetched by our pull)" in late.json()["status_message"]
    assert _kinds(emsp) == []
    # Older than the CPO's own push of 09:10: its fault, pull or not.
    client.call("PATCH", f"{path}/EVSE1", {"status": "CHARGING", "last_updated": "2025-03-01T09:05:00Z"})
    assert _kinds(emsp) == [("stale_update", "LOC1/EVSE1", 1)]
    # An EVSE push replaces the pulled version: an older one after it is stale again.
    client.call("PATCH", f"{path}/EVSE1", {"status": "CHARGING", "last_updated": "2025-03-01T09:40:00Z"})
    client.call("PATCH", f"{path}/EVSE1", {"status": "AVAILABLE", "last_updated": "2025-03-01T09:35:00Z"})
    assert _kinds(emsp) == [("stale_update", "LOC1/EVSE1", 2)]


def test_a_late_patch_behind_the_pulled_end_is_no_patch_after_final(
    emsp: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """partner-outage: the pull fetched a COMPLETED Session, then the CPO's PATCH queued before the
    end arrived and was charged as patch_after_final. Sent before the end, it is neither that nor
    stale; a PATCH newer than the end still is patch_after_final."""
    cpo = Cpo()
    client = _registered(emsp, cpo, monkeypatch)
    path = f"{V}/sessions/DE/CPA/S1"
    assert client.call("PUT", path, session("S1", kwh=1, last_updated="2025-03-01T09:10:00Z")).status == 201
    ended = session("S1", status="COMPLETED", kwh=5, last_updated="2025-03-01T09:30:00Z")
    cpo.published.put("sessions", "S1", ended)
    emsp.pull_from("cpo1", client.now)
    run(emsp, cpo, client.now)
    late = client.call("PATCH", path, {"kwh": 4, "last_updated": "2025-03-01T09:20:00Z"})
    assert "not applied" in late.json()["status_message"]
    assert _kinds(emsp) == []
    client.call("PATCH", path, {"kwh": 5, "last_updated": "2025-03-01T09:40:00Z"})
    assert _kinds(emsp) == [("patch_after_final", "S1", 1)]
