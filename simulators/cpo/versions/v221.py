"""OCPI 2.2.1: the CPO's internal form is this version's wire form, so the mapping is the identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from emsp.settlement.tariff import Tariff, parse_tariff
from simulators.cpo.versions import TokenInfo


class Wire221:
    version = "2.2.1"
    token_encoding: Literal["plain", "base64"] | None = None
    routing_headers = True
    endpoint_roles = True
    pulls_tokens = False

    def credentials(
        self, token: str, url: str, country_code: str, party_id: str, business_name: str
    ) -> dict[str, Any]:
        # credentials: one CredentialsRole per party this platform acts for
        role = {
            "role": "CPO",
            "party_id": party_id,
            "country_code": country_code,
            "business_details": {"name": business_name},
        }
        return {"token": token, "url": url, "roles": [role]}

    def emsp_party(self, credentials: Mapping[str, Any]) -> tuple[str, str]:
        roles = credentials.get("roles") or []
        emsp = next((r for r in roles if r.get("role") == "EMSP"), roles[0] if roles else {})
        return str(emsp.get("country_code", "")), str(emsp.get("party_id", ""))

    def tariff(self, tariff: Mapping[str, Any]) -> dict[str, Any]:
        return dict(tariff)

    def parse_tariff(self, tariff: Mapping[str, Any], country_code: str, party_id: str) -> Tariff:
        return parse_tariff(tariff)

    def location(self, location: Mapping[str, Any]) -> dict[str, Any]:
        return dict(location)

    def session(self, session: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        return dict(session)

    def session_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        return dict(patch)

    def cdr(self, cdr: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        return dict(cdr)

    def token(self, token: Mapping[str, Any], emsp_party: tuple[str, str]) -> TokenInfo | None:
        uid = token.get("uid")
        if not isinstance(uid, str):
            return None
        return TokenInfo(
            uid=uid,
            type=str(token.get("type", "RFID")),
            contract_id=str(token.get("contract_id", uid)),
            country_code=str(token.get("country_code", emsp_party[0])),
            party_id=str(token.get("party_id", emsp_party[1])),
        )

    def command_response(self, result: str, timeout_s: int) -> dict[str, Any]:
        return {"result": result, "timeout": timeout_s}

    def command_result(self, result: str) -> dict[str, Any]:
        return {"result": result}


WIRE = Wire221()
