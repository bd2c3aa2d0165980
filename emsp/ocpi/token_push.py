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

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.ocpi.channels import cpo_channels
from emsp.ocpi.context import Services
from emsp.ocpi.endpoints import RECEIVER, usable_url
from emsp.ocpi.versions import adapter_for
from emsp.storage.tables import PartnerRow, TokenRow
from emsp.wire import HttpRequest, dumps, loads

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


def push_token(services: Services, db: Session, token: TokenRow) -> list[str]:
    """Queue a Token PUT to every partner with a Tokens receiver (a federated token: to its own
    partner only); returns those partners' ids."""
    s = services.settings
    partners = db.scalars(
        select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
    ).all()
    pushed: list[str] = []
    for partner in partners:
        if token.partner is not None and token.partner != partner.partner_id:
            continue  # federated identity: a token issued for one partner is pushed to that one only
        url = usable_url(partner, "tokens", RECEIVER, s.base_url)
        if url is None or partner.token_b is None:
            continue
        adapter = adapter_for(partner.version)
        body = dumps(adapter.token_object(token, s))
        target = f"{url.rstrip('/')}/{adapter.token_push_path(token, s)}"
        # Without routing headers (2.1.1) one PUT reaches the partner's platform. Otherwise one PUT
        # per CPO party this partner is the channel for (emsp.ocpi.channels): not to a party its
        # hub reports unreachable (mod_hub_client_info: do not queue pushes; it GETs our Tokens
        # when back). A hub with no party known gets one PUT it may broadcast.
        parties: list[tuple[str, str]] = []
        if adapter.routing_headers:
            channels = cpo_channels(db, partner)
            parties = [c.party for c in channels if c.callable]
            if channels and not parties:
                continue
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
            services.queue_outbound(
                db, partner.partner_id, HttpRequest("PUT", target, headers, body), PURPOSE
            )
        pushed.append(partner.partner_id)
    return pushed
