"""Acceptance: an OCPI 2.2.1 CPO written from the spec alone, against the served eMSP over HTTP.

The CPO side here is plain httpx plus a tiny versions/details/Tokens-receiver server; it does not
use `simulators/cpo`. It registers with token A, pushes every Location, Tariff, Session and CDR
example of the 2.2.1 spec (`spec_examples/`: the spec's examples re-expressed with our own values,
for the registered party), authorizes tokens issued through `/api/v1`, and finds every CDR as an
invoice line through `/api/v1`. Deviations of the fixtures from the spec's examples, and why, are
listed in `spec_examples/README.md`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from emsp.core import EmspCore, EmspSettings
from emsp.service.app import create_service_app
from emsp.storage.tables import PartnerRow
from emsp.wire import HttpResponse

pytestmark = pytest.mark.xdist_group("live")  # real sockets: keep off the other worker's live tests

EXAMPLES = Path(__file__).parent / "spec_examples"
# The 2.3.0 examples carry the spec's own last_updated values, up to 2029, and the eMSP refuses one
# more than a day ahead of its clock: its clock here runs on from a time after them.
_AHEAD = datetime(2030, 1, 1, tzinfo=UTC) - datetime.now(UTC)


def emsp_clock() -> datetime:
    return datetime.now(UTC) + _AHEAD


TOKEN_A, TOKEN_B = "e2e-token-a", "e2e-token-b"
ADMIN = {"Authorization": "Bearer e2e-admin"}
PARTY = ("DE", "CPA")
DRIVER = {"uid": "E2E-RFID-1", "contract_id": "NL-EMS-C00000001-X", "whitelist": "ALLOWED"}


def ocpi_auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def ok(data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": 1000, "timestamp": datetime.now(UTC).isoformat()}
    if data is not None:
        body["data"] = data
    return body


def load(kind: str, name: str) -> Any:
    """A fixture, with the driver's token filled in."""
    text = (EXAMPLES / kind / f"{name}.json").read_text()
    text = text.replace("{{TOKEN_UID}}", DRIVER["uid"]).replace("{{CONTRACT_ID}}", DRIVER["contract_id"])
    return json.loads(text)


def with_token_owner(obj: dict[str, Any]) -> dict[str, Any]:
    """CdrToken.country_code/party_id are required (mod_cdrs CdrToken, card. 1); the examples omit them."""
    return {**obj, "cdr_token": {"country_code": "NL", "party_id": "EMS", **obj["cdr_token"]}}


class Served:
    """uvicorn on a socket bound to port 0 (tests never pick ports), in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def cpo_app(seen: list[tuple[str, str, Any]], base: Callable[[], str]) -> FastAPI:
    """The CPO's own OCPI endpoints the eMSP calls: versions, 2.2.1 details, Tokens receiver."""
    app = FastAPI()

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization") == ocpi_auth(TOKEN_B)["Authorization"]

    @app.get("/ocpi/versions")
    async def versions(request: Request) -> dict[str, Any]:
        seen.append(("GET", "versions", authorized(request)))
        return ok([{"version": "2.2.1", "url": f"{base()}/ocpi/2.2.1"}])

    @app.get("/ocpi/2.2.1")
    async def details(request: Request) -> dict[str, Any]:
        seen.append(("GET", "details", authorized(request)))
        endpoints = [
            {"identifier": "credentials", "role": "RECEIVER", "url": f"{base()}/ocpi/2.2.1/credentials"},
            {"identifier": "tokens", "role": "RECEIVER", "url": f"{base()}/ocpi/2.2.1/tokens"},
        ]
        return ok({"version": "2.2.1", "endpoints": endpoints})

    @app.put("/ocpi/2.2.1/tokens/{country_code}/{party_id}/{uid}")
    async def token_put(request: Request, country_code: str, party_id: str, uid: str) -> dict[str, Any]:
        seen.append(("PUT", f"tokens/{country_code}/{party_id}/{uid}", await request.json()))
        return ok()

    return app


def start_pump(app: FastAPI, core: EmspCore) -> None:
    """Send the eMSP's outbound calls from its own event loop (the core is single-threaded)."""

    async def pump() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            while True:
                for out in core.pending_requests():
                    r = out.request
                    try:
                        got = await client.request(r.method, r.url, headers=r.headers, content=r.body)
                        answer = HttpResponse(got.status_code, dict(got.headers), got.text)
                    except httpx.HTTPError as exc:
                        answer = HttpResponse(599, {}, str(exc))
                    core.on_response(out.request_id, answer, emsp_clock())
                await asyncio.sleep(0.005)

    tasks: list[asyncio.Task[None]] = []  # held, so the task is not garbage-collected

    async def start() -> None:
        tasks.append(asyncio.create_task(pump()))

    app.router.on_startup.append(start)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[str, str, list[tuple[str, str, Any]], EmspCore]]:
    seen: list[tuple[str, str, Any]] = []
    cpo_url: list[str] = []
    cpo = Served(cpo_app(seen, lambda: cpo_url[0]))
    cpo_url.append(cpo.url)
    core = EmspCore(
        EmspSettings(base_url="http://127.0.0.1/ocpi", database_url=f"sqlite:///{tmp_path / 'emsp.db'}"),
    )  # the real tariff engine prices the CDRs
    core.register_partner("cpo-e2e", TOKEN_A, parties=[(*PARTY, "CPO")])
    app = create_service_app(core, "e2e-admin", emsp_clock)
    start_pump(app, core)
    emsp = Served(app)
    try:
        yield emsp.url, cpo.url, seen, core
    finally:
        emsp.stop()
        cpo.stop()


def stored_endpoints(core: EmspCore) -> bool:
    # Its own session: never the shared one of a request the server thread may be handling.
    with core.db.session_factory() as db:
        row = db.get(PartnerRow, "cpo-e2e")
        return row is not None and row.endpoints_status == "ok"


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_spec_cpo_registers_pushes_every_example_and_every_cdr_is_invoiced(
    world: tuple[str, str, list[tuple[str, str, Any]], EmspCore],
) -> None:
    emsp_url, cpo_url, seen, core = world
    ocpi = httpx.Client(base_url=f"{emsp_url}/ocpi", timeout=10)
    api = httpx.Client(base_url=f"{emsp_url}/api/v1", headers=ADMIN, timeout=10)

    # -- registration with token A (credentials POST); the eMSP fetches our versions and details --
    versions = ocpi.get("/versions", headers=ocpi_auth(TOKEN_A)).json()["data"]
    ours_url = next(v["url"] for v in versions if v["version"] == "2.2.1")  # the version this CPO speaks
    modules = ocpi.get(ours_url.replace("http://127.0.0.1/ocpi", ""), headers=ocpi_auth(TOKEN_A))
    assert modules.status_code == 200
    ours = {
        "token": TOKEN_B,
        "url": f"{cpo_url}/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": PARTY[1],
                "country_code": PARTY[0],
                "business_details": {"name": "Spec CPO"},
            }
        ],
    }
    resp = ocpi.post("/2.2.1/credentials", json=ours, headers=ocpi_auth(TOKEN_A))
    assert resp.status_code == 200 and resp.json()["status_code"] == 1000, resp.text
    token_c = resp.json()["data"]["token"]
    # credentials POST: the eMSP fetched our versions and details before it answered
    assert [s[1] for s in seen[:2]] == ["versions", "details"]
    assert all(authorized for _m, _w, authorized in seen[:2])  # with our token B
    wait_for(lambda: stored_endpoints(core), "our endpoints stored by the eMSP")
    headers = {
        **ocpi_auth(token_c),
        "OCPI-from-country-code": PARTY[0],
        "OCPI-from-party-id": PARTY[1],
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "EMS",
    }

    def call(method: str, path: str, body: Any = None) -> httpx.Response:
        return ocpi.request(method, f"/2.2.1/{path}", json=body, headers=headers)

    def accepted(resp: httpx.Response) -> None:
        assert resp.status_code in (200, 201) and resp.json()["status_code"] == 1000, resp.text

    # -- tokens issued through the contract API are pushed to our Tokens receiver --
    issued = api.post("/tokens", json=DRIVER)
    assert issued.status_code == 201 and issued.json()["pushed_to"] == ["cpo-e2e"]
    blocked = {**DRIVER, "uid": "E2E-RFID-BLOCKED"}
    assert api.post("/tokens", json=blocked).status_code == 201
    assert api.post("/tokens/E2E-RFID-BLOCKED/block").json()["valid"] is False
    wait_for(lambda: sum(1 for s in seen if s[0] == "PUT") == 3, "three Token PUTs")
    puts = [s for s in seen if s[0] == "PUT"]
    assert (
        puts[0][1] == f"tokens/NL/EMS/{DRIVER['uid']}" and puts[0][2]["contract_id"] == DRIVER["contract_id"]
    )
    assert puts[2][2]["uid"] == "E2E-RFID-BLOCKED" and puts[2][2]["valid"] is False

    # -- every Tariff example, then every Location example (connectors reference the tariffs) --
    for path in sorted((EXAMPLES / "tariff").glob("*.json")):
        tariff = load("tariff", path.stem)
        if "last_updated" not in tariff:  # the PUT example omits it; Tariff.last_updated is card. 1
            refused = call("PUT", f"tariffs/DE/CPA/{tariff['id']}", tariff)
            assert refused.json()["status_code"] == 2001 and "last_updated" in refused.text
            tariff["last_updated"] = "2025-06-01T00:00:00Z"
        accepted(call("PUT", f"tariffs/DE/CPA/{tariff['id']}", tariff))
    locations = [load("location", p.stem) for p in sorted((EXAMPLES / "location").glob("*.json"))]
    for loc in (x for x in locations if "country_code" in x):
        accepted(call("PUT", f"locations/DE/CPA/{loc['id']}", loc))
    # the object fragments of the examples, applied to the main example location (LOC-01)
    accepted(call("PATCH", "locations/DE/CPA/LOC-01", load("location", "location_patch_location")))
    accepted(call("PATCH", "locations/DE/CPA/LOC-01/EVSE-01", load("location", "location_patch_status")))
    accepted(call("PATCH", "locations/DE/CPA/LOC-01/EVSE-01/1", load("location", "location_patch_tariff")))
    evse = load("location", "location_put_add_evse")
    refused = call("PUT", "locations/DE/CPA/LOC-01/EVSE-08", evse)  # physical_reference is a string(16)
    assert refused.json()["status_code"] == 2001 and "physical_reference" in refused.text
    evse["physical_reference"] = str(evse["physical_reference"])
    # Connector.power_type, max_voltage, max_amperage and last_updated are card. 1; the example omits them
    for connector in evse["connectors"]:
        connector.update(power_type="AC_3_PHASE", max_voltage=230, max_amperage=16)
        connector["last_updated"] = evse["last_updated"]
    accepted(call("PUT", "locations/DE/CPA/LOC-01/EVSE-08", evse))
    accepted(call("PATCH", "locations/DE/CPA/LOC-01/EVSE-08", load("location", "location_patch_remove_evse")))
    stored = call("GET", "locations/DE/CPA/LOC-01").json()["data"]
    assert stored["name"] == load("location", "location_patch_location")["name"]
    assert stored["evses"][0]["connectors"][0]["tariff_ids"] == ["TRF-15"]

    # -- real-time authorization of the issued tokens --
    def authorize(uid: str) -> str:
        got = call("POST", f"tokens/{uid}/authorize", {"location_id": "LOC-01", "evse_uids": ["EVSE-01"]})
        assert got.status_code == 200, got.text
        return str(got.json()["data"]["allowed"])

    assert authorize(DRIVER["uid"]) == "ALLOWED"
    assert authorize("E2E-RFID-BLOCKED") == "BLOCKED"

    # -- the Session examples: start, two PATCHes, finished --
    start = load("session", "session_1_simple_start")
    refused = call("PUT", f"sessions/DE/CPA/{start['id']}", start)  # the example's incomplete CdrToken
    assert refused.json()["status_code"] == 2001 and "cdr_token.country_code" in refused.text
    accepted(call("PUT", f"sessions/DE/CPA/{start['id']}", with_token_owner(start)))
    accepted(call("PATCH", f"sessions/DE/CPA/{start['id']}", load("session", "session_patch_total_cost")))
    accepted(
        call("PATCH", f"sessions/DE/CPA/{start['id']}", load("session", "session_patch_charging_period"))
    )
    finished = with_token_owner(load("session", "session_2_short_finished"))
    accepted(call("PUT", f"sessions/DE/CPA/{finished['id']}", finished))
    session = api.get(f"/sessions/DE/CPA/{finished['id']}").json()
    assert session["status"] == "COMPLETED" and Decimal(session["kwh"]) == Decimal("41")

    # -- every CDR example; each appears as an invoice line through the contract API --
    cdrs = [load("cdr", p.stem) for p in sorted((EXAMPLES / "cdr").glob("*.json"))]
    for i, cdr in enumerate(cdrs):
        refused = call("POST", "cdrs", cdr)  # the example's incomplete CdrToken, as for sessions
        assert refused.json()["status_code"] == 2001 and "cdr_token.country_code" in refused.text
        cdrs[i] = with_token_owner(cdr)
        accepted(call("POST", "cdrs", cdrs[i]))
    lines = api.get("/invoice-lines", params={"partner": "cpo-e2e"}).json()
    assert lines["total"] == len(cdrs)
    for cdr in cdrs:
        line = api.get(f"/invoice-lines/DE/CPA/{cdr['id']}").json()
        assert line["cdr_id"] == cdr["id"] and line["contract_id"] == DRIVER["contract_id"]
        assert line["cpo_amount"]["excl_vat"] == str(cdr["total_cost"]["excl_vat"])
        assert line["amount"] is not None, line["note"]  # re-priced from the tariff we received
    assert api.get("/cdrs").json()["total"] == len(cdrs)
