"""Fixtures for the contract API: the whole service app over a core fed through OCPI.

`api` sends the admin bearer token on every request; `anonymous` sends none.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from emsp_helpers import T0, Client, FakePricer, register
from fastapi.testclient import TestClient

from emsp.core import EmspCore, EmspSettings
from emsp.service.app import create_service_app

ADMIN_TOKEN = "admin-secret"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def api_core() -> EmspCore:
    return EmspCore(EmspSettings(), pricer=FakePricer())


@pytest.fixture
def anonymous(api_core: EmspCore) -> Iterator[TestClient]:
    with TestClient(create_service_app(api_core, ADMIN_TOKEN, Clock())) as client:
        yield client


@pytest.fixture
def api(anonymous: TestClient) -> TestClient:
    anonymous.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    return anonymous


@pytest.fixture
def cpo(api_core: EmspCore) -> Client:
    return register(api_core)
