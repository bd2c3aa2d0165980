"""The mock CPO's OCPI wire form per version: one small module per version, chosen once per CPO.

The CPO builds its objects in one internal form (the OCPI 2.2.1 shapes, `simulators/cpo/ocpi_objects.py`
and `locations.py`); a version module turns them into its own wire form on the way out and reads
the eMSP's answers on the way in. Everything that differs between versions lives in these modules,
as data (`CpoWire` attributes) and small mapping functions; the CPO itself never branches on a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from emsp.settlement.tariff import Tariff

VERSIONS = ("2.1.1", "2.2.1", "2.3.0")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the CPO needs of a Token to name it in Sessions and CDRs (2.2.1 CdrToken fields)."""

    uid: str
    type: str
    contract_id: str
    country_code: str
    party_id: str


class CpoWire(Protocol):
    version: str
    # None: the dialect decides (2.2.1 and later say base64; partners in practice differ)
    token_encoding: Literal["plain", "base64"] | None
    routing_headers: bool  # OCPI-from/to-* headers (2.2 and later)
    endpoint_roles: bool  # version details name SENDER/RECEIVER per endpoint (2.2 and later)
    # The authorization answer names no token (2.1.1): learn auth_ids from the eMSP's Tokens list
    pulls_tokens: bool

    def credentials(
        self, token: str, url: str, country_code: str, party_id: str, business_name: str
    ) -> dict[str, Any]: ...

    def emsp_party(self, credentials: Mapping[str, Any]) -> tuple[str, str]: ...

    def tariff(self, tariff: Mapping[str, Any]) -> dict[str, Any]: ...

    # `tariff` in the internal form; the CPO prices what it publishes in this version
    def parse_tariff(self, tariff: Mapping[str, Any], country_code: str, party_id: str) -> Tariff: ...

    def location(self, location: Mapping[str, Any]) -> dict[str, Any]: ...

    # `location`: the Location as this version published it (2.1.1 Sessions and CDRs embed it)
    def session(self, session: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]: ...

    def session_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]: ...

    def cdr(self, cdr: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]: ...

    def token(self, token: Mapping[str, Any], emsp_party: tuple[str, str]) -> TokenInfo | None: ...

    # mod_commands: the CommandResponse answered and the CommandResult POSTed (2.2.1 values in)
    def command_response(self, result: str, timeout_s: int) -> dict[str, Any]: ...

    def command_result(self, result: str) -> dict[str, Any]: ...


def wire_for(version: str) -> CpoWire:
    from simulators.cpo.versions import v211, v221, v230

    modules: dict[str, CpoWire] = {"2.1.1": v211.WIRE, "2.2.1": v221.WIRE, "2.3.0": v230.WIRE}
    try:
        return modules[version]
    except KeyError:
        raise ValueError(f"unknown OCPI version {version!r}; known: {list(VERSIONS)}") from None
