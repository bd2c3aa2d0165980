"""Acceptance: a CPO client written from the spec alone (plain httpx, not the bench's mock CPO)
registers with the served eMSP (`emsp-bench serve emsp`, a real process, over HTTP) as OCPI 2.1.1
and as 2.3.0 — credentials in the version's shape, the token as the version writes it — then
pushes that version's spec examples (the fixtures in tests/emsp/ocpi/spec_examples_211 and
spec_examples_230, see their READMEs): each is accepted, or refused with 2001 where the version's
tables make the example invalid, and its CDR appears as an invoice line on /api/v1.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_serve_emsp import _start, _stop

pytestmark = pytest.mark.xdist_group("live")

OCPI_TESTS = Path(__file__).resolve().parents[1] / "emsp" / "ocpi"
UID, CONTRACT = "RFID-SERVED", "NL-EMS-C00000123-X"
ADMIN = {"Authorization": "Bearer admin-secret"}
PUBLIC = "http://127.0.0.1:9"
CONFIG = """
emsp: {country_code: NL, party_id: EMS, business_name: Test eMSP, public_url: http://127.0.0.1:9}
admin_token: admin-secret
partners:
  - id: cpo-x
    token_a: token-a-x
    parties: [{country_code: DE, party_id: CPA, role: CPO}]
"""


def _load(path: Path) -> Any:
    text = path.read_text().replace("{{CONTRACT_ID}}", CONTRACT).replace("{{TOKEN_UID}}", UID)
    return json.loads(text)


def _as_of_now(obj: Any) -> Any:
    """The example with each last_updated after now set to now: the served eMSP runs on the wall
    clock and refuses a last_updated more than a day ahead of it (the spec's examples run to 2029)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(obj, dict):
        return {
            k: now if k == "last_updated" and isinstance(v, str) and v > now else _as_of_now(v)
            for k, v in obj.items()
        }
    return [_as_of_now(v) for v in obj] if isinstance(obj, list) else obj


class _CpoVersions(BaseHTTPRequestHandler):
    """The CPO's versions and version details, in its one version (what the eMSP fetches)."""

    version = "2.1.1"

    def do_GET(self) -> None:
        base = f"http://127.0.0.1:{self.server.server_address[1]}/ocpi"
        if self.path.endswith("/versions"):
            data: Any = [{"version": self.version, "url": f"{base}/{self.version}"}]
        else:
            url = f"{base}/{self.version}/credentials"
            endpoint: dict[str, Any] = {"identifier": "credentials", "url": url}
            if self.version != "2.1.1":  # 2.1.1 endpoints name no role
                endpoint["role"] = "RECEIVER"
            data = {"version": self.version, "endpoints": [endpoint]}
        body = json.dumps({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    config = tmp_path / "emsp.yaml"
    config.write_text(CONFIG)
    proc, _versions, base = _start(config, f"sqlite:///{tmp_path / 'emsp.db'}")
    try:
        yield base
    finally:
        _stop(proc)


def _cpo_server(version: str) -> HTTPServer:
    handler = type("Handler", (_CpoVersions,), {"version": version})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class SpecCpo:
    """OCPI as the spec writes it: 2.1.1 sends `Token <token>`, 2.2 and later Base64 it."""

    def __init__(self, base: str, version: str, token: str) -> None:
        self.base, self.version, self.token = base, version, token
        self.endpoints: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        token = self.token if self.version == "2.1.1" else base64.b64encode(self.token.encode()).decode()
        return {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def call(self, method: str, url: str, body: Any = None) -> httpx.Response:
        # The eMSP names its URLs under its configured public URL (port 9 here, a port 0 server
        # cannot know its own in advance): reach them where it really listens.
        url = url.replace(PUBLIC, self.base, 1) if url.startswith(PUBLIC + "/") else url
        content = None if body is None else json.dumps(body)
        return httpx.request(method, url, headers=self.headers(), content=content, timeout=10)

    def register(self, cpo_versions_url: str) -> None:
        versions = self.call("GET", f"{self.base}/ocpi/versions").json()["data"]
        (mine,) = [v for v in versions if v["version"] == self.version]
        details = self.call("GET", mine["url"]).json()["data"]
        self.endpoints = {e["identifier"]: e["url"] for e in details["endpoints"]}
        if self.version == "2.1.1":  # 2.1.1 credentials: one party, no roles
            ours: dict[str, Any] = {
                "token": "token-b-x", "url": cpo_versions_url, "business_details": {"name": "Spec CPO"},
                "party_id": "CPA", "country_code": "DE",
            }  # fmt: skip
        else:
            name = {"name": "Spec CPO"}
            role = {"role": "CPO", "business_details": name, "party_id": "CPA", "country_code": "DE"}
            ours = {"token": "token-b-x", "url": cpo_versions_url, "roles": [role]}
        answer = self.call("POST", self.endpoints["credentials"], ours)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["data"]["token"]  # token C from now on

    def push(self, method: str, module: str, path: str, body: Any) -> tuple[int, str]:
        url = f"{self.endpoints[module]}/{path}" if path else self.endpoints[module]
        answer = self.call(method, url, body).json()
        return answer["status_code"], answer.get("status_message", "")


def _issue_token(base: str) -> None:
    answer = httpx.post(f"{base}/api/v1/tokens", headers=ADMIN, json={"uid": UID, "contract_id": CONTRACT})
    assert answer.status_code == 201, answer.text


def _invoice_cdr_ids(base: str) -> list[str]:
    page = httpx.get(f"{base}/api/v1/invoice-lines", headers=ADMIN).json()
    return [line["cdr_id"] for line in page["items"]]


def _complete_211_embedded(body: dict[str, Any]) -> None:
    """What the 2.1.1 examples lack against the 2.1.1 tables (spec_examples_211/README.md)."""
    body["location"]["type"] = "ON_STREET"
    for evse in body["location"]["evses"]:
        evse["status"] = evse.pop("STATUS")
    for period in body.get("charging_periods") or []:
        for dim in period["dimensions"]:
            dim["type"] = dim["type"].upper()


def test_a_211_cpo_registers_and_its_examples_are_accepted_or_refused_by_the_tables(served: str) -> None:
    examples = OCPI_TESTS / "spec_examples_211"
    cpo_server = _cpo_server("2.1.1")
    try:
        _issue_token(served)
        cpo = SpecCpo(served, "2.1.1", "token-a-x")
        cpo.register(f"http://127.0.0.1:{cpo_server.server_address[1]}/ocpi/versions")
        tariff = _load(examples / "tariff_simple.json")
        assert cpo.push("PUT", "tariffs", f"DE/CPA/{tariff['id']}", tariff)[0] == 1000
        location = _load(examples / "location.json")
        code, message = cpo.push("PUT", "locations", "DE/CPA/LOC-211", location)
        assert code == 2001 and "last_updated" in message  # the example's second EVSE lacks it
        location["evses"][1]["connectors"][0]["last_updated"] = location["evses"][1]["last_updated"]
        assert cpo.push("PUT", "locations", "DE/CPA/LOC-211", location)[0] == 1000
        session = _load(examples / "session_start.json")
        assert cpo.push("PUT", "sessions", "DE/CPA/S-211", session)[0] == 2001  # auth_method
        session["auth_method"] = "WHITELIST"
        _complete_211_embedded(session)
        assert cpo.push("PUT", "sessions", "DE/CPA/S-211", session)[0] == 1000
        cdr = _load(examples / "cdr.json")
        code, message = cpo.push("POST", "cdrs", "", cdr)
        assert code == 2001 and "location.type" in message
        _complete_211_embedded(cdr)
        cdr["tariffs"][0]["last_updated"] = cdr["tariffs"][0]["elements"][0].pop("last_updated")
        cdr["tariffs"][0]["elements"][0]["price_components"][0]["price"] = Decimal("2.40")
        assert cpo.push("POST", "cdrs", "", json.loads(json.dumps(cdr, default=float)))[0] == 1000
        assert _invoice_cdr_ids(served) == [cdr["id"]]
        provenance = httpx.get(f"{served}/api/v1/cdrs/DE/CPA/{cdr['id']}/provenance", headers=ADMIN).json()
        assert provenance["ocpi_version"] == "2.1.1" and provenance["validation"]["outcome"] == "valid"
    finally:
        cpo_server.shutdown()


def test_a_230_cpo_registers_and_its_examples_are_accepted_or_refused_by_the_tables(served: str) -> None:
    examples = OCPI_TESTS / "spec_examples_230"
    cpo_server = _cpo_server("2.3.0")
    try:
        _issue_token(served)
        cpo = SpecCpo(served, "2.3.0", "token-a-x")
        cpo.register(f"http://127.0.0.1:{cpo_server.server_address[1]}/ocpi/versions")
        ahead = _load(examples / "tariff" / "tariff_10_025kwh_parking_start.json")
        code, message = cpo.push("PUT", "tariffs", f"DE/CPA/{ahead['id']}", ahead)
        assert code == 2001 and "more than a day ahead" in message  # its last_updated is in 2028
        for path in sorted((examples / "tariff").glob("*.json")):
            tariff = _as_of_now(_load(path))
            code, message = cpo.push("PUT", "tariffs", f"DE/CPA/{tariff['id']}", tariff)
            if path.stem == "tariff_put":  # the PUT example has no last_updated (required)
                assert code == 2001 and "last_updated" in message
            else:
                assert code == 1000, (path.stem, message)
        location = _as_of_now(_load(examples / "location" / "location.json"))
        assert cpo.push("PUT", "locations", f"DE/CPA/{location['id']}", location)[0] == 1000
        session = _as_of_now(_load(examples / "session" / "session_1_simple_start.json"))
        assert cpo.push("PUT", "sessions", f"DE/CPA/{session['id']}", session)[0] == 1000
        cdr = _as_of_now(_load(examples / "cdr" / "cdr.json"))
        code, message = cpo.push("POST", "cdrs", "", cdr)
        assert code == 2001 and "tax_included" in message  # the example's tariffs lack it
        for tariff in cdr["tariffs"]:
            tariff["tax_included"] = "NO"
        assert cpo.push("POST", "cdrs", "", cdr)[0] == 1000
        assert _invoice_cdr_ids(served) == [cdr["id"]]
        provenance = httpx.get(f"{served}/api/v1/cdrs/DE/CPA/{cdr['id']}/provenance", headers=ADMIN).json()
        assert provenance["ocpi_version"] == "2.3.0" and provenance["invoice_lines"]
    finally:
        cpo_server.shutdown()
