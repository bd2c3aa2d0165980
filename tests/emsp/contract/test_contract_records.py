"""Sessions, CDRs and invoice lines through `/api/v1`: filters, pagination edges, get one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import Client, V, cdr, location, period, register, session, tariff
from fastapi.testclient import TestClient

from emsp.core import EmspCore


def push(cpo: Client, module: str, obj: dict[str, Any]) -> None:
    path = f"{V}/{module}/{obj['country_code']}/{obj['party_id']}/{obj['id']}"
    method = "POST" if module == "cdrs" else "PUT"
    url = f"{V}/cdrs" if module == "cdrs" else path
    resp = cpo.call(method, url, obj)
    # HTTP 200 also carries a refusal (2001, status_codes): the OCPI status must say success too.
    assert resp.status in (200, 201) and resp.json()["status_code"] == 1000, resp.body


def test_push_fails_on_a_refusal_answered_with_http_200(cpo: Client) -> None:
    """The CDR that ended before its start (ef02e1b) was 200/2001, which push() let through."""
    with pytest.raises(AssertionError, match="2001"):
        push(cpo, "cdrs", cdr("BAD", end_date_time="2025-03-01T08:00:00Z"))


@pytest.fixture
def filled(cpo: Client) -> Client:
    """Three sessions (two completed with CDRs) for two contracts on two days."""
    push(cpo, "locations", location())
    push(cpo, "tariffs", tariff())
    push(cpo, "sessions", session("S1", status="COMPLETED", kwh=Decimal("10.5")))
    token2 = {**session()["cdr_token"], "uid": "RFID2", "contract_id": "NL-EMS-C00000002-X"}
    push(cpo, "sessions", session("S2", cdr_token=token2, start_date_time="2025-03-02T09:00:00Z"))
    push(
        cpo,
        "sessions",
        session("S3", status="COMPLETED", start_date_time="2025-03-02T12:00:00Z", total_cost={"excl_vat": 2}),
    )
    push(cpo, "cdrs", cdr("CDR1"))
    day2 = {"start_date_time": "2025-03-02T12:00:00Z", "end_date_time": "2025-03-02T13:00:00Z"}
    push(
        cpo,
        "cdrs",
        cdr("CDR3", session_id="S3", charging_periods=[period(day2["start_date_time"], "10.5")], **day2),
    )
    return cpo


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("", ["S1", "S2", "S3"]),
        ("?status=completed", ["S1", "S3"]),
        ("?status=ACTIVE", ["S2"]),
        ("?partner=cpo1", ["S1", "S2", "S3"]),
        ("?partner=cpo9", []),
        ("?country_code=de&party_id=cpa", ["S1", "S2", "S3"]),
        ("?party_id=XXX", []),
        ("?contract_id=NL-EMS-C00000002-X", ["S2"]),
        ("?contract_id=nl-ems-c00000002-x", ["S2"]),  # eMA ids are CiStrings
        ("?date_from=2025-03-02T00:00:00Z", ["S2", "S3"]),
        ("?date_to=2025-03-02T09:00:00Z", ["S1"]),  # exclusive
        ("?date_from=2025-03-02T09:00:00%2B00:00&date_to=2025-03-02T10:00:00Z", ["S2"]),
    ],
)
def test_session_filters(api: TestClient, filled: Client, query: str, ids: list[str]) -> None:
    page = api.get(f"/api/v1/sessions{query}").json()
    assert [s["id"] for s in page["items"]] == ids
    assert page["total"] == len(ids)


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("", ["CDR1", "CDR3"]),
        ("?session_id=S3", ["CDR3"]),
        ("?contract_id=NL-EMS-C00000001-X", ["CDR1", "CDR3"]),
        ("?contract_id=nl-ems-c00000001-x", ["CDR1", "CDR3"]),
        ("?date_from=2025-03-02T00:00:00Z", ["CDR3"]),
        ("?partner=other", []),
    ],
)
def test_cdr_and_invoice_line_filters(api: TestClient, filled: Client, query: str, ids: list[str]) -> None:
    assert [c["id"] for c in api.get(f"/api/v1/cdrs{query}").json()["items"]] == ids
    if "session_id" not in query and "date" not in query:  # lines filter on their own time
        lines = api.get(f"/api/v1/invoice-lines{query}").json()["items"]
        assert [line["cdr_id"] for line in lines] == ids


@pytest.mark.parametrize(
    ("query", "ids", "next_offset"),
    [
        ("?limit=1", ["S1"], 1),
        ("?limit=2&offset=1", ["S2", "S3"], None),
        ("?limit=2&offset=2", ["S3"], None),
        ("?offset=3", [], None),  # just past the end: empty page, total still counts all
        ("?offset=1000", [], None),
        ("?limit=1000", ["S1", "S2", "S3"], None),
    ],
)
def test_pagination_edges(
    api: TestClient, filled: Client, query: str, ids: list[str], next_offset: int | None
) -> None:
    page = api.get(f"/api/v1/sessions{query}").json()
    assert [s["id"] for s in page["items"]] == ids
    assert page["total"] == 3 and page["next_offset"] == next_offset


PAGE_ERRORS = ["limit=0", "limit=1001", "limit=x", "offset=-1", "offset=99999999999999999999"]
DATE_ERRORS = [
    "date_from=yesterday",
    "date_from=2025-03-01T00:00:00",  # no offset
    "date_from=0001-01-01T00:00:00%2B05:00",  # overflows in UTC
    "date_to=9999-12-31T23:59:59-05:00",
    "date_from=2025-03-02T00:00:00Z&date_to=2025-03-01T00:00:00Z",
]


@pytest.mark.parametrize(
    ("resource", "query"),
    [(r, q) for r in ("sessions", "cdrs", "invoice-lines", "tokens") for q in PAGE_ERRORS]
    + [(r, q) for r in ("sessions", "cdrs", "invoice-lines") for q in DATE_ERRORS],
)
def test_bad_list_parameters_are_422(api: TestClient, resource: str, query: str) -> None:
    resp = api.get(f"/api/v1/{resource}?{query}")
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]


def test_get_one_session_cdr_and_line(api: TestClient, filled: Client) -> None:
    s1 = api.get("/api/v1/sessions/de/cpa/S1").json()  # parties are case-insensitive
    assert s1["status"] == "COMPLETED" and s1["kwh"] == "10.5" and s1["total_cost"] is None
    s3 = api.get("/api/v1/sessions/DE/CPA/S3").json()
    assert s3["total_cost"] == {"excl_vat": "2", "incl_vat": None, "currency": "EUR"}
    c1 = api.get("/api/v1/cdrs/DE/CPA/CDR1").json()
    assert c1["total_cost"] == {"excl_vat": "3.15", "incl_vat": "3.81", "currency": "EUR"}
    assert c1["total_energy_kwh"] == "10.5" and c1["session_id"] == "S1"
    line = api.get("/api/v1/invoice-lines/DE/CPA/CDR1").json()
    assert line["amount"] == {"excl_vat": "3.15", "incl_vat": "3.81", "currency": "EUR"}  # FakePricer
    assert line["cpo_amount"]["excl_vat"] == "3.15" and line["delta_excl_vat"] == "0.00"
    assert line["tariff_id"] == "TAR1" and line["energy_kwh"] == "10.5"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sessions/DE/CPA/NOPE",
        "/api/v1/sessions/NL/CPA/S1",
        "/api/v1/cdrs/DE/CPA/S1",
        "/api/v1/invoice-lines/DE/CPB/CDR1",
        "/api/v1/cdrs/DE/CPA/" + "x" * 300,
    ],
)
def test_unknown_objects_are_404(api: TestClient, filled: Client, path: str) -> None:
    resp = api.get(path)
    assert resp.status_code == 404 and "not found" in resp.json()["detail"]


def test_same_ids_from_two_parties_stay_apart(api: TestClient, api_core: EmspCore, filled: Client) -> None:
    other = register(api_core, "cpo2", "token-A-cpo2", party=("DE", "CPB"))
    push(other, "locations", {**location(), "party_id": "CPB"})
    push(other, "cdrs", {**cdr("CDR1"), "party_id": "CPB", "total_energy": Decimal("7")})
    lines = api.get("/api/v1/invoice-lines").json()["items"]
    assert sorted((x["party_id"], x["cdr_id"]) for x in lines) == [
        ("CPA", "CDR1"),
        ("CPA", "CDR3"),
        ("CPB", "CDR1"),
    ]
    assert api.get("/api/v1/invoice-lines/DE/CPB/CDR1").json()["energy_kwh"] == "7"
    assert api.get("/api/v1/invoice-lines?partner=cpo2").json()["total"] == 1
