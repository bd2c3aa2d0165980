"""Which connector an arriving driver takes: the same rule in both runtimes."""

from __future__ import annotations

from collections.abc import Container
from datetime import timedelta

from bench.world import StationPlace

RETRY_EVERY = timedelta(minutes=5)  # a driver finding every bay taken looks again this often


def retries_for(patience_minutes: int) -> int:
    return patience_minutes * 60 // int(RETRY_EVERY.total_seconds())


class ConnectorAllocator:
    """Tracks occupancy as the drivers see it (a car in the bay), independent of OCPP state."""

    def __init__(self, places: list[StationPlace]) -> None:
        self._places = places
        self._taken: set[tuple[str, int]] = set()

    def take(self, preference: tuple[int, ...], offline: Container[str] = ()) -> tuple[str, int] | None:
        """A free connector, skipping stations shown offline (a driver's app shows them unavailable)."""
        for index in preference:
            place = self._places[index]
            if place.station_id in offline:
                continue
            for connector in range(1, place.connectors + 1):
                key = (place.station_id, connector)
                if key not in self._taken:
                    self._taken.add(key)
                    return key
        return None

    def release(self, key: tuple[str, int]) -> None:
        self._taken.discard(key)
