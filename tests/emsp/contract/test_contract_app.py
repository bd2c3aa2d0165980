"""The contract API skeleton: admin-token auth on every router, OpenAPI, docs, health."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emsp_helpers import T0, Client, FakePricer
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
    assert "emsp_ocpi_requests_total" in client.get("/metrics", headers=ADMIN).text


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


# ---- operations: what a scraper, a load balancer and an operator meet


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "admin-secret"}]
)
def test_metrics_name_partners_so_they_want_the_admin_token(
    client: TestClient, headers: dict[str, str]
) -> None:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    assert "emsp_" not in resp.text


def test_a_configured_metrics_token_opens_metrics_and_nothing_else(core: EmspCore) -> None:
    app = create_service_app(core, "admin-secret", lambda: T0, metrics_token="scrape-me")
    with TestClient(app) as c:
        scraper = {"Authorization": "Bearer scrape-me"}
        assert "emsp_ocpi_requests_total" in c.get("/metrics", headers=scraper).text
        assert c.get("/metrics", headers=ADMIN).status_code == 401  # one token per door
        assert c.get("/api/v1/partners", headers=scraper).status_code == 401


def test_liveness_and_readiness_need_no_token_and_reveal_nothing(
    core: EmspCore, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/api/v1/health/live").json() == {"status": "ok"}
    ready = client.get("/api/v1/health/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})

    def broken() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection to db.internal:5432 refused"))

    monkeypatch.setattr(core.db.engine, "connect", broken)
    down = client.get("/api/v1/health/ready")
    assert (down.status_code, down.json()) == (503, {"status": "unavailable"})  # no host, no error
    assert client.get("/api/v1/health/live").status_code == 200  # the process itself is alive
    detailed = client.get("/api/v1/health", headers=ADMIN)  # the operator sees why
    assert detailed.status_code == 503 and "refused" in detailed.json()["detail"]


def test_adding_a_partner_that_exists_is_409_and_a_put_replaces_it(client: TestClient) -> None:
    first = {"id": "cpo-x", "token_a": "t-x", "parties": [{"country_code": "DE", "party_id": "CPX",
                                                          "role": "CPO"}]}  # fmt: skip
    other = {**first, "token_a": "t-y", "parties": [{"country_code": "FR", "party_id": "CPY", "role": "CPO"}]}
    assert client.post("/api/v1/partners", json=first, headers=ADMIN).status_code == 201
    again = client.post("/api/v1/partners", json=other, headers=ADMIN)
    assert again.status_code == 409 and "PUT /partners/cpo-x" in again.json()["detail"]
    kept = client.get("/api/v1/partners/cpo-x", headers=ADMIN).json()
    assert kept["parties"] == [{"country_code": "DE", "party_id": "CPX", "role": "CPO"}]  # untouched
    replaced = client.put("/api/v1/partners/cpo-x", json=other, headers=ADMIN)
    assert replaced.status_code == 200
    assert replaced.json()["parties"] == [{"country_code": "FR", "party_id": "CPY", "role": "CPO"}]
    assert (
        client.put("/api/v1/partners/nobody", json={**other, "id": "nobody"}, headers=ADMIN).status_code
        == 404
    )
    assert client.put("/api/v1/partners/cpo-z", json=other, headers=ADMIN).status_code == 422
    assert client.get("/api/v1/partners/nobody", headers=ADMIN).status_code == 404  # PUT created nothing


def test_an_operator_starts_a_catch_up_pull(api: TestClient, cpo: Client) -> None:
    started = api.post("/api/v1/partners/cpo1/pull")
    assert started.status_code == 202
    # cpo1's Sender lists its locations only (emsp_helpers.CPO_ENDPOINTS): one pull
    assert [run.split(":")[:2] for run in started.json()["started"]] == [["cpo1", "locations"]]
    assert api.post("/api/v1/partners/nobody/pull").status_code == 404
