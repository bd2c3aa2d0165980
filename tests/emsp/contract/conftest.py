"""Fixtures for the contract API: the routers on `/api/v1` over a core fed through OCPI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from emsp_helpers import T0, Client, FakePricer, register
from fastapi import FastAPI
from fastapi.testclient import TestClient

from emsp.contract.routes import include_routers
from emsp.core import EmspCore, EmspSettings


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api_core() -> EmspCore:
    return EmspCore(EmspSettings(), pricer=FakePricer())


@pytest.fixture
def api(api_core: EmspCore, clock: Clock) -> Iterator[TestClient]:
    app = FastAPI()
    router = FastAPI()
    include_routers(router.router, api_core, clock)
    app.mount("/api/v1", router)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def cpo(api_core: EmspCore) -> Client:
    return register(api_core)
