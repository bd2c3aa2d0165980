"""OCPI 2.2.1 Session and CDR objects as the mock CPO sends them (mod_sessions, mod_cdrs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from emsp.settlement.tariff import ChargingPeriod, MeterSample
from emsp.timeutil import format_utc
from simulators.cpo.locations import EvseRef, SiteSpec


@dataclass(slots=True)
class CpoSession:
    """A transaction as the CPO's OCPI side tracks it, with the meter samples that will price it."""

    session_id: str
    station_id: str
    transaction_id: str
    evse: EvseRef
    cdr_token: dict[str, Any]
    authorization_reference: str | None
    tariff_id: str
    start: datetime
    meter_start_wh: int
    samples: list[MeterSample]
    # split_periods CPO: (instant, tariff id) of each tariff change while the session charged
    tariff_switches: list[tuple[datetime, str]] = field(default_factory=list)
    status: str = "ACTIVE"  # what the CPO last said of it (a dialect may leave it PENDING)
    flowing: bool = False  # energy rose at the last sample (a period ends when this flips)
    periods_sent: int = 0  # ChargingPeriods already PATCHed (charging_periods_patch: delta)
    auth_method: str = "AUTH_REQUEST"  # mod_cdrs AuthMethod: AUTH_REQUEST, COMMAND or WHITELIST


def session_object(
    party: tuple[str, str], session: CpoSession, currency: str, now: datetime, *, status: str, kwh: Decimal
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country_code": party[0],
        "party_id": party[1],
        "id": session.session_id,
        "start_date_time": format_utc(session.start),
        "kwh": kwh,
        "cdr_token": session.cdr_token,
        "auth_method": session.auth_method,
        "location_id": session.evse.location_id,
        "evse_uid": session.evse.evse_uid,
        "connector_id": session.evse.connector_id,
        "currency": currency,
        "status": status,
        "last_updated": format_utc(now),
    }
    if session.authorization_reference:
        body["authorization_reference"] = session.authorization_reference
    return body


def cdr_object(
    party: tuple[str, str],
    session: CpoSession,
    site: SiteSpec,
    currency: str,
    end: datetime,
    periods: Sequence[ChargingPeriod],
    totals: Mapping[str, Any],
    embedded_tariffs: Sequence[Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    cdr: dict[str, Any] = {
        "country_code": party[0],
        "party_id": party[1],
        "id": f"{session.session_id}-CDR",
        "start_date_time": format_utc(session.start),
        "end_date_time": format_utc(end),
        "session_id": session.session_id,
        "cdr_token": session.cdr_token,
        "auth_method": session.auth_method,
        "cdr_location": {
            "id": site.location_id,
            "name": site.name,
            "address": site.address,
            "city": site.city,
            "country": site.country,
            "coordinates": {"latitude": site.latitude, "longitude": site.longitude},
            "evse_uid": session.evse.evse_uid,
            "evse_id": session.evse.evse_id,
            "connector_id": session.evse.connector_id,
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": currency,
        # OCPI types: numbers carry 4 decimals unless a field says otherwise.
        "charging_periods": [p.to_ocpi(decimals=4) for p in periods],
        "last_updated": format_utc(now),
    }
    if session.authorization_reference:
        cdr["authorization_reference"] = session.authorization_reference
    if embedded_tariffs:
        cdr["tariffs"] = [dict(t) for t in embedded_tariffs]
    cdr |= totals
    return cdr
