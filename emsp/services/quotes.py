"""What a driver is told before authorizing: the most a planned session can cost at a connector.

The quote prices the planned energy and stay with the tariff the eMSP holds for that connector now,
at the dearest way the visit can go: the EV charging all of the stay, or as fast as the connector
allows and parking after, or in between where a restriction makes that dearer
(emsp.settlement.tariff.bound). So under an unchanged tariff with non-negative prices the CDR of a
visit charged from plug-in then parked never exceeds it; reconciliation names a CDR that does
(`quote_exceeded`), e.g. after a mid-session tariff change.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from emsp.settlement.lookups import location_zone_and_raw, tariff_raw
from emsp.settlement.tariff import Tariff, TariffError, parse_tariff
from emsp.settlement.tariff.bound import quote_bound
from emsp.wire import ci_key, loads

# Tariffs that apply to a contract driver (mod_tariffs TariffType): REGULAR or untyped; ad-hoc and
# charging-preference profiles are not what a contract driver pays.
CONTRACT_TYPES = (None, "REGULAR")


def in_effect(tariff: Tariff, at: datetime) -> bool:
    """The tariff applies to a contract driver at `at` (its type and start/end_date_time)."""
    if tariff.type not in CONTRACT_TYPES:
        return False
    if tariff.start_date_time is not None and at < tariff.start_date_time:
        return False
    return tariff.end_date_time is None or at < tariff.end_date_time


def connector_tariff_ids(location: dict[str, object], evse_uid: str, connector_id: str) -> list[str]:
    for evse in location.get("evses") or []:  # type: ignore[attr-defined]
        if not isinstance(evse.get("uid"), str) or ci_key(evse["uid"]) != ci_key(evse_uid):
            continue  # EVSE uids and Connector ids are CiStrings: any case
        for connector in evse.get("connectors") or []:
            if isinstance(connector.get("id"), str) and ci_key(connector["id"]) == ci_key(connector_id):
                return [t for t in connector.get("tariff_ids") or [] if isinstance(t, str)]
    return []


# Memos keyed by the stored JSON text itself, so a changed location or tariff is simply another
# key (nothing to invalidate, whichever process wrote it). A site's location holds every EVSE:
# parsing it for every driver made a quote's cost grow with the site. The values are never mutated.


class Connector(NamedTuple):
    tariff_ids: tuple[str, ...]
    power_kw: Decimal | None  # the most it delivers, None when the location does not tell


def connector_power_kw(connector: dict[str, Any]) -> Decimal | None:
    """max_electric_power (W, 2.2.1 on), else voltage x amperage (x3 on AC_3_PHASE, whose voltage is
    line to neutral; 2.1.1's voltage/amperage alike); None when not given."""
    watts = _positive(connector.get("max_electric_power"))
    if watts is None:
        volts = _positive(connector.get("max_voltage", connector.get("voltage")))
        amps = _positive(connector.get("max_amperage", connector.get("amperage")))
        if volts is None or amps is None:
            return None
        watts = volts * amps * (3 if connector.get("power_type") == "AC_3_PHASE" else 1)
    return watts / 1000


def _positive(value: object) -> Decimal | None:
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value > 0:
        return Decimal(value)
    return None


def _connector_index(raw: str) -> dict[tuple[str, str], Connector]:
    """(evse uid, connector id) -> its tariff ids and power, as `connector_tariff_ids` finds them
    (first match); keyed by `ci_key` of both (CiStrings)."""
    index: dict[tuple[str, str], Connector] = {}
    for evse in loads(raw).get("evses") or []:
        uid = evse.get("uid")
        for connector in evse.get("connectors") or []:
            ids = tuple(t for t in connector.get("tariff_ids") or [] if isinstance(t, str))
            cid = connector.get("id")
            if isinstance(uid, str) and isinstance(cid, str):
                index.setdefault((ci_key(uid), ci_key(cid)), Connector(ids, connector_power_kw(connector)))
    return index


class ConnectorIndexes:
    """Per stored location, the connector index of the text last seen for it.

    A memo keyed by the text alone held the last 64 texts: a world of more sites than that parsed
    a location for nearly every quote, so a quote cost more the larger the world. Here each
    location has one slot, checked against a digest of the text it was built from (a changed
    location, written by any process, is simply rebuilt), so a location costs ~100 bytes rather
    than its text. Bounded: cleared when full."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self._slots: dict[tuple[str, str, str], tuple[bytes, dict[tuple[str, str], Connector]]] = {}

    def get(self, location: tuple[str, str, str], raw: str) -> dict[tuple[str, str], Connector]:
        digest = hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        slot = self._slots.get(location)
        if slot is not None and slot[0] == digest:
            return slot[1]
        index = _connector_index(raw)
        if slot is None and len(self._slots) >= self.LIMIT:
            self._slots.clear()
        self._slots[location] = (digest, index)
        return index


_INDEXES = ConnectorIndexes()  # a pure memo (its answers depend on the text only): shared


@functools.lru_cache(maxsize=256)
def _parsed(raw: str) -> Tariff | None:
    """The parsed tariff (frozen), or None when it cannot be priced."""
    try:
        return parse_tariff(loads(raw))
    except TariffError:
        return None


def quote_visit(
    db: Session,
    *,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    energy_kwh: Decimal,
    stay: timedelta,
    now: datetime,
) -> Decimal | None:
    """The quoted total (incl. VAT when known, else excl.), or None when nothing can be quoted."""
    found = location_zone_and_raw(db, country_code, party_id, location_id)
    if found is None:
        return None
    time_zone, raw = found
    index = _INDEXES.get((country_code, party_id, location_id), raw)
    connector = index.get((ci_key(evse_uid), ci_key(connector_id)), Connector((), None))
    tariff = _first_in_effect(db, country_code, party_id, list(connector.tariff_ids), now)
    if tariff is None:
        return None
    try:
        total = quote_bound(
            tariff,
            start=now,
            energy_kwh=energy_kwh,
            duration=stay,
            max_power_kw=connector.power_kw,
            tz=time_zone or "UTC",
        )
    except TariffError:
        return None
    if total is None:
        return None
    return total.incl_vat if total.incl_vat is not None else total.excl_vat


def _first_in_effect(
    db: Session, country_code: str, party_id: str, tariff_ids: list[str], at: datetime
) -> Tariff | None:
    """The first of a connector's tariffs that we hold, can price and is in effect at `at`."""
    for tariff_id in tariff_ids:
        raw = tariff_raw(db, country_code, party_id, tariff_id)
        if raw is None:
            continue
        tariff = _parsed(raw)
        if tariff is None:
            continue  # accepted on the wire but not priceable
        if in_effect(tariff, at):
            return tariff
    return None
