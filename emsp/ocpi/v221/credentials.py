"""Credentials module (2.2.1 credentials): registration, update and unregistration.

The spec wants the server to fetch the client's versions/details during the POST. A sans-IO core
cannot block on the network, so we answer at once and emit the fetches as `OutboundRequest`s;
their outcome is stored on the partner (`endpoints_status`). A failed fetch is logged, not 3001.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from emsp.ocpi.auth import encode_token
from emsp.ocpi.context import Ctx, Services, validate
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import OcpiError, method_not_allowed, not_found
from emsp.ocpi.v221 import schemas
from emsp.services.partners import PartyRole, parties_of
from emsp.storage.tables import PartnerRow
from emsp.wire import HttpRequest, dumps

ALLOWED = ["GET", "POST", "PUT", "DELETE"]


def our_credentials(services: Services, token_c: str) -> dict[str, Any]:
    s = services.settings
    return {
        "token": token_c,
        "url": f"{s.base_url.rstrip('/')}/versions",
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": s.business_name},
                "party_id": s.party_id,
                "country_code": s.country_code,
            }
        ],
    }


def _new_token_c(ctx: Ctx) -> str:
    # Deterministic (principle 6) yet distinct per partner and per issue; never equal to token A/B.
    n = ctx.services.new_id(ctx.db, "token_c")
    s = ctx.services.settings
    digest = hashlib.sha256(f"{s.country_code}{s.party_id}|{ctx.partner_id}|{n}".encode()).hexdigest()
    return f"C{n}-{digest[:40]}"


def fetch_versions(services: Services, db: Session, partner: PartnerRow) -> None:
    assert partner.versions_url is not None and partner.token_b is not None
    partner.endpoints_status = "fetching"
    request = HttpRequest("GET", partner.versions_url, {"Authorization": encode_token(partner.token_b)})
    services.queue_outbound(db, partner.partner_id, request, "versions")


def check_roles(partner: PartnerRow, creds: schemas.Credentials) -> None:
    """Every declared role must be configured for this partner by the operator; HUB only for a hub.

    Refused as a client error before anything is stored: token A (or C) stays as it was."""
    configured = set(parties_of(partner))
    for index, role in enumerate(creds.roles):
        declared = PartyRole(role.country_code.upper(), role.party_id.upper(), role.role.upper())
        if declared.role == "HUB" and not partner.hub:
            raise OcpiError(2001, f"roles[{index}]: HUB is not configured for this partner", http_status=400)
        if declared not in configured:
            raise OcpiError(
                2001,
                f"roles[{index}]: {declared.country_code}/{declared.party_id} {declared.role} "
                "is not configured for this partner",
                http_status=400,
            )


def _store_client_credentials(ctx: Ctx, creds: schemas.Credentials) -> str:
    partner = ctx.partner
    check_roles(partner, creds)
    partner.token_b = creds.token
    partner.versions_url = creds.url
    partner.roles_json = dumps([r.model_dump(mode="json") for r in creds.roles])
    partner.token_c = _new_token_c(ctx)
    partner.token_a = None  # token A MAY no longer be used (credentials, registration)
    partner.registered = True
    fetch_versions(ctx.services, ctx.db, partner)
    return partner.token_c


def handle(ctx: Ctx) -> OcpiResult:
    if ctx.segments:
        raise not_found("unknown resource", status_code=2000)
    partner = ctx.partner
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on credentials", ALLOWED)
    if method == "POST":
        if partner.registered:
            raise method_not_allowed("already registered; use PUT to update", ALLOWED)
        creds = validate(schemas.Credentials, ctx.json_object())
        token_c = _store_client_credentials(ctx, creds)
        ctx.log.info("partner_registered", roles=len(creds.roles))
        return OcpiResult(our_credentials(ctx.services, token_c))
    if not partner.registered:
        raise method_not_allowed("not registered; use POST to register", ALLOWED)
    if method == "GET":
        assert partner.token_c is not None
        return OcpiResult(our_credentials(ctx.services, partner.token_c))
    if method == "PUT":
        creds = validate(schemas.Credentials, ctx.json_object())
        token_c = _store_client_credentials(ctx, creds)
        ctx.log.info("partner_credentials_updated")
        return OcpiResult(our_credentials(ctx.services, token_c))
    # DELETE: unregister; both parties end automated communication.
    partner.registered = False
    partner.token_c = None
    partner.token_b = None
    partner.endpoints_status = "none"
    ctx.log.info("partner_unregistered")
    return OcpiResult()


def on_versions(services: Services, db: Session, partner: PartnerRow, body: Any) -> None:
    """The client's versions list arrived: fetch the 2.2.1 details with token B."""
    data = body.get("data") if isinstance(body, dict) else None
    refs = [validate(schemas.VersionRef, item) for item in data] if isinstance(data, list) else []
    match = [r for r in refs if r.version == "2.2.1"]
    if not match or partner.token_b is None:
        raise OcpiError(3002, "partner offers no OCPI 2.2.1")
    request = HttpRequest("GET", match[0].url, {"Authorization": encode_token(partner.token_b)})
    services.queue_outbound(db, partner.partner_id, request, "details")


def on_details(partner: PartnerRow, body: Any) -> None:
    data = body.get("data") if isinstance(body, dict) else None
    details = validate(schemas.VersionDetails, data)
    partner.version = details.version
    partner.endpoints_json = dumps([e.model_dump(mode="json") for e in details.endpoints])
    partner.endpoints_status = "ok"
