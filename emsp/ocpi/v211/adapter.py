"""OCPI 2.1.1 adapter: 2.1.1 wire objects to and from the canonical documents.

Mapping (from the 2.1.1 object tables):
- the party of a Location, Tariff or Session is the one in the URL; a CDR's (POSTed without one)
  is the partner's one CPO party, from the operator's configuration;
- Session `start_datetime`/`end_datetime` and CDR `stop_date_time` -> `start_date_time`/`end_date_time`;
- `auth_id` (the Token's auth_id, our contract id) -> a canonical token with that contract id and
  no uid (the service finds our token of that contract); no authorization_reference exists;
- the embedded Location -> `location_id`, `evse_uid`, `connector_id` (Session) or a `cdr_location`;
- `total_cost` (a number, excl. VAT) -> {excl_vat}, incl. VAT unknown;
- Tariff: no VAT field -> `vat_unknown` (settlement then prices incl. VAT as unknown, never 0 %);
  a Connector's `tariff_id` -> `tariff_ids`; a FLAT CdrDimension (not one in later versions, the
  flat fee is priced from the tariff) is left out of the canonical charging periods;
- Authorization: `Token <token>`, not Base64-encoded (2.1.1 transport_and_format);
- AuthorizationInfo has no token and no authorization_reference; Tokens carry `auth_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from emsp.model import CdrInfo, CommandRequest, Money, PartyRef, SessionInfo
from emsp.ocpi.adapter import (
    VAT_UNKNOWN,
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
from emsp.ocpi.errors import invalid
from emsp.ocpi.v211 import commands as command_objects
from emsp.ocpi.v211 import schemas
from emsp.ocpi.validation import validate
from emsp.timeutil import format_utc

VERSION = "2.1.1"

ENDPOINTS: tuple[tuple[str, str | None], ...] = (
    ("credentials", None),
    ("locations", None),
    ("tariffs", None),
    ("sessions", None),
    ("cdrs", None),
    ("tokens", None),
    ("commands", None),  # the eMSP interface receives the asynchronous results (response_url)
)


def _raw_token(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "token" and value and value.isprintable() else None


def location_doc(wire: dict[str, Any], party: PartyRef) -> Doc:
    doc = {"country_code": party.country_code, "party_id": party.party_id, **wire}
    evses = wire.get("evses")
    if isinstance(evses, list):
        doc["evses"] = [_evse_doc(e) for e in evses]
    return doc


def _evse_doc(evse: Any) -> Any:
    if not isinstance(evse, dict) or not isinstance(evse.get("connectors"), list):
        return evse
    return {**evse, "connectors": [_connector_doc(c) for c in evse["connectors"]]}


def _connector_doc(connector: Any) -> Any:
    if not isinstance(connector, dict) or "tariff_id" not in connector:
        return connector
    doc = {k: v for k, v in connector.items() if k != "tariff_id"}
    if connector["tariff_id"] is not None:
        doc["tariff_ids"] = [connector["tariff_id"]]
    return doc


def tariff_doc(wire: dict[str, Any], party: PartyRef) -> Doc:
    return {"country_code": party.country_code, "party_id": party.party_id, **wire, VAT_UNKNOWN: True}


def _periods(wire: Any) -> list[Doc]:
    out = []
    for period in wire or []:
        dims = [d for d in period.get("dimensions", []) if d.get("type") != "FLAT"]
        if dims:
            out.append({**period, "dimensions": dims})
    return out


def _token(auth_id: str) -> Doc:
    return {"uid": "", "type": "RFID", "contract_id": auth_id}


def _where(location: schemas.Location) -> tuple[str, str]:
    if not location.evses:
        raise invalid("invalid field 'location.evses': the EVSE used is required")
    evse = location.evses[0]
    return evse.uid, evse.connectors[0].id


def _used(location: Doc) -> Doc:
    """What the canonical (2.2.1) CdrLocation says of the EVSE and Connector used, from the one
    EVSE and Connector a 2.1.1 CDR's Location holds: its evse_id (billing's evidence) and the
    connector's standard, format and power type (CdrLocation)."""
    evse = location["evses"][0]
    connector = evse["connectors"][0]
    out: Doc = {"evse_id": evse["evse_id"]} if evse.get("evse_id") is not None else {}
    for field in ("standard", "format", "power_type"):
        if connector.get(field) is not None:
            out[f"connector_{field}"] = connector[field]
    return out


class V211Adapter:
    version = VERSION
    endpoints = ENDPOINTS
    commands = command_objects.COMMANDS
    routing_headers = False  # 2.1.1 has no message routing headers (no hubs)
    endpoint_roles = False  # 2.1.1 Endpoint: identifier and url only
    patch_appends_periods = False  # 2.1.1 PATCH: "same as PUT" for the fields it carries
    patch_needs_last_updated = False
    datetime_offsets = True  # types: ISO 8601 combined date and time; the spec examples use offsets
    cdr_url_has_party = False
    # 2.1.1 mod_locations: Location, EVSE and Connector fields of cardinality 1 (+ for connectors).
    location_required = (
        frozenset({"id", "type", "address", "city", "postal_code", "country", "coordinates", "last_updated"}),
        frozenset({"uid", "status", "connectors", "last_updated"}),
        frozenset({"id", "standard", "format", "power_type", "voltage", "amperage", "last_updated"}),
    )
    # 2.1.1 tables: Location.id and EVSE.uid string(39), Connector.id, Tariff.id and Session.id
    # string(36) (case-sensitive, any printable UTF-8), CDR.id CiString(36).
    url_ids: Mapping[str, tuple[tuple[int, bool], ...]] = MappingProxyType(
        {
            "locations": ((39, False), (39, False), (36, False)),
            "tariffs": ((36, False),),
            "sessions": ((36, False),),
            "cdrs": ((36, True),),
        }
    )

    def decode_authorization(self, header: str | None) -> str | None:
        return _raw_token(header)

    def price_from_number(self, value: Any) -> Doc | None:
        return None  # 2.1.1 costs are decimal numbers

    def encode_authorization(self, token: str) -> str:
        return f"Token {token}"

    def credentials(self, body: Any) -> CredentialsInfo:
        c = validate(schemas.Credentials, body)
        # 2.1.1 credentials name one party and no role: toward an eMSP that party is a CPO.
        role = CredentialsRoleInfo("CPO", c.country_code, c.party_id, c.business_details.name)
        return CredentialsInfo(c.token, c.url, (role,))

    def our_credentials(self, settings: Settings, token: str, url: str) -> Doc:
        return {
            "token": token,
            "url": url,
            "business_details": {"name": settings.business_name},
            "party_id": settings.party_id,
            "country_code": settings.country_code,
        }

    def endpoints_of(self, details: Any) -> tuple[str, list[EndpointInfo]]:
        model = validate(schemas.VersionDetails, details)
        return model.version, [EndpointInfo(e.identifier, None, e.url) for e in model.endpoints]

    def location(self, body: Any, party: PartyRef) -> Stamped:
        model = validate(schemas.Location, body)
        return Stamped(location_doc(body, party), model.last_updated, {"time_zone": model.time_zone or ""})

    def evse(self, body: Any) -> Stamped:
        return Stamped(_evse_doc(body), validate(schemas.Evse, body).last_updated)

    def connector(self, body: Any) -> Stamped:
        return Stamped(_connector_doc(body), validate(schemas.Connector, body).last_updated)

    def patch_last_updated(self, body: Any) -> datetime | None:
        return validate(schemas.PatchBody, body).last_updated

    def tariff(self, body: Any, party: PartyRef) -> Stamped:
        model = validate(schemas.Tariff, body)
        return Stamped(tariff_doc(body, party), model.last_updated, {"currency": model.currency})

    def session(self, body: Any, party: PartyRef, partner: str) -> tuple[SessionInfo, Doc]:
        s = validate(schemas.Session, body)
        evse_uid, connector_id = _where(s.location)
        doc: Doc = {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": s.id,
            "start_date_time": body["start_datetime"],
            "kwh": s.kwh,
            "cdr_token": _token(s.auth_id),
            "auth_method": s.auth_method,
            "location_id": s.location.id,
            "evse_uid": evse_uid,
            "connector_id": connector_id,
            "currency": s.currency,
            "status": s.status,
            "last_updated": body["last_updated"],
        }
        if s.end_datetime is not None:
            doc["end_date_time"] = body["end_datetime"]
        if s.meter_id is not None:
            doc["meter_id"] = s.meter_id
        if s.charging_periods is not None:
            doc["charging_periods"] = _periods(body.get("charging_periods"))
        if s.total_cost is not None:
            doc["total_cost"] = {"excl_vat": s.total_cost}
        info = SessionInfo(
            partner=partner,
            party=party,
            session_id=s.id,
            status=s.status,
            token_uid="",
            contract_id=s.auth_id,
            authorization_reference=None,
            location_id=s.location.id,
            kwh=s.kwh,
            start=s.start_datetime,
            end=s.end_datetime,
            last_updated=s.last_updated,
        )
        return info, doc

    def session_patch(self, body: Any) -> SessionPatch | None:
        return None  # the canonical Session is mapped from the wire body: the general path

    def cdr(self, body: Any, party: PartyRef | None, partner: str, now: datetime) -> tuple[CdrInfo, Doc]:
        c = validate(schemas.Cdr, body)
        if party is None:
            raise invalid("a 2.1.1 CDR names no party, and this partner acts for more than one CPO party")
        evse_uid, connector_id = _where(c.location)
        where: Doc = {k: v for k, v in body["location"].items() if k not in ("evses", "last_updated", "type")}
        where.update({"evse_uid": evse_uid, "connector_id": connector_id} | _used(body["location"]))
        doc: Doc = {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": c.id,
            "start_date_time": body["start_date_time"],
            "end_date_time": body["stop_date_time"],
            "cdr_token": _token(c.auth_id),
            "auth_method": c.auth_method,
            "cdr_location": where,
            "currency": c.currency,
            "charging_periods": _periods(body["charging_periods"]),
            "total_cost": {"excl_vat": c.total_cost},
            "total_energy": c.total_energy,
            "total_time": c.total_time,
            "last_updated": body["last_updated"],
        }
        if c.tariffs is not None:
            doc["tariffs"] = [tariff_doc(t, party) for t in body["tariffs"]]
        for name in ("meter_id", "total_parking_time", "remark"):
            if body.get(name) is not None:
                doc[name] = body[name]
        info = CdrInfo(
            partner=partner,
            party=party,
            cdr_id=c.id,
            session_id=None,  # 2.1.1 CDRs name no session: the service links it
            token_uid="",
            contract_id=c.auth_id,
            authorization_reference=None,
            location_id=c.location.id,
            total_energy_kwh=c.total_energy,
            total_cost=Money(c.total_cost, None, c.currency),
            start=c.start_date_time,
            end=c.stop_date_time,
            received_at=now,
            credit=False,
        )
        return info, doc

    def token_object(self, token: TokenLike, settings: Settings) -> Doc:
        text = getattr(token, "last_updated_text", "") or format_utc(token.last_updated)
        return {
            "uid": token.uid,
            "type": token.type,
            "auth_id": token.contract_id,
            "issuer": token.issuer,
            "valid": token.valid,
            "whitelist": token.whitelist,
            "last_updated": text,
        }

    def token_push_path(self, token: TokenLike, settings: Settings) -> str:
        # 2.1.1 mod_tokens PUT: {country_code}/{party_id}/{token_uid}, no type parameter.
        return "/".join(quote(p, safe="") for p in (settings.country_code, settings.party_id, token.uid))

    def location_references(self, body: Any) -> LocationRefs:
        refs = validate(schemas.LocationReferences, body)
        return LocationRefs(refs.location_id, tuple(refs.evse_uids or ()), tuple(refs.connector_ids or ()))

    def authorization_info(
        self, allowed: str, token: Doc, refs: LocationRefs | None, reference: str | None
    ) -> Doc:
        info: Doc = {"allowed": allowed}
        if refs is not None and allowed == "ALLOWED":
            location: Doc = {"location_id": refs.location_id}
            if refs.evse_uids:
                location["evse_uids"] = list(refs.evse_uids)
            if refs.connector_ids:
                location["connector_ids"] = list(refs.connector_ids)
            info["location"] = location
        return info

    def command_body(self, request: CommandRequest, token: Doc | None, response_url: str) -> Doc:
        return command_objects.command_body(request, token, response_url)

    def command_response(self, data: Any) -> tuple[str, int | None, str | None]:
        return command_objects.command_response(data)

    def command_result(self, body: Any) -> tuple[str, str | None]:
        return command_objects.command_result(body)


ADAPTER = V211Adapter()
