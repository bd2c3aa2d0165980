"""OCPI 2.1.1 wire form of the mock CPO, mapped from its internal (2.2.1-shaped) objects.

What differs from 2.2.1 (2.1.1 credentials, mod_locations, mod_tariffs, mod_sessions, mod_cdrs,
mod_tokens, transport_and_format):
- the Authorization header carries the token as is (no base64), no routing headers, no roles in
  version details; credentials name one party (`party_id`, `country_code`, `business_details`);
- objects carry no `country_code`/`party_id` (the URL and the credentials say whose they are);
- Tariff: no VAT on components, no type, min/max price or validity window; restrictions without
  current or reservation limits;
- Location: `type` and `postal_code` required, no `publish`; Connector `voltage`/`amperage` and a
  single `tariff_id`;
- Session: `start_datetime`/`end_datetime`, `auth_id` (no CdrToken), the Location with only the
  EVSE and Connector in use; CDR: `stop_date_time`, `auth_id`, `location`, no `session_id`;
  `total_cost` is a number (excl. VAT); ChargingPeriods name no tariff and know fewer dimensions;
- the real-time authorization answer names no token: the CPO learns `auth_id` from the Tokens list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from emsp.settlement.tariff import Tariff, parse_tariff_211
from simulators.cpo.versions import TokenInfo

# The scenario gives no postal code or location type; 2.1.1 Location requires both.
POSTAL_CODE = "0000"
LOCATION_TYPE = "PARKING_LOT"
_RESTRICTIONS = (
    "start_time",
    "end_time",
    "start_date",
    "end_date",
    "min_kwh",
    "max_kwh",
    "min_power",
    "max_power",
    "min_duration",
    "max_duration",
    "day_of_week",
)
_DIMENSIONS = frozenset({"ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"})


def _pick(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: data[key] for key in keys if key in data}


def _excl_vat(price: Any) -> Any:
    """2.2.1 Price -> 2.1.1 number (excl. VAT, the only price 2.1.1 states)."""
    return price["excl_vat"] if isinstance(price, Mapping) else price


def _connector(connector: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(connector, "id", "standard", "format", "power_type")
    out |= {"voltage": connector["max_voltage"], "amperage": connector["max_amperage"]}
    tariff_ids = connector.get("tariff_ids") or []
    if tariff_ids:
        out["tariff_id"] = tariff_ids[0]
    out["last_updated"] = connector["last_updated"]
    return out


def _evse(evse: Mapping[str, Any]) -> dict[str, Any]:
    out = _pick(evse, "uid", "evse_id", "status")
    out["connectors"] = [_connector(c) for c in evse["connectors"]]
    out["last_updated"] = evse["last_updated"]
    return out


def _only(location: Mapping[str, Any], evse_uid: str, connector_id: str) -> dict[str, Any]:
    """The (2.1.1) Location with only the EVSE and Connector a session used (mod_sessions, mod_cdrs)."""
    evses = []
    for evse in location.get("evses", []):
        if evse["uid"] == evse_uid:
            connectors = [c for c in evse["connectors"] if c["id"] == connector_id]
            evses.append(dict(evse) | {"connectors": connectors})
    return dict(location) | {"evses": evses}


def _periods(periods: Any) -> list[dict[str, Any]]:
    out = []
    for period in periods or []:
        dims = [d for d in period["dimensions"] if d["type"] in _DIMENSIONS]
        out.append({"start_date_time": period["start_date_time"], "dimensions": dims})
    return out


_RESPONSE_TYPES = ("ACCEPTED", "NOT_SUPPORTED", "REJECTED", "TIMEOUT", "UNKNOWN_SESSION")


class Wire211:
    version = "2.1.1"
    token_encoding: Literal["plain", "base64"] | None = "plain"
    routing_headers = False
    endpoint_roles = False
    pulls_tokens = True

    def credentials(
        self, token: str, url: str, country_code: str, party_id: str, business_name: str
    ) -> dict[str, Any]:
        return {
            "token": token,
            "url": url,
            "business_details": {"name": business_name},
            "party_id": party_id,
            "country_code": country_code,
        }

    def emsp_party(self, credentials: Mapping[str, Any]) -> tuple[str, str]:
        return str(credentials.get("country_code", "")), str(credentials.get("party_id", ""))

    def tariff(self, tariff: Mapping[str, Any]) -> dict[str, Any]:
        out = _pick(tariff, "id", "currency", "tariff_alt_text", "tariff_alt_url")
        elements = []
        for element in tariff["elements"]:
            comps = [_pick(c, "type", "price", "step_size") for c in element["price_components"]]
            entry: dict[str, Any] = {"price_components": comps}
            if isinstance(element.get("restrictions"), Mapping):
                restrictions = _pick(element["restrictions"], *_RESTRICTIONS)
                if restrictions:
                    entry["restrictions"] = restrictions
            elements.append(entry)
        out["elements"] = elements
        out |= _pick(tariff, "energy_mix", "last_updated")
        return out

    def parse_tariff(self, tariff: Mapping[str, Any], country_code: str, party_id: str) -> Tariff:
        # priced as published: the 2.1.1 form (no VAT: prices excl. VAT only)
        return parse_tariff_211(self.tariff(tariff), country_code=country_code, party_id=party_id)

    def location(self, location: Mapping[str, Any]) -> dict[str, Any]:
        out = {"id": location["id"], "type": LOCATION_TYPE}
        out |= _pick(location, "name", "address", "city")
        out["postal_code"] = location.get("postal_code", POSTAL_CODE)
        out |= _pick(location, "country", "coordinates")
        out["evses"] = [_evse(e) for e in location.get("evses", [])]
        out |= _pick(location, "time_zone", "last_updated")
        return out

    def session(self, session: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": session["id"], "start_datetime": session["start_date_time"]}
        if "end_date_time" in session:
            out["end_datetime"] = session["end_date_time"]
        out |= {
            "kwh": session["kwh"],
            "auth_id": session["cdr_token"]["contract_id"],
            "auth_method": _auth_method(session["auth_method"]),
            "location": _only(location, session["evse_uid"], session["connector_id"]),
            "currency": session["currency"],
        }
        if "charging_periods" in session:
            out["charging_periods"] = _periods(session["charging_periods"])
        if "total_cost" in session:
            out["total_cost"] = _excl_vat(session["total_cost"])
        out |= _pick(session, "status", "last_updated")
        return out

    def session_patch(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(patch)
        if "total_cost" in out:
            out["total_cost"] = _excl_vat(out["total_cost"])
        return out

    def cdr(self, cdr: Mapping[str, Any], location: Mapping[str, Any]) -> dict[str, Any]:
        where = cdr["cdr_location"]
        out: dict[str, Any] = {
            "id": cdr["id"],
            "start_date_time": cdr["start_date_time"],
            "stop_date_time": cdr["end_date_time"],
            "auth_id": cdr["cdr_token"]["contract_id"],
            "auth_method": _auth_method(cdr["auth_method"]),
            "location": _only(location, where["evse_uid"], where["connector_id"]),
            "currency": cdr["currency"],
        }
        if cdr.get("tariffs"):
            out["tariffs"] = [self.tariff(t) for t in cdr["tariffs"]]
        out["charging_periods"] = _periods(cdr["charging_periods"])
        out["total_cost"] = _excl_vat(cdr["total_cost"])
        out |= _pick(cdr, "total_energy", "total_time", "total_parking_time", "remark", "last_updated")
        return out

    def token(self, token: Mapping[str, Any], emsp_party: tuple[str, str]) -> TokenInfo | None:
        uid, auth_id = token.get("uid"), token.get("auth_id")
        if not isinstance(uid, str) or not isinstance(auth_id, str):
            return None
        return TokenInfo(uid, str(token.get("type", "RFID")), auth_id, *emsp_party)

    def command_response(self, result: str, timeout_s: int) -> dict[str, Any]:
        # 2.1.1 CommandResponse: the result only, no timeout
        return {"result": result}

    def command_result(self, result: str) -> dict[str, Any]:
        # 2.1.1 posts a CommandResponse as the result: its CommandResponseType has no finer values
        return {"result": result if result in _RESPONSE_TYPES else "REJECTED"}


WIRE = Wire211()


def _auth_method(method: str) -> str:
    """2.1.1's AuthMethod has no COMMAND (2.2 added it): a START_SESSION was the eMSP's own request."""
    return "AUTH_REQUEST" if method == "COMMAND" else method
