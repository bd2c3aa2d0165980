"""Push of our Tokens to the CPOs' Tokens Receiver interface (2.2.1 mod_tokens, PUT method).

The eMSP owns its Tokens: a new or changed Token is PUT to
`{tokens receiver url}/{country_code}/{party_id}/{uid}?type={type}` of every registered partner
whose version details list a `tokens` RECEIVER endpoint, once per CPO party of that partner
(addressed with the routing headers, transport_and_format "Message Routing Headers"). A CPO
without that endpoint still learns the change from our Sender interface (GET /tokens).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from emsp.ocpi.auth import encode_token
from emsp.ocpi.context import Services
from emsp.services.tokens import token_object
from emsp.storage.tables import PartnerRow, TokenRow
from emsp.wire import HttpRequest, dumps, loads

PURPOSE = "token_push"


def receiver_url(partner: PartnerRow, module: str) -> str | None:
    endpoints: Any = loads(partner.endpoints_json or "[]")
    for endpoint in endpoints if isinstance(endpoints, list) else []:
        if (
            isinstance(endpoint, dict)
            and endpoint.get("identifier") == module
            and endpoint.get("role") == "RECEIVER"
            and isinstance(endpoint.get("url"), str)
        ):
            return str(endpoint["url"])
    return None


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
    """Queue a Token PUT to every partner with a Tokens receiver; returns those partners' ids."""
    s = services.settings
    body = dumps(token_object(token, s.country_code, s.party_id))
    path = "/".join(quote(part, safe="") for part in (s.country_code, s.party_id, token.uid))
    partners = db.scalars(
        select(PartnerRow).where(PartnerRow.registered.is_(True)).order_by(PartnerRow.partner_id)
    ).all()
    pushed: list[str] = []
    for partner in partners:
        url = receiver_url(partner, "tokens")
        if url is None or partner.token_b is None:
            continue
        target = f"{url.rstrip('/')}/{path}?type={quote(token.type, safe='')}"
        for country_code, party_id in _cpo_parties(partner) or [("", "")]:
            headers = {
                "Authorization": encode_token(partner.token_b),
                "Content-Type": "application/json",
                "OCPI-from-country-code": s.country_code,
                "OCPI-from-party-id": s.party_id,
            }
            if country_code:
                headers["OCPI-to-country-code"] = country_code
                headers["OCPI-to-party-id"] = party_id
            services.queue_outbound(
                db, partner.partner_id, HttpRequest("PUT", target, headers, body), PURPOSE
            )
        pushed.append(partner.partner_id)
    return pushed
