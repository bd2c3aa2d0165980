"""Bad input is refused before storage with the same answer on SQLite and PostgreSQL, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from databases import BACKENDS, database_url
from emsp_helpers import T0, Client, FakePricer, V, auth, cdr, location, register, session, tariff

from emsp.core import EmspCore, EmspSettings
from emsp.wire import HttpRequest, dumps


@pytest.fixture(params=BACKENDS)
def any_db(request: pytest.FixtureRequest) -> Iterator[Client]:
    with database_url(request.param) as url:
        core = EmspCore(EmspSettings(database_url=url, max_body_bytes=64 * 1024), pricer=FakePricer())
        yield register(core)
        core.db.engine.dispose()


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


X37 = "X" * 37
CASES: list[tuple[str, str, str, Any, int, int]] = [
    # (name, method, path, body (dict, or raw text), HTTP status, OCPI status)
    ("37-char session id", "PUT", f"/sessions/DE/CPA/{X37}", session(X37), 404, 2001),
    ("37-char session id GET", "GET", f"/sessions/DE/CPA/{X37}", None, 404, 2001),
    ("40-char CDR id", "POST", "/cdrs", cdr("C" * 40), 200, 2001),
    ("37-char location_id in a session", "PUT", "/sessions/DE/CPA/S1", session(location_id=X37), 200, 2001),
    ("37-char token uid in a CDR", "POST", "/cdrs",
     cdr(cdr_token={**cdr()["cdr_token"], "uid": X37}), 200, 2001),
    ("unknown session status", "PUT", "/sessions/DE/CPA/S1", session(status="X" * 20), 200, 2001),
    ("year 9999 with an offset", "PUT", "/sessions/DE/CPA/S1",
     session(start_date_time="9999-12-31T23:59:59-01:00"), 200, 2001),
    ("year 1 with an offset", "PUT", "/sessions/DE/CPA/S1",
     session(last_updated="0001-01-01T00:00:00+01:00"), 200, 2001),
    ("no seconds", "PUT", "/tariffs/DE/CPA/TAR1", {**tariff(), "last_updated": "2025-03-01T08:00Z"},
     200, 2001),
    ("space for T", "PUT", "/tariffs/DE/CPA/TAR1", {**tariff(), "last_updated": "2025-03-01 08:00:00"},
     200, 2001),
    ("February 30", "PUT", "/locations/DE/CPA/LOC1",
     {**location(), "last_updated": "2025-02-30T08:00:00Z"}, 200, 2001),
    ("NUL in an id", "PUT", "/sessions/DE/CPA/S1", session(authorization_reference="a\x00b"), 200, 2001),
    ("NUL in an unknown field", "PUT", "/locations/DE/CPA/LOC1", {**location(), "note": "a\x00"}, 200, 2001),
    ("lone surrogate", "PUT", "/locations/DE/CPA/LOC1", '{"id": "LOC1", "name": "\\ud800"}', 400, 2001),
    ("lone surrogate in a key", "PUT", "/tariffs/DE/CPA/TAR1", '{"\\udfff": 1}', 400, 2001),
    ("NaN is not JSON", "PUT", "/sessions/DE/CPA/S1",
     dumps(session()).replace('"kwh":0', '"kwh":NaN'), 400, 2001),
    ("deep nesting", "PUT", "/locations/DE/CPA/LOC1", {**location(), "deep": _deep(40)}, 400, 2001),
    ("very deep nesting", "PUT", "/locations/DE/CPA/LOC1", "[" * 100_000 + "]" * 100_000, 413, 2000),
    ("body over the limit", "PUT", "/locations/DE/CPA/LOC1", {**location(), "pad": "x" * 70_000}, 413, 2000),
    ("huge number", "PUT", "/sessions/DE/CPA/S1", session(kwh=10**40), 200, 2001),
    ("control character in a string", "PUT", "/locations/DE/CPA/LOC1",
     {**location(), "city": "Ber\nlin"}, 200, 2001),
    ("46-char address", "PUT", "/locations/DE/CPA/LOC1", {**location(), "address": "a" * 46}, 200, 2001),
    ("non-ASCII id", "PUT", "/sessions/DE/CPA/S%C3%A9", session("S\u00e9"), 404, 2001),
    ("NUL in the path", "GET", "/sessions/DE/CPA/S%00", None, 404, 2000),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "http", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_the_same_client_error_on_every_database(
    any_db: Client, method: str, path: str, body: Any, http: int, code: int
) -> None:
    raw = body if isinstance(body, str) or body is None else dumps(body)
    resp = any_db.call(method, f"{V}{path}", raw=raw)
    envelope = resp.json()
    assert (resp.status, envelope["status_code"]) == (http, code), resp.body
    assert envelope["timestamp"] and envelope["status_message"]
    records = any_db.core.records()
    assert records.sessions == () and records.cdrs == ()  # nothing stored


def test_valid_unicode_and_boundary_dates_are_stored(any_db: Client) -> None:
    any_db.now = datetime(9998, 12, 31, 12, tzinfo=UTC)  # a last_updated over a day ahead is refused
    body = {**location(), "city": "Zürich 🚗", "last_updated": "9998-12-31T23:59:59.123456789Z"}
    assert any_db.call("PUT", f"{V}/locations/DE/CPA/LOC1", body).status == 201
    stored = any_db.call("GET", f"{V}/locations/DE/CPA/LOC1").json()["data"]
    assert stored["city"] == "Zürich 🚗"
    resp = any_db.call(
        "PUT", f"{V}/sessions/DE/CPA/{'S' * 36}", session("S" * 36, last_updated="2025-03-01T10:00:00")
    )
    assert resp.status == 201, resp.body


def test_pagination_links_use_the_public_base_url(core: EmspCore, cpo: Client) -> None:
    for i in range(3):
        core.issue_token(f"RFID{i}", contract_id=f"C{i}", now=T0)
    request = HttpRequest("GET", "http://evil.example:9/ocpi/2.2.1/tokens?limit=1", auth(cpo.token))
    resp = core.handle(request, T0)
    assert resp.status == 200
    assert resp.header("Link") == '<http://emsp.local/ocpi/2.2.1/tokens?offset=1&limit=1>; rel="next"'


def test_request_ids_that_cannot_be_echoed_are_replaced(core: EmspCore) -> None:
    resp = core.handle(HttpRequest("GET", f"{V}/x", {"X-Request-ID": "a\r\nSet-Cookie: x"}), T0)
    assert resp.header(
        "X-Request-ID",
    ) != "a\r\nSet-Cookie: x" and "\n" not in resp.header("X-Request-ID")
