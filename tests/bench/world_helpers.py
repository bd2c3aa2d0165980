"""A built-in scenario's world with simulated endpoints, for tests that drive its parts directly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.overrides import Override
from bench.scenario import load_scenario
from bench.world import World, build_world


def simulated_world(name: str = "smoke", overrides: Sequence[Override] = (), **options: Any) -> World:
    """The world of built-in `name` (with `overrides`: --set), every party at its simulated URL;
    dispose of its eMSP's engine (`world.emsp.db.engine.dispose()`) when done."""
    scenario, base = load_scenario(name, overrides)
    urls = {c.id: f"http://{c.id}.local/ocpi" for c in scenario.cpos}
    return build_world(scenario, base, emsp_base_url="http://emsp.local/ocpi", cpo_base_urls=urls, **options)
