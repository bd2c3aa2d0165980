"""Invariants of the hub over generated traffic: a routed message reaches the addressed party and no
other; whatever a client sends, the hub answers with an OCPI envelope and never raises."""

from __future__ import annotations

import base64

import pytest
from hub_world import CPO_A, CPO_B, EMSP, HUB, T0, build
from hypothesis import given, settings
from hypothesis import strategies as st

from emsp.wire import Deferred, HttpRequest, HttpResponse, dumps

PARTIES = {"emsp": EMSP, "cpo-a": CPO_A, "cpo-b": CPO_B}
CALLS = [  # (module, interface, suffix, method) a party may route
    ("locations", "RECEIVER", "/DE/CPA/L1", "PUT"),
    ("cdrs", "RECEIVER", "", "POST"),
    ("tokens", "RECEIVER", "/NL/EMS/AA11", "PUT"),
    ("tokens", "SENDER", "/AA11/authorize", "POST"),
    ("sessions", "SENDER", "", "GET"),
    ("commands", "RECEIVER", "/START_SESSION", "POST"),
]
ROUTED = st.tuples(
    st.sampled_from(sorted(PARTIES)),
    st.sampled_from([*PARTIES.values(), ("FR", "ZZZ"), ("nl", "ems")]),
    st.sampled_from(CALLS),
)


@settings(max_examples=80, deadline=None)
@given(
    persona=st.sampled_from(["routing-only", "aggregating"]), calls=st.lists(ROUTED, min_size=1, max_size=8)
)
def test_a_routed_message_reaches_the_addressed_party_and_no_other(
    persona: str, calls: list[tuple[str, tuple[str, str], tuple[str, str, str, str]]]
) -> None:
    world = build(persona)
    for sender, to, (module, interface, suffix, method) in calls:
        party = world.net.parties[sender]
        before = len(world.net.hub_sent)
        body = None if method == "GET" else {"id": "X1"}
        rid = party.call(method, module, interface, suffix, T0, body=body, to=to)
        world.net.run(T0)
        hops = [o for o in world.net.hub_sent[before:] if "/hubclientinfo/" not in o.request.url]
        owner = next((name for name, key in PARTIES.items() if key == (to[0].upper(), to[1].upper())), None)
        code = world.net.parties[sender].answers[rid].json()["status_code"]
        if owner is None:
            assert code == 4001 and hops == []
            continue
        assert len(hops) <= 1
        for hop in hops:
            assert hop.partner == owner  # the connection that speaks for the addressed party
            assert (hop.request.header("OCPI-to-country-code"), hop.request.header("OCPI-to-party-id")) == (
                to[0].upper(),
                to[1].upper(),
            )
            assert (
                hop.request.header("OCPI-from-country-code"),
                hop.request.header("OCPI-from-party-id"),
            ) == (PARTIES[sender])
            assert hop.request.header("X-Correlation-ID") == f"corr-{rid}"


def _token(value: str) -> str:
    return "Token " + base64.b64encode(value.encode()).decode()


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "http", "code"),
    [
        ("GET", "/ocpi/2.2.1/locations/sender", {}, None, 401, 2000),
        ("GET", "/ocpi/versions", {"Authorization": "Token !!not-base64"}, None, 401, 2000),
        ("GET", "/elsewhere", {}, None, 404, 2000),
        ("POST", "/ocpi/versions", {"Authorization": "EMSP"}, None, 405, 2000),
        ("GET", "/ocpi/2.2.1/nosuchmodule/sender", {"Authorization": "EMSP"}, None, 404, 2000),
        (
            "PUT",
            "/ocpi/2.2.1/locations/receiver/DE/CPA/L1",
            {
                "Authorization": "EMSP",
                "OCPI-to-party-id": "CPA",
                "OCPI-to-country-code": "DE",
                "OCPI-from-country-code": "NL",
                "OCPI-from-party-id": "EMS",
            },
            "{not json",
            400,
            2001,
        ),
        ("GET", "/ocpi/2.2.1/hubclientinfo?limit=-1", {"Authorization": "EMSP"}, None, 200, 2001),
        ("GET", "/ocpi/2.2.1/hubclientinfo?date_from=yesterday", {"Authorization": "EMSP"}, None, 200, 2001),
        ("POST", "/ocpi/2.2.1/credentials", {"Authorization": "EMSP"}, "{}", 405, 2000),  # registered already
    ],
)
def test_bad_requests_get_a_clear_status_and_ocpi_code(
    method: str, path: str, headers: dict[str, str], body: str | None, http: int, code: int
) -> None:
    world = build()
    if headers.get("Authorization") == "EMSP":
        headers = headers | {"Authorization": _token(world.emsp.hub_token)}
    response = world.hub.handle(HttpRequest(method, f"http://hub.local{path}", headers, body), T0)
    assert isinstance(response, HttpResponse)
    assert (response.status, response.json()["status_code"]) == (http, code)


def test_credentials_post_with_bad_body_is_2001_and_unregistered_delete_is_405() -> None:
    world = build(register=False)
    auth = {"Authorization": _token("emsp-token-a")}
    url = "http://hub.local/ocpi/2.2.1/credentials"
    bad = world.hub.handle(
        HttpRequest("POST", url, auth, dumps({"token": "t", "url": "ftp://x", "roles": []})), T0
    )
    assert isinstance(bad, HttpResponse) and bad.json()["status_code"] == 2001
    assert "url" in bad.json()["status_message"]
    gone = world.hub.handle(HttpRequest("DELETE", url, auth), T0)
    assert isinstance(gone, HttpResponse) and gone.status == 405


def test_credentials_delete_unregisters_and_others_hear_it_is_offline() -> None:
    world = build()
    auth = {"Authorization": _token(world.cpo_a.hub_token)}
    response = world.hub.handle(HttpRequest("DELETE", "http://hub.local/ocpi/2.2.1/credentials", auth), T0)
    world.net.run(T0)
    assert isinstance(response, HttpResponse) and response.json()["status_code"] == 1000
    assert world.emsp.client_info["DE/CPA"] == "OFFLINE"
    again = world.hub.handle(HttpRequest("GET", "http://hub.local/ocpi/versions", auth), T0)
    assert isinstance(again, HttpResponse) and again.status == 401
    assert world.hub.next_wakeup() is None  # an unregistered party is not probed


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    path=st.sampled_from(
        [
            "/ocpi/versions",
            "/ocpi/2.2.1",
            "/ocpi/2.2.1/credentials",
            "/ocpi/2.2.1/hubclientinfo",
            *(f"/ocpi/2.2.1/{m}/{i.lower()}{s}" for m, i, s, _ in CALLS),
        ]
    ),
    query=st.sampled_from(["", "?limit=abc", "?offset=5&limit=1", "?date_to=2026-01-01T00:00:00Z", "?x=%ZZ"]),
    to=st.sampled_from([None, EMSP, CPO_A, HUB, ("", ""), ("DE", "ZZZ")]),
    sender=st.sampled_from([None, CPO_A, CPO_B, ("", "")]),
    body=st.one_of(
        st.none(),
        TEXT,
        st.recursive(
            st.none() | st.booleans() | st.integers() | TEXT,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
            max_leaves=8,
        ).map(dumps),
    ),
    persona=st.sampled_from(["routing-only", "aggregating"]),
)
def test_whatever_a_client_sends_the_hub_answers_with_an_envelope(
    method: str,
    path: str,
    query: str,
    to: tuple[str, str] | None,
    sender: tuple[str, str] | None,
    body: str | None,
    persona: str,
) -> None:
    world = build(persona)
    headers = {"Authorization": _token(world.cpo_a.hub_token), "X-Request-ID": "r1", "X-Correlation-ID": "c1"}
    for direction, key in (("to", to), ("from", sender)):
        if key is not None:
            headers |= {f"OCPI-{direction}-country-code": key[0], f"OCPI-{direction}-party-id": key[1]}
    response = world.hub.handle(HttpRequest(method, f"http://hub.local{path}{query}", headers, body), T0)
    if isinstance(response, Deferred):  # forwarded: the receiver answers (any OCPI answer will do)
        canned = HttpResponse(200, {"Content-Type": "application/json"}, dumps({"status_code": 1000}))
        for outbound in world.hub.pending_requests():
            world.hub.on_response(outbound.request_id, canned, T0)
        response = dict(world.hub.completed_responses())[response.deferred_id]
    envelope = response.json()
    assert isinstance(envelope["status_code"], int)
    assert response.header("X-Request-ID") == "r1"
