"""Credentials with the hub in both directions, and HubClientInfo pushed as connections change."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hub_world import CPO_A, CPO_B, EMSP, HUB, T0, World, build
from hypothesis import given, settings
from hypothesis import strategies as st

from emsp.wire import HttpRequest, HttpResponse
from simulators.hub import Status


def test_every_party_registers_and_holds_the_hubs_role_hub_credentials() -> None:
    world = build()
    hub = world.hub
    for name in ("emsp", "cpo-a", "cpo-b"):
        connection = hub.registry[name]
        assert connection.registered and connection.status is Status.CONNECTED
    # Inbound: the party used token A, got token C; the hub uses the party's token B.
    assert world.emsp.hub_token not in ("", "emsp-token-a")
    assert hub.registry["emsp"].token_out == "emsp-token-b"
    assert hub.registry["emsp"].endpoint("cdrs", "RECEIVER") == "http://emsp.local/ocpi/2.2.1/cdrs"
    # Outbound: the hub used CPO B's token A, then got its token C.
    assert hub.registry["cpo-b"].token_out == "cpo-b-token-c"
    assert world.cpo_b.hub_endpoints  # CPO B learnt the hub's endpoints with the hub's token B
    credentials = hub.own_credentials("t")
    assert credentials["roles"] == [
        {
            "role": "HUB",
            "country_code": HUB[0],
            "party_id": HUB[1],
            "business_details": {"name": "Roaming hub"},
        }
    ]


def test_token_a_opens_registration_only_and_is_dead_after_it() -> None:
    world = build(register=False)
    world.emsp.register_with_hub(T0)
    world.net.run(T0)
    cdrs = world.emsp.hub_endpoints[("cdrs", "SENDER")]
    world.emsp.hub_token = "emsp-token-a"
    request_id = world.emsp.call("GET", "cdrs", "SENDER", "", T0, to=CPO_A)
    world.net.run(T0)
    assert world.emsp.answers[request_id].status == 401
    assert cdrs.startswith("http://hub.local/ocpi/2.2.1/cdrs")


def test_credentials_naming_a_party_the_operator_did_not_configure_are_refused() -> None:
    world = build(register=False)
    world.cpo_a.party_id = "XYZ"  # claims a party the hub operator did not configure for it
    world.cpo_a.register_with_hub(T0)
    world.net.run(T0)
    posts = [r for r in world.cpo_a.answers.values() if r.json()["status_code"] != 1000]
    assert [r.json()["status_code"] for r in posts] == [2001]
    assert "not a party the hub operator configured" in posts[0].json()["status_message"]
    assert not world.hub.registry["cpo-a"].registered


def test_client_info_pushed_on_connect_to_everyone_connected() -> None:
    world = build()
    # The eMSP registered first: it learnt of CPO A and CPO B connecting; each CPO learnt of the others.
    assert world.emsp.client_info == {"DE/CPA": "CONNECTED", "BE/CPB": "CONNECTED"}
    assert world.cpo_a.client_info == {"NL/EMS": "CONNECTED", "BE/CPB": "CONNECTED"}
    assert world.cpo_b.client_info == {"NL/EMS": "CONNECTED", "DE/CPA": "CONNECTED"}
    pushes = [r for r in world.net.sent_to("emsp") if "/hubclientinfo/" in r.url]
    assert {r.url for r in pushes} == {
        "http://emsp.local/ocpi/2.2.1/hubclientinfo/DE/CPA",
        "http://emsp.local/ocpi/2.2.1/hubclientinfo/BE/CPB",
    }
    for push in pushes:  # a configuration module: never routing headers (transport_and_format)
        assert not any(name.lower().startswith("ocpi-") for name in push.headers)
        assert push.method == "PUT"


def test_client_info_offline_when_a_party_is_unreachable_and_connected_when_back() -> None:
    world = build()
    world.net.down.add("emsp")
    world.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body={"id": "LOC1"}, to=EMSP)
    world.net.run(T0)
    assert world.hub.registry["emsp"].status is Status.OFFLINE
    assert world.cpo_a.client_info["NL/EMS"] == "OFFLINE"
    assert world.cpo_b.client_info["NL/EMS"] == "OFFLINE"
    world.net.down.clear()
    world.net.wake(T0 + timedelta(seconds=30))  # the still-alive probe: GET versions
    assert world.hub.registry["emsp"].status is Status.CONNECTED
    assert world.cpo_a.client_info["NL/EMS"] == "CONNECTED"


def test_client_info_list_on_the_hubs_sender_interface_is_paginated() -> None:
    world = build()
    world.hub.set_status("cpo-b", Status.SUSPENDED, T0 + timedelta(minutes=1))
    world.emsp.outbox.clear()
    url = world.emsp.hub_endpoints[("hubclientinfo", "SENDER")]
    out = world.emsp._request("GET", f"{url}?limit=2", T0)
    world.net.run(T0)
    answer = world.emsp.answers[out.request_id]
    data = answer.json()["data"]
    assert [(d["country_code"], d["party_id"], d["role"], d["status"]) for d in data] == [
        (*EMSP, "EMSP", "CONNECTED"),
        (*CPO_A, "CPO", "CONNECTED"),
    ]
    assert answer.header("X-Total-Count") == "3"
    assert answer.header("Link") == '<http://hub.local/ocpi/2.2.1/hubclientinfo?offset=2&limit=2>; rel="next"'
    following = world.emsp._request("GET", "http://hub.local/ocpi/2.2.1/hubclientinfo?offset=2&limit=2", T0)
    world.net.run(T0)
    last = world.emsp.answers[following.request_id].json()["data"]
    assert [(d["party_id"], d["status"]) for d in last] == [(CPO_B[1], "SUSPENDED")]


def test_the_token_b_the_hub_offers_opens_registration_only_until_it_completes() -> None:
    world = build(register=False)
    world.net.silent.add("cpo-b")  # takes our calls, never answers
    world.hub.register("cpo-b", T0)
    world.net.run(T0)
    token_b = world.hub.registry["cpo-b"].token_in
    assert token_b is not None
    auth = {"Authorization": "Token " + base64.b64encode(token_b.encode()).decode()}
    routed = world.hub.handle(HttpRequest("GET", "http://hub.local/ocpi/2.2.1/locations/sender", auth), T0)
    versions = world.hub.handle(HttpRequest("GET", "http://hub.local/ocpi/versions", auth), T0)
    assert isinstance(routed, HttpResponse) and routed.status == 401
    assert isinstance(versions, HttpResponse) and versions.status == 200
    world.net.wake(T0 + timedelta(seconds=10))
    assert world.hub.truth.refused[-1][1:3] == ("cpo-b", 3001)
    assert not world.hub.registry["cpo-b"].registered


EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["down", "up", "push", "advance"]), st.sampled_from(["emsp", "cpo-a", "cpo-b"])
    ),
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(events=EVENTS)
def test_every_connected_party_sees_the_hubs_client_info_of_the_others(events: list[tuple[str, str]]) -> None:
    world = build()
    now = T0
    for op, name in events:
        if op == "down":
            world.net.down.add(name)
        elif op == "up":
            world.net.down.discard(name)
        elif op == "push":  # something for `name` makes the hub find out whether it is there
            sender = world.cpo_a if name != "cpo-a" else world.emsp
            to = {"emsp": EMSP, "cpo-a": CPO_A, "cpo-b": CPO_B}[name]
            sender.call("GET", "locations", "SENDER" if name != "emsp" else "RECEIVER", "/X", now, to=to)
            world.net.run(now)
        else:
            now += timedelta(seconds=30)
            world.net.wake(now)
    world.net.down.clear()
    now += timedelta(seconds=30)
    world.net.wake(now)  # every offline party is probed, found back and told of the others
    statuses = {name: world.hub.registry[name].status for name in ("emsp", "cpo-a", "cpo-b")}
    assert set(statuses.values()) == {Status.CONNECTED}
    for party in (world.emsp, world.cpo_a, world.cpo_b):
        others = {
            f"{p.country_code}/{p.party_id}" for p in (world.emsp, world.cpo_a, world.cpo_b) if p is not party
        }
        assert party.client_info == dict.fromkeys(sorted(others), "CONNECTED")


def _settle(world: World, until_s: float) -> None:
    """Let the hub's own wakeups (deadlines, retries) run up to `until_s` seconds after T0."""
    end = T0 + timedelta(seconds=until_s)
    for _ in range(1000):
        wakeup = world.hub.next_wakeup()
        if wakeup is None or wakeup > end:
            return
        world.net.wake(wakeup)


@pytest.mark.parametrize(
    "outage",
    [
        "down",  # connection refused
        "silent",  # takes the call, never answers: the hub's deadline passes
    ],
)
def test_a_registration_that_got_no_answer_is_retried_with_backoff_until_the_party_is_back(
    outage: str,
) -> None:
    world = build(register=False)
    getattr(world.net, outage).add("cpo-b")
    world.hub.register("cpo-b", T0)
    world.net.run(T0)
    _settle(world, 300)
    assert not world.hub.registry["cpo-b"].registered
    tries = len(world.hub.truth.refused)
    assert 3 <= tries <= 300 // 60 + 7  # backoff: a few quick retries, then one a minute
    getattr(world.net, outage).discard("cpo-b")
    _settle(world, 400)
    assert world.hub.registry["cpo-b"].registered
    assert world.hub.registry["cpo-b"].status is Status.CONNECTED
    assert world.hub.next_wakeup() is None  # registered: nothing more to retry


def test_a_party_that_answers_and_refuses_the_registration_is_not_asked_again() -> None:
    world = build(register=False)
    world.hub.registry["cpo-b"].token_out = "not-the-token-cpo-b-gave"
    world.hub.register("cpo-b", T0)
    world.net.run(T0)
    _settle(world, 300)
    assert len(world.hub.truth.refused) == 1 and not world.hub.registry["cpo-b"].registered


def test_the_hubs_credentials_post_waits_for_the_partys_calls_back() -> None:
    """The party answers the hub's credentials POST only after fetching the hub's versions and
    details (credentials, Registration): the hub waits for that answer three times its forward
    timeout. With its forward timeout it gave up on a party behind a 2 s link, which had already
    taken token A: every later attempt got 401 (review9 M3)."""
    world = build(register=False)
    hub, party = world.hub, world.cpo_b
    hub.register("cpo-b", T0)
    for _get in ("versions", "details"):
        [out] = hub.pending_requests()
        assert hub.call_timeout(out.request_id) == hub.forward_timeout()
        hub.on_response(out.request_id, party.handle(out.request, T0), T0)
    [post] = hub.pending_requests()
    assert (post.request.method, hub.call_timeout(post.request_id)) == ("POST", hub.forward_timeout() * 3)
    late = T0 + hub.forward_timeout() * 2  # past one forward timeout, within the handshake's
    hub.on_wakeup(late)
    assert hub.truth.refused == [] and hub.pending_requests() == []
    hub.on_response(post.request_id, party.handle(post.request, late), late)
    assert hub.registry["cpo-b"].registered
    assert hub.truth.registered == [("2026-03-02T08:00:20Z", "cpo-b")]
    hub.on_wakeup(T0 + hub.forward_timeout() * 4)
    assert hub.truth.refused == []
