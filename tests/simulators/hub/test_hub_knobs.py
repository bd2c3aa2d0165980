"""Hub persona knobs the other hub tests leave at one value: each set two ways, its effect shown.

(routing_headers, broadcast, page_cap, hub_ids, session_patch, resend_on_timeout and
fee_per_session have their own tests in test_hub_persona.py, test_hub_routing.py, test_hub_store.py.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hub_world import EMSP, T0, World, build

from simulators.hub import HubPersona, Status, load_persona

AGGREGATING = load_persona("aggregating")


def _with(**store: Any) -> HubPersona:
    assert AGGREGATING.store_and_forward is not None
    saf = AGGREGATING.store_and_forward.model_copy(update=store)
    return AGGREGATING.model_copy(update={"store_and_forward": saf})


def _push(world: World, module: str = "locations", at_s: float = 0) -> str:
    cpo = world.cpo_a
    body = {"country_code": cpo.country_code, "party_id": cpo.party_id, "id": "L1"}
    suffix = f"/{cpo.country_code}/{cpo.party_id}/L1"
    return cpo.call("PUT", module, "RECEIVER", suffix, T0 + timedelta(seconds=at_s), body=body, to=EMSP)


@pytest.mark.parametrize("timeout_s", [3, 10])
def test_forward_timeout_s_is_when_a_silent_receiver_costs_the_sender_4002(timeout_s: float) -> None:
    world = build(AGGREGATING.model_copy(update={"forward_timeout_s": timeout_s, "store_and_forward": None}))
    world.net.silent.add("emsp")
    rid = _push(world)
    world.net.run(T0)
    assert rid not in world.cpo_a.answers  # the hub waits for the receiver
    wakeup = world.hub.next_wakeup()
    assert wakeup == T0 + timedelta(seconds=timeout_s)
    world.net.wake(wakeup)
    assert world.cpo_a.answers[rid].json()["status_code"] == 4002


@pytest.mark.parametrize("probe_s", [5, 30])
def test_offline_probe_s_is_how_often_an_offline_party_is_probed(probe_s: float) -> None:
    world = build(AGGREGATING.model_copy(update={"offline_probe_s": probe_s}))
    world.hub.set_status("cpo-b", Status.OFFLINE, T0)
    world.net.down.add("cpo-b")
    world.net.run(T0)
    assert world.hub.next_wakeup() == T0 + timedelta(seconds=probe_s)
    before = len(world.net.sent_to("cpo-b"))
    world.net.wake(T0 + timedelta(seconds=probe_s))
    probes = world.net.sent_to("cpo-b")[before:]
    assert [p.method for p in probes] == ["GET"] and probes[0].url.endswith("/versions")


@pytest.mark.parametrize(("modules", "stored"), [(("locations",), True), (("cdrs",), False)])
def test_store_and_forward_modules_are_the_only_ones_held(modules: tuple[str, ...], stored: bool) -> None:
    world = build(_with(modules=modules))
    world.net.down.add("emsp")
    rid = _push(world)
    world.net.run(T0)
    code = world.cpo_a.answers[rid].json()["status_code"]
    assert (code == 1000) is stored and (code == 4003) is not stored
    assert bool(world.hub.truth.stored) is stored


@pytest.mark.parametrize("first_s", [1, 7])
def test_backoff_s_is_the_wait_before_the_first_retry(first_s: float) -> None:
    world = build(_with(backoff_s=(first_s, 60)))
    world.net.down.add("emsp")
    _push(world)
    world.net.run(T0)
    assert world.hub.next_wakeup() == T0 + timedelta(seconds=first_s)


@pytest.mark.parametrize("attempts", [2, None])
def test_max_attempts_gives_a_message_up_and_records_it(attempts: int | None) -> None:
    world = build(_with(backoff_s=(1,), max_attempts=attempts))
    world.net.down.add("emsp")
    _push(world)
    world.net.run(T0)
    at = T0
    for _ in range(6):
        wakeup = world.hub.next_wakeup()
        if wakeup is None:
            break
        at = max(at, wakeup)
        world.net.wake(at)
    dropped = world.hub.truth.dropped
    assert bool(dropped) is (attempts is not None)
    if attempts is None:
        assert world.hub.truth.stored  # still held, still retried


@pytest.mark.parametrize("latency_ms", [0, 80])
def test_added_latency_ms_is_what_the_runtime_adds_to_every_hop(latency_ms: int) -> None:
    world = build(AGGREGATING.model_copy(update={"added_latency_ms": latency_ms}))
    assert world.hub.added_latency == timedelta(milliseconds=latency_ms)  # the sim runtime adds it per hop
