"""Every contract route wants the admin bearer token, and all of them are in the OpenAPI document."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

ROUTES = [
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/api/v1/tokens/RFID-001"),
    ("POST", "/api/v1/tokens/RFID-001/block"),
    ("POST", "/api/v1/tokens/RFID-001/unblock"),
    ("GET", "/api/v1/drivers/C-1"),
    ("GET", "/api/v1/sessions"),
    ("GET", "/api/v1/sessions/DE/CPA/S1"),
    ("GET", "/api/v1/cdrs"),
    ("GET", "/api/v1/cdrs/DE/CPA/C1"),
    ("GET", "/api/v1/invoice-lines"),
    ("GET", "/api/v1/invoice-lines/DE/CPA/C1"),
    ("POST", "/api/v1/quotes"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Token admin-secret", "Bearer "])
def test_without_the_admin_token_every_route_is_401(
    anonymous: TestClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    resp = anonymous.request(method, path, headers=headers, json={})
    assert resp.status_code == 401, resp.text
    assert resp.json()["detail"] == "missing or wrong bearer token"


def test_every_route_is_in_the_openapi_document(api: TestClient) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    documented = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    templates = {
        "/api/v1/tokens/RFID-001": "/tokens/{uid}",
        "/api/v1/tokens/RFID-001/block": "/tokens/{uid}/block",
        "/api/v1/tokens/RFID-001/unblock": "/tokens/{uid}/unblock",
        "/api/v1/drivers/C-1": "/drivers/{contract_id}",
        "/api/v1/sessions/DE/CPA/S1": "/sessions/{country_code}/{party_id}/{session_id}",
        "/api/v1/cdrs/DE/CPA/C1": "/cdrs/{country_code}/{party_id}/{cdr_id}",
        "/api/v1/invoice-lines/DE/CPA/C1": "/invoice-lines/{country_code}/{party_id}/{cdr_id}",
    }
    for method, path in ROUTES:
        assert (method, templates.get(path, path.removeprefix("/api/v1"))) in documented
