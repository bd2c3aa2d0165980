"""The bench's own eMSP keys its credentials tokens where real sockets reach it (`live`), and keeps them
unkeyed, deterministic per seed, where every party is simulated (`sim`)."""

from __future__ import annotations

import pytest
from world_helpers import simulated_world


@pytest.mark.parametrize(("keyed", "secret_set"), [(False, False), (True, True)])
def test_the_in_run_emsp_keys_its_tokens_only_when_asked(keyed: bool, secret_set: bool) -> None:
    world = simulated_world("smoke", keyed_tokens=keyed)
    try:
        assert (world.emsp.settings.token_secret is not None) is secret_set
    finally:
        world.emsp.db.engine.dispose()
