"""Bad input never yields a 5xx and always gets the envelope."""

from __future__ import annotations

import pytest
from emsp_helpers import BASE, T0, Client, V, auth, location
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emsp.core import EmspCore
from emsp.wire import HttpRequest


@pytest.mark.parametrize(
    ("method", "path", "raw", "http", "code"),
    [
        ("PUT", "/locations/DE/CPA/LOC1", "{not json", 400, 2001),
        ("PUT", "/locations/DE/CPA/LOC1", "[1, 2]", 200, 2001),
        ("PUT", "/locations/DE/CPA/LOC1", "", 400, 2001),
        ("PUT", "/locations/DE/CPA/LOC1", '{"id": "LOC1"}', 200, 2001),
        ("PUT", "/locations/DEU/CPA/LOC1", '{"id": "LOC1"}', 200, 2001),
        ("POST", "/cdrs", '{"id": 5}', 200, 2001),
        ("PUT", "/sessions/DE/CPA/S1", '{"id": "S2"}', 200, 2001),
        ("GET", "/nosuchmodule", None, 404, 2000),
        ("GET", "/locations/DE", None, 404, 2000),
        ("GET", "/locations/DE/CPA/L/E/C/X", None, 404, 2000),
        ("POST", "/locations/DE/CPA/LOC1", "{}", 405, 2000),
        ("DELETE", "/sessions/DE/CPA/S1", None, 405, 2000),
        ("PATCH", "/tariffs/DE/CPA/T1", "{}", 405, 2000),
        ("PUT", "/tokens", "{}", 405, 2000),
    ],
)
def test_bad_input_table(cpo: Client, method: str, path: str, raw: str | None, http: int, code: int) -> None:
    resp = cpo.call(method, f"{V}{path}", raw=raw)
    body = resp.json()
    assert (resp.status, body["status_code"]) == (http, code), resp.body
    assert body["timestamp"] and body.get("status_message")


def test_outside_base_and_ids_echoed(core: EmspCore) -> None:
    resp = core.handle(HttpRequest("GET", "http://emsp.local/other", {"X-Request-ID": "r1"}), T0)
    assert resp.status == 404 and resp.json()["status_code"] == 2000
    assert resp.header("X-Request-ID") == "r1" and resp.header("X-Correlation-ID") == "r1"
    resp = core.handle(HttpRequest("GET", f"{BASE}/versions", {"X-Correlation-ID": "c9"}), T0)
    assert resp.header("X-Correlation-ID") == "c9" and resp.header("X-Request-ID")


def test_routing_headers_answer_the_sender(cpo: Client) -> None:
    headers = {
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "CPA",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }
    resp = cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location(), headers=headers)
    assert resp.header("OCPI-to-party-id") == "CPA" and resp.header("OCPI-from-party-id") == "EMS"


_segments = st.lists(
    st.sampled_from(
        [
            "locations",
            "sessions",
            "cdrs",
            "tokens",
            "tariffs",
            "credentials",
            "DE",
            "CPA",
            "x",
            "",
            "authorize",
            "%00",
            "..",
            "2.2.1",
        ]
    ),
    max_size=6,
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]),
    segments=_segments,
    body=st.one_of(st.none(), st.text(max_size=30), _json.map(lambda v: __import__("json").dumps(v))),
    query=st.sampled_from(["", "?type=RFID", "?offset=-1", "?limit=x&offset=2", "?date_from=nope"]),
)
def test_junk_never_5xx(cpo: Client, method: str, segments: list[str], body: str | None, query: str) -> None:
    resp = cpo.core.handle(HttpRequest(method, f"{V}/{'/'.join(segments)}{query}", auth(cpo.token), body), T0)
    assert resp.status < 500, resp.body
    envelope = resp.json()
    assert isinstance(envelope["status_code"], int) and "timestamp" in envelope
