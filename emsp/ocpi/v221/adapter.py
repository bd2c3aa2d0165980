"""OCPI 2.2.1 adapter: its wire objects are the canonical documents (identity mapping, validated)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from emsp.model import CdrInfo, CommandRequest, Money, PartyRef, SessionInfo
from emsp.ocpi.adapter import (
    CredentialsInfo,
    CredentialsRoleInfo,
    Doc,
    EndpointInfo,
    LocationRefs,
    SessionPatch,
    Settings,
    Stamped,
    TokenLike,
)
from emsp.ocpi.auth import decode_authorization, encode_token
from emsp.ocpi.v221 import commands as command_objects
from emsp.ocpi.v221 import schemas
from emsp.ocpi.validation import validate
from emsp.timeutil import format_utc

VERSION = "2.2.1"

# (module identifier, interface role) of the eMSP role; credentials has no role.
ENDPOINTS: tuple[tuple[str, str | None], ...] = (
    ("credentials", None),
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("hubclientinfo", "RECEIVER"),  # mod_hub_client_info: a hub tells us who is connected
    ("commands", "SENDER"),  # the Sender interface receives the CommandResults (response_url)
)


def credentials_info(creds: schemas.Credentials) -> CredentialsInfo:
    roles = tuple(
        CredentialsRoleInfo(r.role, r.country_code, r.party_id, r.business_details.name) for r in creds.roles
    )
    return CredentialsInfo(creds.token, creds.url, roles)


def session_info(partner: str, s: schemas.Session) -> SessionInfo:
    return SessionInfo(
        partner=partner,
        party=PartyRef(s.country_code.upper(), s.party_id.upper()),
        session_id=s.id,
        status=s.status,
        token_uid=s.cdr_token.uid,
        contract_id=s.cdr_token.contract_id,
        authorization_reference=s.authorization_reference,
        location_id=s.location_id,
        kwh=s.kwh,
        start=s.start_date_time,
        end=s.end_date_time,
        last_updated=s.last_updated,
    )


class _Patched:
    """A Session PATCH validated field by field (`V221Adapter.session_patch`): the fields sent
    that Session has, as validating them in a Session gives them."""

    __slots__ = ("_values", "last_updated")

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self.last_updated: datetime = values["last_updated"]

    def apply(self, stored: SessionInfo, partner: str) -> SessionInfo:
        """`session_info` of the stored Session merged with this PATCH, from `session_info` of the
        stored Session alone: each field it reads replaced where the PATCH sends that field."""
        v = self._values
        party = stored.party
        if "country_code" in v or "party_id" in v:
            cc = v["country_code"].upper() if "country_code" in v else party.country_code
            pid = v["party_id"].upper() if "party_id" in v else party.party_id
            party = PartyRef(cc, pid)
        token = v.get("cdr_token")
        return SessionInfo(
            partner=partner,
            party=party,
            session_id=v.get("id", stored.session_id),
            status=v.get("status", stored.status),
            token_uid=stored.token_uid if token is None else token.uid,
            contract_id=stored.contract_id if token is None else token.contract_id,
            authorization_reference=(v.get("authorization_reference", stored.authorization_reference)),
            location_id=v.get("location_id", stored.location_id),
            kwh=v.get("kwh", stored.kwh),
            start=v.get("start_date_time", stored.start),
            end=v.get("end_date_time", stored.end),
            last_updated=self.last_updated,
        )


def cdr_info(partner: str, c: schemas.Cdr, received_at: datetime) -> CdrInfo:
    return CdrInfo(
        partner=partner,
        party=PartyRef(c.country_code.upper(), c.party_id.upper()),
        cdr_id=c.id,
        session_id=c.session_id,
        token_uid=c.cdr_token.uid,
        contract_id=c.cdr_token.contract_id,
        authorization_reference=c.authorization_reference,
        location_id=c.cdr_location.id,
        total_energy_kwh=c.total_energy,
        total_cost=Money(c.total_cost.excl_vat, c.total_cost.incl_vat, c.currency),
        start=c.start_date_time,
        end=c.end_date_time,
        received_at=received_at,
        credit=bool(c.credit),
    )


def token_doc(token: TokenLike, settings: Settings) -> Doc:
    text = getattr(token, "last_updated_text", "") or format_utc(token.last_updated)
    return {
        "country_code": settings.country_code,
        "party_id": settings.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
        "issuer": token.issuer,
        "valid": token.valid,
        "whitelist": token.whitelist,
        "last_updated": text,
    }


def authorization_doc(allowed: str, token: Doc, refs: LocationRefs | None, reference: str | None) -> Doc:
    info: Doc = {"allowed": allowed, "token": token}
    if refs is not None and allowed == "ALLOWED":
        # Echo only where the driver may charge; we do not restrict EVSEs, so all requested ones.
        location: Doc = {"location_id": refs.location_id}
        if refs.evse_uids:
            location["evse_uids"] = list(refs.evse_uids)
        info["location"] = location
    if reference is not None:
        info["authorization_reference"] = reference
    return info


class V221Adapter:
    version = VERSION
    endpoints = ENDPOINTS
    commands = command_objects.COMMANDS
    routing_headers = True
    endpoint_roles = True
    patch_appends_periods = True  # mod_sessions PATCH: charging_periods are added
    patch_needs_last_updated = True
    datetime_offsets = False  # types, DateTime: Z or no designator only
    cdr_url_has_party = True
    # 2.2.1 and 2.3.0 mod_locations: Location, EVSE and Connector fields of cardinality 1 (+ for
    # connectors).
    location_required = (
        frozenset(
            {"country_code", "party_id", "id", "publish", "address", "city", "country", "coordinates"}
            | {"time_zone", "last_updated"}
        ),
        frozenset({"uid", "status", "connectors", "last_updated"}),
        frozenset({"id", "standard", "format", "power_type", "max_voltage", "max_amperage", "last_updated"}),
    )
    # 2.2.1 and 2.3.0 tables: every id CiString(36), a CDR's CiString(39).
    url_ids: Mapping[str, tuple[tuple[int, bool], ...]] = MappingProxyType(
        {
            "locations": ((36, True), (36, True), (36, True)),
            "tariffs": ((36, True),),
            "sessions": ((36, True),),
            "cdrs": ((39, True),),
        }
    )

    def decode_authorization(self, header: str | None) -> str | None:
        return decode_authorization(header)

    def encode_authorization(self, token: str) -> str:
        return encode_token(token)

    def price_from_number(self, value: Any) -> Doc | None:
        return {"excl_vat": value}  # types: Price (incl_vat is optional)

    def credentials(self, body: Any) -> CredentialsInfo:
        return credentials_info(validate(schemas.Credentials, body))

    def our_credentials(self, settings: Settings, token: str, url: str) -> Doc:
        return {
            "token": token,
            "url": url,
            "roles": [
                {
                    "role": "EMSP",
                    "business_details": {"name": settings.business_name},
                    "party_id": settings.party_id,
                    "country_code": settings.country_code,
                }
            ],
        }

    def endpoints_of(self, details: Any) -> tuple[str, list[EndpointInfo]]:
        model = validate(schemas.VersionDetails, details)
        return model.version, [EndpointInfo(e.identifier, e.role, e.url) for e in model.endpoints]

    def location(self, body: Any, party: PartyRef) -> Stamped:
        model = validate(schemas.Location, body)
        return Stamped(body, model.last_updated, {"time_zone": model.time_zone})

    def evse(self, body: Any) -> Stamped:
        return Stamped(body, validate(schemas.Evse, body).last_updated)

    def connector(self, body: Any) -> Stamped:
        return Stamped(body, validate(schemas.Connector, body).last_updated)

    def patch_last_updated(self, body: Any) -> datetime | None:
        return validate(schemas.PatchBody, body).last_updated

    def tariff(self, body: Any, party: PartyRef) -> Stamped:
        model = validate(schemas.Tariff, body)
        return Stamped(body, model.last_updated, {"currency": model.currency})

    def session(self, body: Any, party: PartyRef, partner: str) -> tuple[SessionInfo, Doc]:
        return session_info(partner, validate(schemas.Session, body)), body

    def session_patch(self, body: Any) -> SessionPatch | None:
        # Outside its window (start, end: checked together, on the general path), Session has no rule
        # across its fields: each field sent is valid alone exactly when the merged Session holds it
        # validly (charging_periods: the ones added, the stored ones were valid). Anything this
        # refuses takes the general path, which names the error as before.
        if not isinstance(body, dict) or "last_updated" not in body:
            return None
        if not schemas.SESSION_WINDOW_FIELDS.isdisjoint(body):
            return None
        values: dict[str, Any] = {}
        checks = schemas.SESSION_FIELDS
        try:
            for name, value in body.items():
                check = checks.get(name)
                if check is not None:  # a field beyond the object is kept as it is
                    values[name] = check.validate_python(value)
        except ValidationError:
            return None
        return _Patched(values)

    def cdr(self, body: Any, party: PartyRef | None, partner: str, now: datetime) -> tuple[CdrInfo, Doc]:
        return cdr_info(partner, validate(schemas.Cdr, body), now), body

    def token_object(self, token: TokenLike, settings: Settings) -> Doc:
        return token_doc(token, settings)

    def token_push_path(self, token: TokenLike, settings: Settings) -> str:
        # mod_tokens PUT: {country_code}/{party_id}/{token_uid}[?type=]
        path = "/".join(quote(p, safe="") for p in (settings.country_code, settings.party_id, token.uid))
        return f"{path}?type={quote(token.type, safe='')}"

    def location_references(self, body: Any) -> LocationRefs:
        refs = validate(schemas.LocationReferences, body)
        return LocationRefs(refs.location_id, tuple(refs.evse_uids or ()))

    def authorization_info(
        self, allowed: str, token: Doc, refs: LocationRefs | None, reference: str | None
    ) -> Doc:
        return authorization_doc(allowed, token, refs, reference)

    def command_body(self, request: CommandRequest, token: Doc | None, response_url: str) -> Doc:
        return command_objects.command_body(request, token, response_url)

    def command_response(self, data: Any) -> tuple[str, int | None, str | None]:
        return command_objects.command_response(data)

    def command_result(self, body: Any) -> tuple[str, str | None]:
        return command_objects.command_result(body)


ADAPTER = V221Adapter()
