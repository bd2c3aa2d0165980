"""Which connector an arriving driver takes: the same rule in both runtimes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from bench.demand import CHOICE_BITS
from bench.ranked import RankedSet
from bench.world import StationPlace

RETRY_EVERY = timedelta(minutes=5)  # a driver finding every bay taken looks again this often


def retries_for(patience_minutes: int) -> int:
    return patience_minutes * 60 // int(RETRY_EVERY.total_seconds())


class ConnectorAllocator:
    """Tracks occupancy as the drivers see it (a car in the bay), independent of OCPP state.

    A driver takes the lowest free connector of a station drawn uniformly among the stations that
    have one and are shown online (a driver's app shows offline ones unavailable): the same law as
    trying the stations in a random order, without a per-driver order of every station.
    """

    def __init__(self, places: list[StationPlace], reserved: Collection[str] = ()) -> None:
        self._places = places
        self._index = {place.station_id: i for i, place in enumerate(places)}
        # Stations only visits pinned to them take (demand.clones); the others never see them.
        self._reserved = {self._index[sid] for sid in reserved}
        self._taken: set[tuple[str, int]] = set()
        self._free = [place.connectors for place in places]
        self._offline: set[int] = set()
        self._open = RankedSet(len(places), full=True)  # stations with a free connector, online
        for index in self._reserved:
            self._open.discard(index)

    def _refresh(self, index: int) -> None:
        if self._free[index] and index not in self._offline and index not in self._reserved:
            self._open.add(index)
        else:
            self._open.discard(index)

    def set_online(self, station_id: str, online: bool) -> None:
        index = self._index[station_id]
        (self._offline.discard if online else self._offline.add)(index)
        self._refresh(index)

    def take(self, choice: int, stations: Sequence[str] = ()) -> tuple[str, int] | None:
        """A free connector for a driver whose `choice` (CHOICE_BITS random bits) came with the visit;
        `stations`: only among these (a pinned visit), reserved or not."""
        if stations:
            indices = [self._index[sid] for sid in stations]
            usable = [i for i in indices if self._free[i] and i not in self._offline]
            if not usable:
                return None
            index = usable[(choice * len(usable)) >> CHOICE_BITS]
        else:
            if not self._open.count:
                return None
            index = self._open.kth((choice * self._open.count) >> CHOICE_BITS)
        place = self._places[index]
        for connector in range(1, place.connectors + 1):
            key = (place.station_id, connector)
            if key not in self._taken:
                self._taken.add(key)
                self._free[index] -= 1
                self._refresh(index)
                return key
        raise AssertionError(f"{place.station_id} counted a free connector it does not have")

    def release(self, key: tuple[str, int]) -> None:
        if key in self._taken:
            self._taken.remove(key)
            index = self._index[key[0]]
            self._free[index] += 1
            self._refresh(index)
