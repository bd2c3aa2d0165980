"""Credentials module (every version): registration, update and unregistration.

POST and PUT are answered only after the client's versions and details are fetched (credentials,
POST/PUT): the module returns `Pending` and the core defers the response until the handshake
ends; an unusable client API answers 3001, a versions list without the version whose credentials
endpoint was called 3002, and nothing is stored. That version becomes the partner's: its adapter
is the one every later exchange with the partner goes through (design principle 4).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from emsp.ocpi.adapter import CredentialsInfo, VersionAdapter
from emsp.ocpi.context import Ctx, Services
from emsp.ocpi.envelope import OcpiResult, Pending
from emsp.ocpi.errors import OcpiError, method_not_allowed, not_found
from emsp.ocpi.handshake import Fetched, Handshake, check_url
from emsp.services.partners import PartyRole, parties_of
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps

ALLOWED = ["GET", "POST", "PUT", "DELETE"]


def our_credentials(services: Services, adapter: VersionAdapter, token_c: str) -> dict[str, Any]:
    s = services.settings
    return adapter.our_credentials(s, token_c, f"{s.base_url.rstrip('/')}/versions")


def new_token(services: Services, db: Session, partner_id: str, kind: str) -> str:
    """A fresh credentials token, distinct per partner and per issue.

    Keyed by the eMSP's secret (HMAC-SHA256), so nobody can compute a partner's token from the
    public facts it is built from (our party, the partner id, a counter). Without a secret
    (`token_secret=None`: in-bench worlds only, where every party is simulated) it is the plain
    digest of the same facts: deterministic per seed (principle 6), as the traces always had it."""
    n = services.new_id(db, kind)
    s = services.settings
    salt = "" if kind == "token_c" else f"{kind}|"  # token C as it always was: traces stay comparable
    facts = f"{s.country_code}{s.party_id}|{partner_id}|{salt}{n}".encode()
    secret = s.token_secret
    if secret is None:
        digest = hashlib.sha256(facts).hexdigest()
    else:
        digest = hmac.new(secret, facts, hashlib.sha256).hexdigest()
    return f"{kind[-1].upper()}{n}-{digest[:40]}"


def check_roles(partner: PartnerRow, creds: CredentialsInfo) -> None:
    """Every declared role must be configured for this partner by the operator; HUB only for a hub.

    Refused as a client error before anything is stored: token A (or C) stays as it was. A 2.3.0
    hub party (hub_party_id) counts as a declared HUB role."""
    configured = set(parties_of(partner))
    declared_roles = [(f"roles[{i}]", r.country_code, r.party_id, r.role) for i, r in enumerate(creds.roles)]
    if creds.hub_party is not None:
        declared_roles.append(("hub_party_id", *creds.hub_party, "HUB"))
    for where, country_code, party_id, role in declared_roles:
        declared = PartyRole(country_code.upper(), party_id.upper(), role.upper())
        if declared.role == "HUB" and not partner.hub:
            raise OcpiError(2001, f"{where}: HUB is not configured for this partner", http_status=400)
        if declared not in configured:
            raise OcpiError(
                2001,
                f"{where}: {declared.country_code}/{declared.party_id} {declared.role} "
                "is not configured for this partner",
                http_status=400,
            )


def store_partner_api(partner: PartnerRow, creds: CredentialsInfo, fetched: Fetched) -> None:
    """The partner's side of a finished handshake: its token, versions URL, roles, version, endpoints."""
    partner.token_b = creds.token
    partner.versions_url = creds.url
    partner.roles_json = dumps([r.as_doc() for r in creds.roles])
    partner.version = fetched.version  # chooses the partner's adapter from now on
    partner.endpoints_json = dumps(fetched.endpoints)
    partner.endpoints_status = "ok"
    partner.token_a = None  # token A MAY no longer be used (credentials, registration)
    partner.registered = True


def _completion(
    services: Services, adapter: VersionAdapter, partner_id: str, method: str, creds: CredentialsInfo
) -> Any:
    """What runs when the client's versions and details are in: store, issue token C, answer."""

    def complete(db: Session, fetched: Fetched, _now: datetime) -> OcpiResult:
        partner = db.get(PartnerRow, partner_id)
        if partner is None:
            raise OcpiError(2000, "the partner is no longer configured", http_status=401)
        # Re-checked: the operator's configuration or the registration may have changed meanwhile.
        if partner.registered != (method == "PUT"):
            raise method_not_allowed(f"{method} no longer applies to this partner's state", ALLOWED)
        check_roles(partner, creds)
        store_partner_api(partner, creds, fetched)
        partner.token_c = new_token(services, db, partner_id, "token_c")
        return OcpiResult(our_credentials(services, adapter, partner.token_c))

    return complete


def outbound_completion(partner_id: str) -> Any:
    """What runs when a partner answered the registration we started with its credentials."""

    def complete(db: Session, fetched: Fetched, _now: datetime) -> OcpiResult:
        partner = db.get(PartnerRow, partner_id)
        theirs = fetched.credentials
        if partner is None or partner.token_pending is None or theirs is None:
            raise OcpiError(3001, "the partner's registration state changed during the handshake")
        check_roles(partner, theirs)  # the operator's configuration decides here too
        store_partner_api(partner, theirs, fetched)
        partner.token_c, partner.token_pending = partner.token_pending, None
        return OcpiResult()

    return complete


def forget_offer(partner_id: str, db: Session) -> None:
    """A registration we started failed: the token we offered opens nothing any more."""
    partner = db.get(PartnerRow, partner_id)
    if partner is not None:
        partner.token_pending = None


def only(adapter: VersionAdapter) -> Callable[[list[str]], VersionAdapter | None]:
    """Inbound: the version whose credentials endpoint was called, if the client offers it."""
    return lambda offered: adapter if adapter.version in offered else None


def _fetch_then_answer(ctx: Ctx, creds: CredentialsInfo) -> Pending:
    check_roles(ctx.partner, creds)
    if ctx.services.handshake_pending(ctx.partner_id):
        raise OcpiError(2000, "a credentials handshake with this partner is in progress", http_status=409)
    own = ctx.services.settings.base_url
    handshake = Handshake(check_url(creds.url, "url", own), creds.token, only(ctx.adapter), own_base_url=own)
    complete = _completion(ctx.services, ctx.adapter, ctx.partner_id, ctx.method, creds)
    return Pending(ctx.partner_id, handshake, complete)


def handle(ctx: Ctx) -> OcpiResult | Pending:
    if ctx.segments:
        raise not_found("unknown resource", status_code=2000)
    partner = ctx.partner
    method = ctx.method
    if method not in ALLOWED:
        raise method_not_allowed(f"{method} not supported on credentials", ALLOWED)
    if method == "POST":
        if partner.registered:
            raise method_not_allowed("already registered; use PUT to update", ALLOWED)
        # Nothing is stored before the client's versions and details are fetched (credentials, POST).
        return _fetch_then_answer(ctx, ctx.adapter.credentials(ctx.json_object()))
    if not partner.registered:
        raise method_not_allowed("not registered; use POST to register", ALLOWED)
    if method == "GET":
        assert partner.token_c is not None
        return OcpiResult(our_credentials(ctx.services, ctx.adapter, partner.token_c))
    if method == "PUT":
        # The endpoints are fetched again even if the version did not change (credentials, PUT).
        return _fetch_then_answer(ctx, ctx.adapter.credentials(ctx.json_object()))
    # DELETE: unregister; both parties end automated communication. The version and endpoints
    # agreed at the handshake end with it (a new registration agrees on them again).
    partner.registered = False
    partner.token_c = None
    partner.token_b = None
    partner.version = None
    partner.endpoints_json = "[]"
    partner.endpoints_status = "none"
    ctx.log.info("partner_unregistered")
    return OcpiResult()
