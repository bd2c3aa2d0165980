"""Tokens module, Sender interface (every version): GET list (paginated) and real-time authorize.

POST {tokens}/{token_uid}/authorize[?type=RFID] answers from local state only (the rules are in
`emsp.services.tokens.decide`): an unknown token gets HTTP 404 with status 2004 and no `data`
field; a token restricted to locations asked about without LocationReferences gets 2002 (HTTP 200:
the request reached the OCPI layer, status_codes). Every answer is recorded.
"""

from __future__ import annotations

from emsp.model import NOT_ENOUGH_INFORMATION
from emsp.ocpi.adapter import LocationRefs
from emsp.ocpi.context import Ctx
from emsp.ocpi.envelope import OcpiResult
from emsp.ocpi.errors import OcpiError, invalid, method_not_allowed, not_found
from emsp.ocpi.pagination import paginate
from emsp.services import tokens as token_service

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")


def handle(ctx: Ctx) -> OcpiResult:
    method = ctx.method
    segs = ctx.segments
    if not segs:
        if method != "GET":
            raise method_not_allowed(f"{method} not supported on the tokens sender endpoint", ["GET"])
        return _list(ctx)
    if len(segs) == 2 and segs[1] == "authorize" and segs[0]:
        if method != "POST":
            raise method_not_allowed("real-time authorization is a POST", ["POST"])
        return _authorize(ctx, segs[0])
    raise not_found("unknown resource", status_code=2000)


def _list(ctx: Ctx) -> OcpiResult:
    s = ctx.services.settings
    rows = token_service.all_tokens(ctx.db, ctx.partner_id)  # federated tokens of others stay unseen
    page = paginate(
        rows,
        url=ctx.request.url,
        query=ctx.request.query,
        last_updated=lambda r: r.last_updated,
        max_limit=s.page_limit,
    )
    data = [ctx.adapter.token_object(r, s) for r in page.items]
    return OcpiResult(data, headers=page.headers)


def _ci_string(value: str, what: str) -> str:
    """CiString(36) (types): printable ASCII, at most 36 characters; longer never matches a token."""
    if not 0 < len(value) <= 36 or not all(" " <= ch <= "~" for ch in value):
        raise invalid(f"{what} must be a CiString(36): 1 to 36 printable ASCII characters")
    return value


def _header(ctx: Ctx, name: str) -> str | None:
    for key, value in ctx.request.headers.items():
        if key.lower() == name:
            return value.strip() or None
    return None


def _requesting_party(ctx: Ctx) -> tuple[str, str] | None:
    """The CPO party whose location the request names, None if it cannot be told."""
    country_code = _header(ctx, "ocpi-from-country-code")
    party_id = _header(ctx, "ocpi-from-party-id")
    if country_code is not None and party_id is not None:
        ctx.require_owner(country_code, party_id)  # another partner's party: 2001 / 404, as for pushes
        return (country_code.upper(), party_id.upper())
    # Via a 2.2.1/2.3.0 hub the sender is named or the request is refused, as every owner-checked
    # request through a hub (Ctx.hub_sender): the hub's one CPO party is not whoever sent it.
    # A 2.1.1 hub has no routing headers and a bilateral partner may leave them out: its one party.
    ctx.hub_sender()
    return None if ctx.parties is None else ctx.parties.single_cpo()


def _authorize(ctx: Ctx, uid: str) -> OcpiResult:
    _ci_string(uid, "token_uid")
    token_type = ctx.request.query.get("type", "RFID")  # default RFID (tokens, POST parameters)
    if token_type not in TOKEN_TYPES:
        raise invalid(f"query parameter 'type' must be one of {', '.join(TOKEN_TYPES)}")
    refs: LocationRefs | None = None
    if ctx.request.body is not None and ctx.request.body.strip():
        body = ctx.json()
        if body is not None:  # LocationReferences is optional (card. ?); JSON null means absent
            refs = ctx.adapter.location_references(body)
            _ci_string(refs.location_id, "location_id")
    decision = ctx.services.tokens.authorize(
        ctx.unit,  # opened only if the token is not in memory or its record is written at once
        partner=ctx.partner_id,
        uid=uid,
        token_type=token_type,
        party=_requesting_party(ctx),
        location_id=None if refs is None else refs.location_id,
        now=ctx.now,
    )
    result = decision.record.result
    ctx.services.metrics.authorization(ctx.partner_id, result).inc()
    ctx.log.info(
        "authorization", token_uid=uid, result=result, reference=decision.record.authorization_reference
    )
    if decision.token is None:
        err = not_found("unknown token", status_code=2004)
        err.commit = True  # the refused authorization is still recorded
        raise err
    if result == NOT_ENOUGH_INFORMATION:
        # The token may charge only at some locations: without LocationReferences, or without
        # knowing whose location it is, we cannot tell.
        needed = (
            "LocationReferences required"
            if refs is None
            else "the location's party is unknown: send OCPI-from-country-code and OCPI-from-party-id"
        )
        err = OcpiError(2002, f"this token is restricted to locations: {needed}")
        err.commit = True
        raise err
    token = ctx.adapter.token_object(decision.token, ctx.services.settings)
    reference = decision.record.authorization_reference
    return OcpiResult(ctx.adapter.authorization_info(result, token, refs, reference))
