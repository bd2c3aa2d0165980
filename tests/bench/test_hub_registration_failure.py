"""A hub that never registered with the eMSP is named as such; the CPOs behind it, which cannot
start without it, are listed there rather than failed one by one as if the eMSP had refused them
(review9 M3: a hub that timed out its credentials POST showed as four CPO registration failures)."""

from __future__ import annotations

from world_helpers import simulated_world

from bench.hubs import EMSP_CONNECTION
from bench.world import registration_failures


def test_an_unregistered_hub_is_one_failure_naming_its_cpos() -> None:
    world = simulated_world("hub-roaming", hub_base_urls={"hub-eu": "http://hub-eu.hub.local/ocpi"})
    try:
        behind = sorted(cpo for cpo, hub in world.channels.items() if hub == "hub-eu")
        direct = sorted(cpo for cpo in world.cpos if cpo not in world.channels)
        assert behind and direct
        hub = world.hubs["hub-eu"]
        hub.truth.refused.extend(
            [
                (
                    "2026-03-02T07:00:10Z",
                    EMSP_CONNECTION,
                    3001,
                    "the party did not answer the hub's handshake call",
                )
            ]
            * 2
        )
        failed = {f.name: f for f in registration_failures(world)}  # nobody registered: nothing ran
        assert sorted(failed) == sorted(
            ["bench: hub-eu registered", *(f"bench: {c} registered" for c in direct)]
        )
        named = failed["bench: hub-eu registered"]
        assert (named.metric, named.passed) == ("hubs.hub-eu", False)
        assert named.actual == (
            "3001 the party did not answer the hub's handshake call (2 attempts); "
            f"not started behind it: {', '.join(behind)}"
        )
        hub.truth.registered.append(("2026-03-02T07:00:20Z", EMSP_CONNECTION))
        failed = {f.name: f for f in registration_failures(world)}
        assert sorted(failed) == sorted(f"bench: {c} registered" for c in [*behind, *direct])
    finally:
        world.emsp.db.engine.dispose()
