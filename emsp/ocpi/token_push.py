"""Push of our Tokens to the CPOs' Tokens Receiver interface (mod_tokens, PUT method), per version.

The eMSP owns its Tokens: a new or changed Token is PUT, in the partner's version (its adapter,
chosen at the handshake), to `{tokens receiver url}/{country_code}/{party_id}/{uid}[?type=]` of
every registered partner whose version details list a `tokens` endpoint we can push to, once per
CPO party of that partner (addressed with the routing headers where the version has them,
transport_and_format "Message Routing Headers"). A CPO without that endpoint still learns the
change from our Sender interface (GET /tokens).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.ocpi.channels import cpo_channels
from emsp.ocpi.context import Services
from emsp.ocpi.endpoints import RECEIVER, usable_url
from emsp.ocpi.versions import adapter_for
from emsp.storage.queries import find_token
from emsp.storage.tables import PartnerRow, TokenRow
from emsp.wire import HttpRequest, OutboundRequest, dumps, loads

PURPOSE = "token_push"


def _cpo_parties(partner: PartnerRow) -> list[tuple[str, str]]:
    roles: Any = loads(partner.roles_json or "[]")
    parties: list[tuple[str, str]] = []
    for role in roles if isinstance(roles, list) else []:
        if (
            isinstance(role, dict)
            and role.get("role") == "CPO"
            and "country_code" in role
            and "party_id" in role
        ):
            parties.append((str(role["country_code"]), str(role["party_id"])))
    return list(dict.fromkeys(parties))


def pushed_token(request: HttpRequest) -> tuple[str, str, str, str] | None:
    """(country_code, party_id, uid, type) of the token a Token PUT carries, alike in every version:
    the path ends in {country_code}/{party_id}/{uid}, the body has `type`. The ids are CiStrings
    (compared upper-case). None when `request` is no such PUT."""
    parts = urlsplit(request.url).path.rsplit("/", 3)
    if request.method != "PUT" or len(parts) < 4 or request.body is None:
        return None
    try:
        body = loads(request.body)
    except ValueError:
        return None
    token_type = body.get("type") if isinstance(body, dict) else None
    if not isinstance(token_type, str):
        return None
    country_code, party_id, uid = (unquote(p).upper() for p in parts[1:])
    return country_code, party_id, uid, token_type


def push_token(
    services: Services, db: Session, token: TokenRow, *, only_partner: str | None = None
) -> list[str]:
    """Queue a Token PUT to every partner with a Tokens receiver (a federated token: to its own
    partner only; `only_partner`: to that one only); returns those partners' ids."""
    partners = db.scalars(
        select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
    ).all()
    pushed: list[str] = []
    for partner in partners:
        if token.partner is not None and token.partner != partner.partner_id:
            continue  # federated identity: a token issued for one partner is pushed to that one only
        if only_partner is not None and only_partner != partner.partner_id:
            continue
        if _push_to(services, db, partner, token):
            pushed.append(partner.partner_id)
    return pushed


def _request(services: Services, partner: PartnerRow, token: TokenRow) -> tuple[str, str] | None:
    """(URL, body) of the Token PUT to `partner` now, in its version; None when it has no Tokens
    receiver we call (or no credentials)."""
    s = services.settings
    url = usable_url(partner, "tokens", RECEIVER, s.base_url)
    if url is None or partner.token_b is None:
        return None
    adapter = adapter_for(partner.version)
    return f"{url.rstrip('/')}/{adapter.token_push_path(token, s)}", dumps(adapter.token_object(token, s))


def renew_if_outdated(services: Services, db: Session, call: OutboundRequest) -> bool:
    """Before a stored push is sent again: False when it is still what `push_token` would send now
    (same URL and body). Otherwise (True) it must not be sent: the partner's version or Tokens URL
    changed (a re-registration, a credentials update), so it would go to an endpoint or in a form
    the partner no longer serves, or the token changed without a push reaching this partner. The
    token's current state is queued to that partner instead (`push_token`; nothing when the token
    or the partner's receiver is gone). A push already made of a newer state superseded the stored
    one (emsp.call_retries), which is then dropped and never gets here."""
    token = pushed_token(call.request)
    partner = db.get(PartnerRow, call.partner)
    row = None if token is None else find_token(db, token[2], token[3])
    if row is None or partner is None:
        return token is not None  # the token is gone: nothing to tell (not a token push: keep it)
    if _request(services, partner, row) == (call.request.url, call.request.body):
        return False
    push_token(services, db, row, only_partner=call.partner)
    return True


def _push_to(services: Services, db: Session, partner: PartnerRow, token: TokenRow) -> bool:
    """Queue `token`'s PUTs to `partner`; False when it has no Tokens receiver we call."""
    s = services.settings
    built = _request(services, partner, token)
    if built is None or partner.token_b is None:  # (token_b: checked by _request, for mypy)
        return False
    target, body = built
    adapter = adapter_for(partner.version)
    # Without routing headers (2.1.1) one PUT reaches the partner's platform. Otherwise one PUT
    # per CPO party this partner is the channel for (emsp.ocpi.channels): not to a party its
    # hub reports unreachable (mod_hub_client_info: do not queue pushes; it GETs our Tokens
    # when back). A hub with no party known gets one PUT it may broadcast.
    parties: list[tuple[str, str]] = []
    if adapter.routing_headers:
        channels = cpo_channels(db, partner)
        parties = [c.party for c in channels if c.callable]
        if channels and not parties:
            return False
        if not channels and not partner.hub:
            parties = _cpo_parties(partner)
    for country_code, party_id in parties or [("", "")]:
        headers = {
            "Authorization": adapter.encode_authorization(partner.token_b),
            "Content-Type": "application/json",
        }
        if adapter.routing_headers:
            headers["OCPI-from-country-code"] = s.country_code
            headers["OCPI-from-party-id"] = s.party_id
        if country_code:
            headers["OCPI-to-country-code"] = country_code
            headers["OCPI-to-party-id"] = party_id
        services.queue_outbound(db, partner.partner_id, HttpRequest("PUT", target, headers, body), PURPOSE)
    return True
