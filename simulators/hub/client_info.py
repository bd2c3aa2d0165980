"""HubClientInfo (mod_hub_client_info): the hub's ClientInfo objects, one per connected party.

The hub owns them; it pushes every change (PUT to each connected party's Receiver interface) and
serves the list on its Sender interface (paginated GET with date_from/date_to/offset/limit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from emsp.timeutil import format_utc, parse_ocpi_datetime
from simulators.hub.envelope import Party
from simulators.hub.registry import PartyRole, Status

PAGE_SIZE = 50  # the most ClientInfo objects the hub returns per page (X-Limit)


class ClientInfoBook:
    def __init__(self) -> None:
        self._objects: dict[Party, tuple[PartyRole, Status, datetime]] = {}  # in order of creation

    def set(self, role: PartyRole, status: Status, now: datetime) -> bool:
        """Record a party's status; True when it is new or changed (and so must be pushed)."""
        known = self._objects.get(role.key)
        if known is not None and known[1] == status:
            return False
        self._objects[role.key] = (role, status, now)
        return True

    def status(self, key: Party) -> Status | None:
        known = self._objects.get(key)
        return None if known is None else known[1]

    def object(self, key: Party) -> dict[str, Any]:
        role, status, updated = self._objects[key]
        return {
            "party_id": role.party_id,
            "country_code": role.country_code,
            "role": role.role,
            "status": status.value,
            "last_updated": format_utc(updated),
        }

    def parties(self) -> list[Party]:
        return list(self._objects)

    def page(self, url: str, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """One page of the list (transport_and_format, Pagination); ValueError names a bad parameter."""
        date_from = parse_ocpi_datetime(query["date_from"]) if "date_from" in query else None
        date_to = parse_ocpi_datetime(query["date_to"]) if "date_to" in query else None
        offset = _count(query, "offset", 0)
        limit = min(_count(query, "limit", PAGE_SIZE), PAGE_SIZE)
        matching = [
            key
            for key, (_role, _status, updated) in self._objects.items()
            if (date_from is None or updated >= date_from) and (date_to is None or updated < date_to)
        ]
        headers = {"X-Total-Count": str(len(matching)), "X-Limit": str(PAGE_SIZE)}
        if offset + limit < len(matching):
            following = {k: v for k, v in query.items() if k not in ("offset", "limit")}
            following |= {"offset": str(offset + limit), "limit": str(limit)}
            headers["Link"] = f'<{url}?{urlencode(following)}>; rel="next"'
        return [self.object(key) for key in matching[offset : offset + limit]], headers


def _count(query: dict[str, str], name: str, default: int) -> int:
    if name not in query:
        return default
    text = query[name]
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number of 0 or more")
    return int(text)
