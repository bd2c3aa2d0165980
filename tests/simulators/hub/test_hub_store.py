"""Store-and-forward under receiver outages: nothing lost, per-object order kept, duplicates only
where the persona resends after a timeout, and each one recorded in the hub's truth."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hub_world import EMSP, HUB, T0, World, build
from hypothesis import given, settings
from hypothesis import strategies as st

from emsp.timeutil import format_utc
from simulators.hub import HubPersona, Status, load_persona
from simulators.hub.store import ForwardStore

AGGREGATING = load_persona("aggregating")


def _persona(resend_on_timeout: bool) -> HubPersona:
    assert AGGREGATING.store_and_forward is not None
    saf = AGGREGATING.store_and_forward.model_copy(update={"resend_on_timeout": resend_on_timeout})
    return AGGREGATING.model_copy(update={"store_and_forward": saf})


def _push(world: World, seq: int, obj: int, now_s: float) -> str:
    """Object 0..2 are CPO A's locations, 3..5 CPO B's."""
    cpo = world.cpo_a if obj < 3 else world.cpo_b
    body = {"country_code": cpo.country_code, "party_id": cpo.party_id, "id": f"L{obj}", "seq": seq}
    at = T0 + timedelta(seconds=now_s)
    suffix = f"/{cpo.country_code}/{cpo.party_id}/L{obj}"
    return cpo.call("PUT", "locations", "RECEIVER", suffix, at, body=body, to=EMSP)


def _drain(world: World, now_s: float) -> None:
    """Let the hub retry until it has nothing left to do (receiver up and answering)."""
    world.net.down.clear()
    world.net.silent.clear()
    at = T0 + timedelta(seconds=now_s)
    world.net.wake(at)
    for _ in range(1000):
        wakeup = world.hub.next_wakeup()
        if wakeup is None:
            return
        at = max(at, wakeup)
        world.net.wake(at)
    raise AssertionError("the hub never settled")


def _delivered(world: World) -> list[tuple[str, int, str]]:
    return [
        (r.suffix, r.body["seq"], r.header("X-Correlation-ID") or "")
        for r in world.emsp.received
        if r.module == "locations"
    ]


def test_messages_for_an_unreachable_receiver_wait_and_arrive_in_order_once() -> None:
    world = build(AGGREGATING)
    world.net.down.add("emsp")
    answers = [_push(world, seq, seq % 2, 0) for seq in range(5)]
    world.net.run(T0)
    assert world.hub.registry["emsp"].status is Status.OFFLINE
    assert all(world.cpo_a.answers[rid].json()["status_code"] == 1000 for rid in answers)
    assert _delivered(world) == [] and world.hub.holds_messages()
    world.net.down.clear()
    retry = world.hub.next_wakeup()
    assert retry is not None and retry <= T0 + timedelta(seconds=2)  # a backoff step, not the probe's 30 s
    world.net.wake(retry)  # the head goes out as a probe; once answered, the rest follow at once
    assert [seq for _suffix, seq, _c in _delivered(world)] == [0, 1, 2, 3, 4]
    assert world.hub.registry["emsp"].status is Status.CONNECTED
    assert world.cpo_a.client_info["NL/EMS"] == "CONNECTED"
    assert world.hub.truth.resent == [] and world.hub.truth.dropped == []
    assert [(since, at) for since, at, _corr, _key in world.hub.truth.late] == [
        ("2026-03-02T08:00:00Z", format_utc(retry))
    ] * 5
    assert world.hub.next_wakeup() is None  # nothing left to retry, nobody offline to probe
    assert not world.hub.holds_messages()


def test_a_message_whose_answer_was_lost_is_sent_again_and_the_resend_recorded() -> None:
    world = build(AGGREGATING)
    world.net.lost.add("emsp")  # the eMSP takes the push; the connection breaks before its answer
    answer = _push(world, 0, 0, 0)
    world.net.run(T0)
    assert world.cpo_a.answers[answer].json()["status_code"] == 1000  # the hub holds it
    world.net.lost.clear()
    _drain(world, 1)
    assert [seq for _suffix, seq, _c in _delivered(world)] == [0, 0]  # the receiver has it twice
    assert [key for _at, _rid, key in world.hub.truth.resent] == ["locations:RECEIVER:DE/CPA/L0"]
    assert world.hub.truth.dropped == []


def test_routing_only_hub_stores_nothing_it_answers_4003() -> None:
    world = build("routing-only")
    world.net.down.add("emsp")
    rid = _push(world, 0, 0, 0)
    world.net.run(T0)
    assert world.cpo_a.answers[rid].json()["status_code"] == 4003
    _drain(world, 60)
    assert _delivered(world) == [] and world.hub.truth.stored == []


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 5)),
        st.tuples(st.sampled_from(["down", "up", "silent", "talk"]), st.just(0)),
        st.tuples(st.just("advance"), st.integers(1, 40)),
    ),
    max_size=30,
)


def _play(world: World, steps: list[tuple[str, int]]) -> tuple[list[str], float]:
    """Run the steps; return the correlation id of every message in the order the CPO sent them."""
    now_s, sent = 0.0, []
    for op, arg in steps:
        if op == "send":
            rid = _push(world, len(sent), arg, now_s)
            sent.append(f"corr-{rid}")  # request ids are per CPO ("cpo-a-4"): unique across both
            world.net.run(T0 + timedelta(seconds=now_s))
        elif op == "advance":
            now_s += arg
            world.net.wake(T0 + timedelta(seconds=now_s))
        elif op in ("down", "silent"):
            getattr(world.net, op).add("emsp")
        else:
            (world.net.down if op == "up" else world.net.silent).discard("emsp")
    return sent, now_s


@settings(max_examples=60, deadline=None)
@given(steps=STEPS.filter(lambda steps: all(op != "silent" for op, _ in steps)))
def test_outages_lose_nothing_duplicate_nothing_and_keep_order(steps: list[tuple[str, int]]) -> None:
    world = build(AGGREGATING)
    sent, now_s = _play(world, steps)
    _drain(world, now_s + 1)
    delivered = [corr for _suffix, _seq, corr in _delivered(world)]
    assert delivered == sent  # every message once, in the order accepted (so per object too)
    assert world.hub.truth.resent == [] and world.hub.truth.dropped == []


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, resend=st.booleans())
def test_timeouts_duplicate_only_where_the_persona_resends_and_each_resend_is_recorded(
    steps: list[tuple[str, int]], resend: bool
) -> None:
    world = build(_persona(resend))
    sent, now_s = _play(world, steps)
    _drain(world, now_s + 1)
    truth = world.hub.truth
    delivered = _delivered(world)
    copies = Counter(corr for _suffix, _seq, corr in delivered)
    request_corr = {hop.request_out: hop.correlation_id for hop in truth.hops}
    resent = Counter(request_corr[request_out] for _at, request_out, _key in truth.resent)
    if not resend:
        assert truth.resent == []
    dropped = {corr for _at, corr, _why in truth.dropped}
    for corr in sent:
        # A silent receiver took the message but its answer never came: a resend is a real copy.
        assert copies[corr] == 1 + resent[corr] or (corr in dropped and copies[corr] <= 1 + resent[corr])
        assert copies[corr] >= 1 or corr in dropped  # given up only after a timeout, and recorded
    firsts = list(dict.fromkeys(corr for _suffix, _seq, corr in delivered))
    assert firsts == [corr for corr in sent if corr in copies]  # first copies in the order accepted
    for obj in {suffix for suffix, _seq, _corr in delivered}:
        seqs = [seq for suffix, seq, _corr in delivered if suffix == obj]
        assert seqs == sorted(seqs)  # per object, never an older version after a newer one


def test_a_broadcast_reaches_an_unreachable_receiver_after_it_is_back() -> None:
    world = build(AGGREGATING)
    world.net.down.add("cpo-b")
    world.hub.set_status("cpo-b", Status.OFFLINE, T0)  # the hub already knows it is gone
    token = {"country_code": "NL", "party_id": "EMS", "uid": "AA11", "valid": True}
    rid = world.emsp.call("PUT", "tokens", "RECEIVER", "/NL/EMS/AA11", T0, body=token, to=HUB)
    world.net.run(T0)
    assert world.emsp.answers[rid].json()["status_code"] == 1000
    assert [r.body for r in world.cpo_a.received if r.module == "tokens"] == [token]
    assert not [r for r in world.cpo_b.received if r.module == "tokens"]
    _drain(world, 5)
    [got] = [r for r in world.cpo_b.received if r.module == "tokens"]
    assert got.body == token and got.header("OCPI-from-party-id") == "HUB"
    assert got.header("X-Correlation-ID") == f"corr-{rid}"


def test_same_traffic_same_hops_and_truth() -> None:
    steps = [
        ("send", 0),
        ("down", 0),
        ("send", 4),
        ("silent", 0),
        ("send", 0),
        ("advance", 11),
        ("up", 0),
        ("talk", 0),
        ("send", 1),
        ("advance", 3),
    ]

    def run() -> tuple[list[tuple[str, str, dict[str, str], str | None]], object]:
        world = build(AGGREGATING)
        _, now_s = _play(world, steps)
        _drain(world, now_s + 1)
        sent = [(o.request_id, o.request.url, o.request.headers, o.request.body) for o in world.net.hub_sent]
        return sent, world.hub.truth

    assert run() == run()


def _authorize(world: World, now_s: float) -> str:
    """CPO A asks the eMSP to authorize a token in real time (tokens Sender, POST .../authorize)."""
    at = T0 + timedelta(seconds=now_s)
    return world.cpo_a.call("POST", "tokens", "SENDER", "/TOK1/authorize", at, body={}, to=EMSP)


@pytest.mark.parametrize(
    ("outage", "code"),
    [
        ("down", 4003),  # the eMSP refuses connections: receiver offline
        ("silent", 4002),  # the eMSP takes the call and never answers: timeout
    ],
)
def test_a_real_time_authorization_is_never_held_the_hub_answers_its_error_at_once(
    outage: str, code: int
) -> None:
    world = build(AGGREGATING)  # a store-and-forward hub: it holds pushes, never this
    getattr(world.net, outage).add("emsp")
    rid = _authorize(world, 0)
    world.net.run(T0)
    for _ in range(5):  # let a silent receiver's timeout pass
        wakeup = world.hub.next_wakeup()
        if wakeup is None or rid in world.cpo_a.answers:
            break
        world.net.wake(wakeup)
    assert world.cpo_a.answers[rid].json()["status_code"] == code
    assert world.hub.truth.stored == [] and not world.hub.holds_messages()
    _drain(world, 3600)
    # Never forwarded stale: a silent eMSP got the one call that timed out, no resend.
    assert len([r for r in world.emsp.received if r.module == "tokens"]) == (outage == "silent")
    if outage == "down":  # a second call once the eMSP is back goes straight through
        rid = _authorize(world, 3601)
        world.net.run(T0 + timedelta(seconds=3601))
        assert [r.module for r in world.emsp.received if r.module == "tokens"] == ["tokens"]


@pytest.mark.parametrize(
    ("method", "module", "interface", "stored"),
    [
        ("PUT", "locations", "RECEIVER", True),
        ("POST", "cdrs", "RECEIVER", True),
        ("PUT", "tokens", "RECEIVER", True),  # a token push to the CPO can wait
        ("POST", "tokens", "SENDER", False),  # real-time authorize
        ("PUT", "sessions", "SENDER", False),  # charging preferences
        ("POST", "commands", "RECEIVER", False),  # a command to the CPO
        ("PUT", "chargingprofiles", "RECEIVER", False),
        ("GET", "locations", "SENDER", False),
    ],
)
def test_only_pushes_are_stored(method: str, module: str, interface: str, stored: bool) -> None:
    saf = AGGREGATING.store_and_forward
    assert saf is not None
    all_modules = saf.model_copy(
        update={"modules": ("locations", "tokens", "sessions", "cdrs", "commands", "chargingprofiles")}
    )
    assert ForwardStore(all_modules).takes(method, module, interface) is stored
