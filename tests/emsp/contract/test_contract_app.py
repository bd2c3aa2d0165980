"""The contract API skeleton: admin-token auth on every router, OpenAPI, docs, health."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emsp_helpers import T0, FakePricer
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from emsp.contract.app import ROUTERS, create_contract_app
from emsp.core import EmspCore, EmspSettings
from emsp.service.app import create_service_app

ADMIN = {"Authorization": "Bearer admin-secret"}


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(base_url="http://testserver/ocpi"), pricer=FakePricer())


@pytest.fixture
def client(core: EmspCore) -> Iterator[TestClient]:
    with TestClient(create_service_app(core, "admin-secret", lambda: T0)) as c:
        yield c


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Token admin-secret"},
        {"Authorization": "Bearer"},
    ],
)
def test_every_endpoint_wants_the_admin_bearer_token(client: TestClient, headers: dict[str, str]) -> None:
    resp = client.get("/api/v1/health", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


def test_health_answers_ok_when_the_database_is_reachable(client: TestClient) -> None:
    resp = client.get("/api/v1/health", headers=ADMIN)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "database": "ok", "detail": None}


def test_health_answers_503_when_the_database_is_not(
    core: EmspCore, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(core.db.engine, "connect", broken)
    resp = client.get("/api/v1/health", headers=ADMIN)
    assert resp.status_code == 503
    assert resp.json()["database"] == "unreachable"


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/health" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text


def test_ocpi_and_metrics_still_served_beside_the_contract(client: TestClient) -> None:
    assert client.get("/ocpi/versions").status_code == 401  # OCPI auth, OCPI envelope
    assert client.get("/ocpi/versions").json()["status_code"] == 2000
    assert "emsp_ocpi_requests_total" in client.get("/metrics").text


def test_routers_are_included_with_the_auth_dependency(core: EmspCore) -> None:
    def make_router(_core: EmspCore) -> APIRouter:
        router = APIRouter()

        @router.get("/ping")
        async def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return router

    app = create_contract_app(core, "admin-secret", lambda: T0, routers=[*ROUTERS, make_router])
    with TestClient(app) as c:
        assert c.get("/ping").status_code == 401
        assert c.get("/ping", headers=ADMIN).json() == {"pong": "yes"}


def test_an_empty_admin_token_is_refused(core: EmspCore) -> None:
    with pytest.raises(ValueError, match="admin token"):
        create_contract_app(core, "", lambda: T0)
