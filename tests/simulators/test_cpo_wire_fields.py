"""Every object the mock CPO pushes has exactly its version's fields: all required ones, no unknown one.

The field lists are the object tables of each tag of ocpi/ocpi (2.1.1: mod_*.md; 2.2.1 and v2.3.0:
mod_*.asciidoc), as (required, optional) names; a field's cardinality 1 or + is required.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_cpo_versions import charge

Fields = tuple[frozenset[str], frozenset[str]]


def f(required: str, optional: str) -> Fields:
    return frozenset(required.split()), frozenset(optional.split())


V22_CDR = f(
    "country_code party_id id start_date_time end_date_time cdr_token auth_method cdr_location currency "
    "charging_periods total_cost total_energy total_time last_updated",
    "session_id authorization_reference meter_id tariffs signed_data total_fixed_cost total_energy_cost "
    "total_time_cost total_parking_time total_parking_cost total_reservation_cost remark "
    "invoice_reference_id credit credit_reference_id home_charging_compensation",
)
V22_SESSION = f(
    "country_code party_id id start_date_time kwh cdr_token auth_method location_id evse_uid connector_id "
    "currency status last_updated",
    "end_date_time authorization_reference meter_id charging_periods total_cost",
)
V22_TARIFF = f(
    "country_code party_id id currency elements last_updated",
    "type tariff_alt_text tariff_alt_url min_price max_price start_date_time end_date_time energy_mix",
)
V22_LOCATION = f(
    "country_code party_id id publish address city country coordinates time_zone last_updated",
    "publish_allowed_to name postal_code state related_locations parking_type evses directions operator "
    "suboperator owner facilities opening_times charging_when_closed images energy_mix",
)
V22_EVSE = f(
    "uid status connectors last_updated",
    "evse_id status_schedule capabilities floor_level coordinates physical_reference directions "
    "parking_restrictions images",
)
V22_CONNECTOR = f(
    "id standard format power_type max_voltage max_amperage last_updated",
    "max_electric_power tariff_ids terms_and_conditions",
)
V22_CDR_LOCATION = f(
    "id address city country coordinates evse_uid evse_id connector_id connector_standard connector_format "
    "connector_power_type",
    "name postal_code state",
)
V211_LOCATION = f(
    "id type address city postal_code country coordinates last_updated",
    "name related_locations evses directions operator suboperator owner facilities time_zone opening_times "
    "charging_when_closed images energy_mix",
)
V211_EVSE = f(
    "uid status connectors last_updated",
    "evse_id status_schedule capabilities floor_level coordinates physical_reference directions "
    "parking_restrictions images",
)
V211_CONNECTOR = f(
    "id standard format power_type voltage amperage last_updated", "tariff_id terms_and_conditions"
)


def _plus(fields: Fields, required: str = "", optional: str = "") -> Fields:
    return fields[0] | frozenset(required.split()), fields[1] | frozenset(optional.split())


SPEC: dict[str, dict[str, Fields]] = {
    "2.1.1": {
        "cdr": f(
            "id start_date_time stop_date_time auth_id auth_method location currency charging_periods "
            "total_cost total_energy total_time last_updated",
            "meter_id tariffs total_parking_time remark",
        ),
        "session": f(
            "id start_datetime kwh auth_id auth_method location currency status last_updated",
            "end_datetime meter_id charging_periods total_cost",
        ),
        "tariff": f("id currency elements last_updated", "tariff_alt_text tariff_alt_url energy_mix"),
        "location": V211_LOCATION,
        "evse": V211_EVSE,
        "connector": V211_CONNECTOR,
    },
    "2.2.1": {
        "cdr": V22_CDR,
        "session": V22_SESSION,
        "tariff": V22_TARIFF,
        "location": V22_LOCATION,
        "evse": V22_EVSE,
        "connector": V22_CONNECTOR,
        "cdr_location": V22_CDR_LOCATION,
    },
    "2.3.0": {
        "cdr": V22_CDR,
        "session": V22_SESSION,
        "tariff": _plus(V22_TARIFF, "tax_included"),
        "location": _plus(V22_LOCATION, optional="help_phone"),
        "evse": _plus(V22_EVSE, optional="parking accepted_service_providers"),
        "connector": _plus(V22_CONNECTOR, optional="capabilities"),
        "cdr_location": V22_CDR_LOCATION,
    },
}


def _check(kind: str, obj: dict[str, Any], fields: Fields) -> list[str]:
    required, optional = fields
    problems = [f"{kind}: missing {name}" for name in sorted(required - set(obj))]
    return problems + [f"{kind}: unknown {name}" for name in sorted(set(obj) - required - optional)]


def _locations(location: dict[str, Any], spec: dict[str, Fields]) -> list[str]:
    problems = _check("location", location, spec["location"])
    for evse in location.get("evses", []):
        problems += _check("evse", evse, spec["evse"])
        for connector in evse["connectors"]:
            problems += _check("connector", connector, spec["connector"])
    return problems


@pytest.mark.parametrize("version", sorted(SPEC))
def test_every_pushed_object_has_its_versions_fields(version: str) -> None:
    _cpo, emsp = charge(version)
    spec = SPEC[version]
    problems: list[str] = []
    for tariff in emsp.bodies("PUT", "tariffs"):
        problems += _check("tariff", tariff, spec["tariff"])
    for location in emsp.bodies("PUT", "locations"):
        problems += _locations(location, spec)
    sessions = emsp.bodies("PUT", "sessions")
    assert len(sessions) == 2  # started, then completed
    for session in sessions:
        problems += _check("session", session, spec["session"])
        if version == "2.1.1":
            problems += _locations(session["location"], spec)
    [cdr] = emsp.bodies("POST", "cdrs")
    problems += _check("cdr", cdr, spec["cdr"])
    for tariff in cdr.get("tariffs", []):
        problems += _check("cdr tariff", tariff, spec["tariff"])
    if version == "2.1.1":
        problems += _locations(cdr["location"], spec)
    else:
        problems += _check("cdr_location", cdr["cdr_location"], spec["cdr_location"])
    assert problems == []
