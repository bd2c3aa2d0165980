"""Routing through the hub (transport_and_format, Message Routing): headers per hop, answers back,
broadcast, real-time authorization, hub errors 4001/4002/4003, spoofed senders, URL rewriting."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hub_world import CPO_A, CPO_B, EMSP, HUB, T0, World, build

from emsp.wire import Deferred, HttpRequest, HttpResponse

LOCATION = {"country_code": "DE", "party_id": "CPA", "id": "LOC1", "name": "Site"}
CDR = {"country_code": "DE", "party_id": "CPA", "id": "CDR1", "session_id": "S1", "total_energy": 12.5}


def _last_sent(world: World, name: str) -> HttpRequest:
    return world.net.sent_to(name)[-1]


def _status(world: World, party: str, request_id: str) -> int:
    return int(world.net.parties[party].answers[request_id].json()["status_code"])


def test_location_push_is_forwarded_with_routing_headers_new_request_id_same_correlation() -> None:
    world = build()
    rid = world.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP)
    world.net.run(T0)
    sent = _last_sent(world, "emsp")
    assert (sent.method, sent.url) == ("PUT", "http://emsp.local/ocpi/2.2.1/locations/DE/CPA/LOC1")
    assert sent.header("OCPI-from-country-code") == "DE" and sent.header("OCPI-from-party-id") == "CPA"
    assert sent.header("OCPI-to-country-code") == "NL" and sent.header("OCPI-to-party-id") == "EMS"
    assert sent.header("X-Request-ID") not in (None, rid)  # a new id per hop
    assert sent.header("X-Correlation-ID") == f"corr-{rid}"  # the same correlation
    assert sent.header("Authorization") == "Token " + base64.b64encode(b"emsp-token-b").decode()
    assert world.emsp.received[-1].body == LOCATION
    answer = world.cpo_a.answers[rid]
    assert answer.status == 200 and answer.json()["status_code"] == 1000
    assert answer.header("X-Request-ID") == rid and answer.header("X-Correlation-ID") == f"corr-{rid}"
    assert (answer.header("OCPI-from-party-id"), answer.header("OCPI-to-party-id")) == ("EMS", "CPA")


def test_cdr_post_reaches_the_emsp_and_its_location_points_back_through_the_hub() -> None:
    world = build()
    rid = world.cpo_a.call("POST", "cdrs", "RECEIVER", "", T0, body=CDR, to=EMSP)
    world.net.run(T0)
    sent = _last_sent(world, "emsp")
    assert (sent.method, sent.url) == ("POST", "http://emsp.local/ocpi/2.2.1/cdrs")
    assert sent.header("X-Correlation-ID") == f"corr-{rid}" and sent.header("X-Request-ID") != rid
    answer = world.cpo_a.answers[rid]
    assert answer.status == 201
    assert answer.header("Location") == "http://hub.local/ocpi/2.2.1/cdrs/receiver/CDR1"


def test_token_push_to_the_hub_is_broadcast_to_every_cpo_from_the_hub() -> None:
    world = build("aggregating")
    token = {"country_code": "NL", "party_id": "EMS", "uid": "AA11", "valid": True}
    rid = world.emsp.call("PUT", "tokens", "RECEIVER", "/NL/EMS/AA11", T0, body=token, to=HUB)
    world.net.run(T0)
    for cpo, key in ((world.cpo_a, CPO_A), (world.cpo_b, CPO_B)):
        got = cpo.received[-1]
        assert (got.method, got.module, got.suffix, got.body) == ("PUT", "tokens", "/NL/EMS/AA11", token)
        # Broadcast Push: the hub sends as itself, to each receiver (transport_and_format).
        assert (got.header("OCPI-from-country-code"), got.header("OCPI-from-party-id")) == HUB
        assert (got.header("OCPI-to-country-code"), got.header("OCPI-to-party-id")) == key
        assert got.header("X-Correlation-ID") == f"corr-{rid}"
    assert not [r for r in world.emsp.received if r.module == "tokens"]  # not back to the sender
    answer = world.emsp.answers[rid]
    assert answer.json()["status_code"] == 1000 and answer.header("OCPI-from-party-id") == "HUB"


def test_location_broadcast_from_a_cpo_reaches_the_emsp_and_not_the_other_cpo() -> None:
    world = build("aggregating")
    world.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=HUB)
    world.net.run(T0)
    assert [r.suffix for r in world.emsp.received if r.module == "locations"] == ["/DE/CPA/LOC1"]
    assert not [r for r in world.cpo_b.received if r.module == "locations"]


def test_routing_only_hub_does_not_broadcast() -> None:
    world = build("routing-only")
    rid = world.emsp.call("PUT", "tokens", "RECEIVER", "/NL/EMS/AA11", T0, body={"uid": "AA11"}, to=HUB)
    world.net.run(T0)
    assert _status(world, "emsp", rid) == 4000
    assert not [r for r in world.cpo_a.received + world.cpo_b.received if r.module == "tokens"]


@pytest.mark.parametrize(("uid", "http", "code"), [("AA11", 200, 1000), ("FFFF", 404, 2004)])
def test_real_time_authorization_is_routed_and_answered(uid: str, http: int, code: int) -> None:
    world = build()
    rid = world.cpo_a.call("POST", "tokens", "SENDER", f"/{uid}/authorize?type=RFID", T0, body={}, to=EMSP)
    world.net.run(T0)
    got = world.emsp.received[-1]
    assert (got.method, got.suffix, got.query) == ("POST", f"/{uid}/authorize", {"type": "RFID"})
    answer = world.cpo_a.answers[rid]
    assert (answer.status, answer.json()["status_code"]) == (http, code)
    if code == 1000:
        assert answer.json()["data"]["allowed"] == "ALLOWED"


def test_unknown_receiver_is_4001() -> None:
    world = build()
    rid = world.cpo_a.call(
        "PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=("FR", "ZZZ")
    )
    world.net.run(T0)
    answer = world.cpo_a.answers[rid]
    assert (answer.status, answer.json()["status_code"]) == (200, 4001)
    assert "FR/ZZZ" in answer.json()["status_message"]
    assert not world.emsp.received[-1:] or world.emsp.received[-1].module != "locations"


def test_receiver_that_does_not_answer_in_time_is_4002() -> None:
    world = build()
    world.net.silent.add("emsp")
    rid = world.cpo_a.call("POST", "tokens", "SENDER", "/AA11/authorize", T0, body={}, to=EMSP)
    world.net.run(T0)
    assert rid not in world.cpo_a.answers
    assert world.hub.next_wakeup() == T0 + timedelta(seconds=10)
    world.net.wake(T0 + timedelta(seconds=9))
    assert rid not in world.cpo_a.answers
    world.net.wake(T0 + timedelta(seconds=10))
    assert _status(world, "cpo-a", rid) == 4002
    assert world.cpo_a.answers[rid].header("X-Request-ID") == rid
    # The answer that comes after the hub gave up is recorded, never relayed.
    late = world.net.hub_sent[-1]
    world.hub.on_response(late.request_id, world.emsp.handle(late.request, T0), T0 + timedelta(seconds=11))
    assert world.hub.truth.outcomes[-1].result == "late"
    assert world.hub.completed_responses() == []


def test_offline_receiver_is_4003_and_so_is_a_party_that_never_connected() -> None:
    world = build()
    world.net.down.add("emsp")
    first = world.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP)
    world.net.run(T0)
    second = world.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP)
    world.net.run(T0)
    assert _status(world, "cpo-a", first) == 4003  # the hub tried: connection refused
    assert _status(world, "cpo-a", second) == 4003  # known offline: not tried at all
    assert len([r for r in world.net.sent_to("emsp") if "/locations/" in r.url]) == 1

    planned = build(register=False)
    planned.cpo_a.register_with_hub(T0)
    planned.net.run(T0)
    rid = planned.cpo_a.call("PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP)
    planned.net.run(T0)
    assert _status(planned, "cpo-a", rid) == 4003
    assert "PLANNED" in planned.cpo_a.answers[rid].json()["status_message"]


def test_a_sender_cannot_speak_for_a_party_it_does_not_own() -> None:
    world = build()
    rid = world.cpo_a.call(
        "PUT", "locations", "RECEIVER", "/BE/CPB/L", T0, body=LOCATION, to=EMSP, sender=CPO_B
    )
    world.net.run(T0)
    answer = world.cpo_a.answers[rid]
    assert (answer.status, answer.json()["status_code"]) == (200, 2001)
    assert "BE/CPB" in answer.json()["status_message"]
    assert not [r for r in world.emsp.received if r.module == "locations"]
    assert world.hub.truth.refused[-1][1:3] == ("cpo-a", 2001)


@pytest.mark.parametrize("missing", ["to", "from"])
def test_strict_routing_needs_both_routing_headers(missing: str) -> None:
    world = build("routing-only")
    rid = world.cpo_a.call(
        "PUT", "locations", "RECEIVER", "/DE/CPA/LOC1", T0, body=LOCATION, to=EMSP, omit=missing
    )
    world.net.run(T0)
    answer = world.cpo_a.answers[rid]
    assert answer.json()["status_code"] == 2001 and f"OCPI-{missing}" in answer.json()["status_message"]


def test_paginated_get_link_points_at_the_hub_and_the_next_page_comes_through_it() -> None:
    world = build()
    world.cpo_a.objects["locations"] = [{"id": f"L{i:02d}"} for i in range(25)]
    rid = world.emsp.call("GET", "locations", "SENDER", "", T0, to=CPO_A)
    world.net.run(T0)
    answer = world.emsp.answers[rid]
    assert [item["id"] for item in answer.json()["data"]] == [f"L{i:02d}" for i in range(10)]
    assert (
        answer.header("Link")
        == '<http://hub.local/ocpi/2.2.1/locations/sender?offset=10&limit=10>; rel="next"'
    )
    assert answer.header("X-Total-Count") == "25"
    following = world.emsp.call("GET", "locations", "SENDER", "?offset=10&limit=10", T0, to=CPO_A)
    world.net.run(T0)
    assert world.net.sent_to("cpo-a")[-1].url == "http://cpo-a.local/ocpi/2.2.1/locations?offset=10&limit=10"
    assert world.emsp.answers[following].json()["data"][0]["id"] == "L10"


def test_command_response_url_points_at_the_hub_and_the_result_comes_back_through_it() -> None:
    world = build()
    body = {"response_url": "http://emsp.local/ocpi/2.2.1/commands/START_SESSION/7", "location_id": "LOC1"}
    world.emsp.call("POST", "commands", "RECEIVER", "/START_SESSION", T0, body=body, to=CPO_A)
    world.net.run(T0)
    got = world.cpo_a.received[-1]
    assert got.body["response_url"] == "http://hub.local/ocpi/2.2.1/commands/sender/START_SESSION/7"
    world.cpo_a.call(
        "POST", "commands", "SENDER", "/START_SESSION/7", T0, body={"result": "ACCEPTED"}, to=EMSP
    )
    world.net.run(T0)
    result = world.emsp.received[-1]
    assert (result.method, result.module, result.suffix, result.body) == (
        "POST",
        "commands",
        "/START_SESSION/7",
        {"result": "ACCEPTED"},
    )


def test_a_runtime_that_gives_up_waiting_gets_the_timeout_answer_at_once() -> None:
    world = build()
    world.net.silent.add("emsp")
    url = world.cpo_a.hub_endpoints[("tokens", "SENDER")] + "/AA11/authorize"
    headers = {
        "Authorization": f"Token {base64.b64encode(world.cpo_a.hub_token.encode()).decode()}",
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "CPA",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
        "X-Request-ID": "r1",
    }
    deferred = world.hub.handle(HttpRequest("POST", url, headers), T0)
    assert isinstance(deferred, Deferred)
    assert world.hub.take_response(deferred.deferred_id) is None
    world.hub.abort_deferred(deferred.deferred_id, T0 + timedelta(seconds=3))
    answer = world.hub.take_response(deferred.deferred_id)
    assert answer is not None and answer.json()["status_code"] == 4002
    assert answer.header("X-Request-ID") == "r1"


def test_a_runtime_that_times_calls_out_itself_is_not_overtaken_by_the_hubs_deadline() -> None:
    # The live runtime's scenario clock runs faster than the wall: it judges a call's time itself.
    world = build()
    world.hub.timeouts_by_runtime = True
    world.net.silent.add("emsp")
    rid = world.cpo_a.call("POST", "tokens", "SENDER", "/AA11/authorize", T0, body={}, to=EMSP)
    world.net.run(T0)
    assert world.hub.next_wakeup() is None  # no deadline of its own to wake for
    world.net.wake(T0 + timedelta(minutes=5))
    assert rid not in world.cpo_a.answers
    forward = _last_sent(world, "emsp").header("X-Request-ID")
    assert forward is not None
    world.hub.on_timeout(forward, T0 + timedelta(minutes=5))
    world.net.run(T0 + timedelta(minutes=5))
    assert _status(world, "cpo-a", rid) == 4002
    # The answer that still comes is recorded as late, and changes nothing for the sender.
    late = HttpResponse(200, {"Content-Type": "application/json"}, '{"status_code": 1000}')
    world.hub.on_response(forward, late, T0 + timedelta(minutes=6))
    world.net.run(T0 + timedelta(minutes=6))
    assert world.hub.truth.outcomes[-1].result == "late"
    assert _status(world, "cpo-a", rid) == 4002
