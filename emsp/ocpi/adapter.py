"""What a version adapter (`emsp.ocpi.v211`, `v221`, `v230`) offers the version-agnostic OCPI layer.

An adapter holds one OCPI version's wire models and the mapping between its wire objects and the
canonical ones; the modules in `emsp.ocpi.modules`, the router and the handshake only talk to this
interface (design principle 4). The canonical *document* of a Location, Tariff, Session or CDR is
the JSON object the layers above read (settlement, quotes, contract API): it has the shape of the
OCPI 2.2.1 object (prices as `excl_vat`/`incl_vat`, a `cdr_token`, a `cdr_location`, connectors
with `tariff_ids`), plus `vat_unknown: true` on a tariff whose components state no VAT at all
(2.1.1). What a version has beyond it stays in the verbatim wire body, stored beside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from emsp.model import VAT_UNKNOWN, CdrInfo, CommandRequest, PartyRef, SessionInfo

Doc = dict[str, Any]

__all__ = ["VAT_UNKNOWN"]


@dataclass(frozen=True, slots=True)
class CredentialsRoleInfo:
    role: str
    country_code: str
    party_id: str
    business_name: str

    def as_doc(self) -> Doc:
        """The canonical form stored with the partner (the 2.2.1 CredentialsRole shape)."""
        return {
            "role": self.role,
            "business_details": {"name": self.business_name},
            "party_id": self.party_id,
            "country_code": self.country_code,
        }


@dataclass(frozen=True, slots=True)
class CredentialsInfo:
    token: str
    url: str
    roles: tuple[CredentialsRoleInfo, ...]
    hub_party: tuple[str, str] | None = None  # 2.3.0 hub_party_id, (country_code, party_id)


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    identifier: str
    role: str | None  # None: the version names no roles (2.1.1)
    url: str

    def as_doc(self) -> Doc:
        return {"identifier": self.identifier, "role": self.role, "url": self.url}


@dataclass(frozen=True, slots=True)
class Stamped:
    """A canonical document with the fields the receiver logic needs from it."""

    doc: Doc
    last_updated: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LocationRefs:
    location_id: str
    evse_uids: tuple[str, ...] = ()
    connector_ids: tuple[str, ...] = ()


class SessionPatch(Protocol):
    """A Session PATCH whose fields were validated on their own (`VersionAdapter.session_patch`)."""

    @property
    def last_updated(self) -> datetime: ...

    def apply(self, stored: SessionInfo, partner: str) -> SessionInfo:
        """What `session()` reads from the stored Session merged with this PATCH, given what it
        read from the stored Session alone (`stored`)."""
        ...


class Settings(Protocol):
    @property
    def country_code(self) -> str: ...
    @property
    def party_id(self) -> str: ...
    @property
    def business_name(self) -> str: ...


class TokenLike(Protocol):
    @property
    def uid(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def contract_id(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def valid(self) -> bool: ...
    @property
    def whitelist(self) -> str: ...
    @property
    def last_updated(self) -> datetime: ...


class VersionAdapter(Protocol):
    """One OCPI version's wire form, mapped to and from the canonical model."""

    version: str
    # (module identifier, interface role or None) of the eMSP role this version serves.
    endpoints: tuple[tuple[str, str | None], ...]
    routing_headers: bool  # OCPI-from/to-* headers exist in this version
    endpoint_roles: bool  # version details name each endpoint's role (SENDER/RECEIVER)
    # A Session PATCH's charging_periods are appended to the stored ones (else replaced).
    patch_appends_periods: bool
    # A PATCH must carry last_updated.
    patch_needs_last_updated: bool
    # Path segments after {cdrs}/ of the URL of a stored CDR: the party and the id, or the id only.
    cdr_url_has_party: bool
    # The ids in a module's URLs, in path order (Location: location, EVSE, connector), each its
    # (maximum length, CiString: printable ASCII only; else a printable UTF-8 `string`), from the
    # version's object tables: 2.1.1 Locations and EVSEs have string(39) ids, 2.2.1 CiString(36).
    url_ids: Mapping[str, tuple[tuple[int, bool], ...]]
    # A DateTime may carry a UTC offset: 2.1.1 (ISO 8601; its own examples do). From 2.2.1 on only
    # a Z or no designator (types, DateTime: "other formats/patterns are not allowed").
    datetime_offsets: bool
    # The fields of cardinality 1 in this version's Location, EVSE and Connector tables (in that
    # order): a PATCH may not set them to null, which would leave an object the spec cannot hold.
    location_required: tuple[frozenset[str], frozenset[str], frozenset[str]]

    def decode_authorization(self, header: str | None) -> str | None: ...
    def price_from_number(self, value: Any) -> Doc | None:
        """This version's Price object for a cost given as a bare number; None where the
        version's costs are numbers (a partner's `total_cost_number` tolerance)."""
        ...

    def encode_authorization(self, token: str) -> str: ...

    def credentials(self, body: Any) -> CredentialsInfo: ...
    def our_credentials(self, settings: Settings, token: str, url: str) -> Doc: ...
    def endpoints_of(self, details: Any) -> tuple[str, list[EndpointInfo]]: ...

    def location(self, body: Any, party: PartyRef) -> Stamped: ...
    def evse(self, body: Any) -> Stamped: ...
    def connector(self, body: Any) -> Stamped: ...
    def patch_last_updated(self, body: Any) -> datetime | None: ...
    def tariff(self, body: Any, party: PartyRef) -> Stamped: ...
    def session(self, body: Any, party: PartyRef, partner: str) -> tuple[SessionInfo, Doc]: ...
    def session_patch(self, body: Any) -> SessionPatch | None:
        """A PATCH's fields validated on their own, for a version whose canonical Session is its
        wire body: when this accepts them, validating the stored (valid) Session merged with them
        accepts it too and reads the same; None (invalid, or not offered): the general path
        validates the merged Session, which also names the error."""
        ...

    def cdr(self, body: Any, party: PartyRef | None, partner: str, now: datetime) -> tuple[CdrInfo, Doc]: ...

    def token_object(self, token: TokenLike, settings: Settings) -> Doc: ...
    def token_push_path(self, token: TokenLike, settings: Settings) -> str: ...
    def location_references(self, body: Any) -> LocationRefs: ...
    def authorization_info(
        self, allowed: str, token: Doc, refs: LocationRefs | None, reference: str | None
    ) -> Doc: ...

    # mod_commands, the eMSP as Sender: the CommandTypes this version has, the request object of a
    # command (OcpiError 2001 when the version's table refuses it), the CommandResponse answered
    # (result, timeout in seconds or None when the version has none, message) and the CommandResult
    # POSTed on the response_url (result, message).
    commands: tuple[str, ...]

    def command_body(self, request: CommandRequest, token: Doc | None, response_url: str) -> Doc: ...
    def command_response(self, data: Any) -> tuple[str, int | None, str | None]: ...
    def command_result(self, body: Any) -> tuple[str, str | None]: ...
