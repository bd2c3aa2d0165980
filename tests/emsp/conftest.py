"""Fixtures for the eMSP core tests (helpers live in emsp_helpers)."""

from __future__ import annotations

import pytest
from emsp_helpers import Client, FakePricer, register

from emsp.core import EmspCore, EmspSettings


@pytest.fixture
def pricer() -> FakePricer:
    return FakePricer()


@pytest.fixture
def core(pricer: FakePricer) -> EmspCore:
    return EmspCore(EmspSettings(), pricer=pricer)


@pytest.fixture
def cpo(core: EmspCore) -> Client:
    return register(core)
