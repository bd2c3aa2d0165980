"""Hostile input to the contract API: a clear 4xx `{"detail"}`, never a 500, never an echo of the input;
and an OpenAPI document that lists every status an operation can answer (found by schemathesis)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from emsp.contract.app import MAX_BODY_BYTES

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "where"),
    [
        # a JSON \ud800 escape: the framework's 422 echoed it and could not encode itself (500)
        ("POST", "/api/v1/tokens", b'{"uid": "\\ud800", "contract_id": "C1"}', 422, ["body", "uid"]),
        ("POST", "/api/v1/partners", b'{"id": "\\udfff", "token_a": "t", "parties": []}', 422, None),
        # a cursor beyond BIGINT overflowed the database driver (500)
        ("GET", "/api/v1/events?after=" + "9" * 30, None, 422, ["query", "after"]),
        ("GET", f"/api/v1/events?after={2**63}", None, 422, ["query", "after"]),
        # a number is not an RFC 3339 date-time (pydantic read it as seconds since 1970)
        ("GET", "/api/v1/sessions?date_to=0.5", None, 422, ["query", "date_to"]),
        ("GET", "/api/v1/cdrs?date_from=1700000000", None, 422, ["query", "date_from"]),
        ("GET", "/api/v1/invoice-lines?date_from=-1", None, 422, ["query", "date_from"]),
    ],
)
def test_bad_input_is_a_4xx_with_detail(
    api: TestClient, method: str, path: str, body: bytes | None, status: int, where: list[str] | None
) -> None:
    resp = api.request(method, path, content=body, headers=JSON)
    assert resp.status_code == status, resp.text
    detail = resp.json()["detail"]
    assert isinstance(detail, list) and all("input" not in e for e in detail)
    if where is not None:
        assert [e["loc"] for e in detail] == [where]


def test_valid_dates_and_cursors_still_pass(api: TestClient) -> None:
    assert api.get("/api/v1/sessions?date_from=2026-03-01T00:00:00Z").status_code == 200
    assert api.get(f"/api/v1/events?after={2**63 - 1}").json() == {"events": [], "next_cursor": 2**63 - 1}


def test_a_422_does_not_echo_what_was_sent(api: TestClient) -> None:
    secret = "s3cret-token-a-" + "x" * 100_000
    resp = api.post("/api/v1/partners", json={"id": "p", "token_a": secret, "parties": []})
    assert resp.status_code == 422
    assert "s3cret" not in resp.text and len(resp.content) < 2_000


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
def test_a_body_above_the_limit_is_413_before_any_endpoint(api: TestClient, declared: bool) -> None:
    payload = b'{"uid": "' + b"a" * MAX_BODY_BYTES + b'"}'
    if declared:
        resp = api.post("/api/v1/tokens", content=payload, headers=JSON)
    else:  # chunked: no Content-Length, the limit must hold while it streams

        def chunks():  # type: ignore[no-untyped-def]
            for i in range(0, len(payload), 65536):
                yield payload[i : i + 65536]

        resp = api.post("/api/v1/tokens", content=chunks(), headers=JSON)
    assert resp.status_code == 413
    assert "larger than" in resp.json()["detail"]
    assert api.get("/api/v1/tokens").json()["total"] == 0


def test_a_body_that_is_not_utf8_is_a_documented_400(api: TestClient) -> None:
    resp = api.post("/api/v1/tokens", content=b'{"uid": "\xff\xfe"}', headers=JSON)
    assert resp.status_code == 400 and isinstance(resp.json()["detail"], str)


def test_a_body_under_the_limit_reaches_the_endpoint(api: TestClient) -> None:
    resp = api.post("/api/v1/tokens", json={"uid": "RFID-1", "contract_id": "NL-EMS-C00000001-X"})
    assert resp.status_code == 201


def test_openapi_documents_every_status_an_operation_answers(anonymous: TestClient) -> None:
    spec = anonymous.get("/api/v1/openapi.json").json()
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            statuses = op["responses"]
            public = path in ("/health/live", "/health/ready")  # probes: no token wanted
            assert ("401" in statuses) != public, (method, path)
            for code in ("400", "413", "422") if public else ("400", "401", "413", "422"):
                schema = statuses[code]["content"]["application/json"]["schema"]
                assert schema == error, (method, path, code)
            if "{" in path or path == "/quotes":  # one object by key: may be unknown
                assert "404" in statuses, (method, path)
    assert "409" in spec["paths"]["/tokens"]["post"]["responses"]
    assert "409" in spec["paths"]["/partners"]["post"]["responses"]
    date_to = next(p for p in spec["paths"]["/sessions"]["get"]["parameters"] if p["name"] == "date_to")
    assert {"type": "string", "format": "date-time"} in date_to["schema"]["anyOf"]  # still documented as such
