"""Helpers driving the eMSP core through `EmspCore.handle` (no sockets). Test data is our own."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from emsp.core import EmspCore
from emsp.settlement.settle import PricedTotal
from emsp.storage.tables import PartnerRow, PendingCallRow
from emsp.wire import Deferred, HttpRequest, HttpResponse, OutboundRequest, dumps

BASE = "http://emsp.local/ocpi"
V = f"{BASE}/2.2.1"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CPO_VERSIONS = "http://cpo.test/ocpi/versions"
CPO_V221 = "http://cpo.test/ocpi/2.2.1"
CPO_ENDPOINTS = [{"identifier": "locations", "role": "SENDER", "url": f"{CPO_V221}/locations"}]


def ocpi_ok(data: Any) -> HttpResponse:
    return HttpResponse(
        200, {}, dumps({"data": data, "status_code": 1000, "timestamp": "2025-03-01T09:00:00Z"})
    )


def fake_cpo(request: HttpRequest) -> HttpResponse:
    """The CPO side of the eMSP's handshake calls: its versions, then its 2.2.1 details."""
    if request.url == CPO_VERSIONS:
        return ocpi_ok([{"version": "2.2.1", "url": CPO_V221}])
    if request.url == CPO_V221:
        return ocpi_ok({"version": "2.2.1", "endpoints": CPO_ENDPOINTS})
    return HttpResponse(404, {}, None)


def answer_outbound(core: EmspCore, now: datetime, cpo: Any = fake_cpo) -> list[HttpRequest]:
    """Answer every call the eMSP makes (and the ones those lead to) with `cpo`; returns them in order."""
    seen = []
    while pending := core.pending_requests():
        for outbound in pending:
            seen.append(outbound.request)
            core.on_response(outbound.request_id, cpo(outbound.request), now)
    return seen


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


class FakePricer:
    """Prices every CDR at 0.30 per kWh excl. VAT, 21% VAT; records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def price(
        self, tariffs: Mapping[str, Mapping[str, Any]], cdr: Mapping[str, Any], *, tz: str
    ) -> PricedTotal:
        self.calls.append((",".join(tariffs), str(cdr["id"]), tz))
        energy = Decimal(str(cdr["total_energy"]))
        excl = (energy * Decimal("0.30")).quantize(Decimal("0.01"))
        return PricedTotal(excl, (excl * Decimal("1.21")).quantize(Decimal("0.01")), energy)


class Client:
    """A CPO talking to the core; `token` is what it currently sends."""

    def __init__(self, core: EmspCore, token: str) -> None:
        self.core = core
        self.token = token
        self.now = T0

    def call(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        raw: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        text = raw if raw is not None else (None if body is None else dumps(body))
        hdrs = {**auth(self.token), **(headers or {})}
        if text is not None:
            hdrs["Content-Type"] = "application/json"
        self.now += timedelta(seconds=1)
        resp = self.core.handle(HttpRequest(method, url, hdrs, text), self.now)
        if isinstance(resp, Deferred):  # credentials POST/PUT: the eMSP calls our versions first
            answer_outbound(self.core, self.now)
            final = self.core.take_response(resp.deferred_id)
            assert final is not None, "the handshake did not finish"
            return final
        return resp


def cpo_credentials(
    token_b: str = "token-B-cpo1", party: tuple[str, str] = ("DE", "CPA"), role: str = "CPO"
) -> dict[str, Any]:
    cc, pid = party
    return {
        "token": token_b,
        "url": CPO_VERSIONS,
        "roles": [
            {"role": role, "business_details": {"name": "Test CPO"}, "party_id": pid, "country_code": cc}
        ],
    }


def register_hub(
    core: EmspCore, behind: tuple[tuple[str, str], ...] = (("DE", "HBA"), ("DE", "HBB"))
) -> Client:
    """Configure partner "hub" (NL/HUB, a hub) routing to the CPO parties `behind`, do the full
    handshake as the hub; a client using token C."""
    parties = [("NL", "HUB", "HUB"), *((cc, pid, "CPO") for cc, pid in behind)]
    core.register_partner("hub", "token-A-hub", parties=parties, hub=True)
    client = Client(core, "token-A-hub")
    resp = client.call("POST", f"{V}/credentials", cpo_credentials("token-B-hub", ("NL", "HUB"), "HUB"))
    assert resp.status == 200, resp.body
    client.token = resp.json()["data"]["token"]
    return client


def register(
    core: EmspCore,
    partner: str = "cpo1",
    token_a: str = "token-A-cpo1",
    party: tuple[str, str] = ("DE", "CPA"),
) -> Client:
    """Configure the partner for `party` (CPO role), do the full handshake; a client using token C."""
    core.register_partner(partner, token_a, parties=[(*party, "CPO")])
    client = Client(core, token_a)
    resp = client.call("POST", f"{V}/credentials", cpo_credentials(f"token-B-{partner}", party))
    assert resp.status == 200, resp.body
    client.token = resp.json()["data"]["token"]
    return client


TOKENS_RECEIVER = "http://cpo1.test/ocpi/2.2.1/tokens/"


def tokens_receiver(core: EmspCore, version: str = "2.2.1", url: str = TOKENS_RECEIVER) -> None:
    """cpo1's version and Tokens receiver (as a new registration or credentials PUT sets them)."""
    with core.db.unit() as db:
        row = db.get(PartnerRow, "cpo1")
        assert row is not None
        row.version = version
        row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": url}])


def with_pushed_token(core: EmspCore) -> EmspCore:
    """`core` with cpo1 registered (2.2.1, a Tokens receiver) and TOK1 issued; its calls so far taken."""
    register(core)
    tokens_receiver(core)
    core.issue_token("TOK1", contract_id="NL-EMS-C1", now=T0)
    core.pending_requests()  # the handshake's calls and TOK1's push
    return core


def token_pushes(core: EmspCore) -> list[OutboundRequest]:
    """The Token PUTs the core has queued to send."""
    return [c for c in core.pending_requests() if c.request.method == "PUT"]


def stored_call_ids(core: EmspCore) -> list[str]:
    """Request ids of the stored calls awaiting a retry, in the order they were stored."""
    with core.db.unit() as db:
        return [row.request_id for row in db.query(PendingCallRow).order_by(PendingCallRow.seq)]


def location(loc_id: str = "LOC1", tz: str = "Europe/Berlin") -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "CPA",
        "id": loc_id,
        "publish": True,
        "address": "Teststrasse 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"latitude": "52.520008", "longitude": "13.404954"},
        "time_zone": tz,
        "evses": [
            {
                "uid": "EVSE1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "tariff_ids": ["TAR1"],
                        "last_updated": "2025-03-01T08:00:00Z",
                    }
                ],
                "last_updated": "2025-03-01T08:00:00Z",
            }
        ],
        "last_updated": "2025-03-01T08:00:00Z",
    }


def tariff(tariff_id: str = "TAR1") -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "CPA",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": Decimal("0.30"), "step_size": 1}]}],
        "last_updated": "2025-03-01T08:00:00Z",
    }


def session(session_id: str = "S1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPA",
        "id": session_id,
        "start_date_time": "2025-03-01T09:00:00Z",
        "kwh": 0,
        "cdr_token": {
            "uid": "RFID1",
            "type": "RFID",
            "contract_id": "NL-EMS-C00000001-X",
            "country_code": "NL",
            "party_id": "EMS",
        },
        "auth_method": "AUTH_REQUEST",
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": "2025-03-01T09:00:00Z",
    }
    body.update(changes)
    return body


def period(start: str, kwh: str) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "dimensions": [{"type": "ENERGY", "volume": Decimal(kwh)}],
        "tariff_id": "TAR1",
    }


def cdr(cdr_id: str = "CDR1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "CPA",
        "id": cdr_id,
        "start_date_time": "2025-03-01T09:00:00Z",
        "end_date_time": "2025-03-01T10:00:00Z",
        "session_id": "S1",
        "cdr_token": {
            "uid": "RFID1",
            "type": "RFID",
            "contract_id": "NL-EMS-C00000001-X",
            "country_code": "NL",
            "party_id": "EMS",
        },
        "auth_method": "AUTH_REQUEST",
        "cdr_location": {
            "id": "LOC1",
            "evse_uid": "EVSE1",
            "connector_id": "1",
            "evse_id": "DE*CPA*E1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
            "country": "DEU",
            "city": "Berlin",
            "address": "Teststrasse 1",
            "coordinates": {"latitude": "52.500000", "longitude": "13.400000"},
        },
        "currency": "EUR",
        "charging_periods": [period("2025-03-01T09:00:00Z", "10.5")],
        "total_cost": {"excl_vat": Decimal("3.15"), "incl_vat": Decimal("3.81")},
        "total_energy": Decimal("10.5"),
        "total_time": Decimal("1.0"),
        "last_updated": "2025-03-01T10:05:00Z",
    }
    body.update(changes)
    return body
