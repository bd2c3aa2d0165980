"""What really happened at a connector, whatever the wire said (design principle 5).

One record per visit, kept all run long: its four instants and three meter figures are packed into
one bytes object (~90 bytes) instead of four datetimes and three ints (~0.25 KiB); each reads back
as the value it was given (instants as aware UTC)."""

from __future__ import annotations

import struct
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.instants import from_micros, to_micros

# plugged, started, charging ended, unplugged (microseconds), meter start, meter stop, energy (Wh)
_PACKED = struct.Struct("<7q")


class ChargeTruth:
    """Read-only. `charging_ended_at`: when the EV stopped drawing (full, or unplugged first);
    `unplugged_at` None when refused (the driver's departure is no longer observed).
    `power_corners`: corners of the physical energy curve (instant, kWh since start) while
    charging; () for constant power, whose curve is a straight line to the full (or unplug) instant.
    `refused_by_station`: why the station itself turned the driver away, without asking anyone
    ("" it did not): "unavailable" (taken out of service) or "reserved" (held for another token)."""

    __slots__ = (
        "_packed",
        "authorized",
        "connector_id",
        "power_corners",
        "refused_by_station",
        "station_id",
        "token_uid",
        "transaction_id",
    )

    station_id: str
    connector_id: int
    token_uid: str
    authorized: bool
    transaction_id: str | None
    power_corners: tuple[tuple[datetime, Decimal], ...]
    refused_by_station: str
    _packed: bytes

    def __init__(
        self,
        station_id: str,
        connector_id: int,
        token_uid: str,
        plugged_at: datetime,
        authorized: bool,
        transaction_id: str | None,
        started_at: datetime | None,
        charging_ended_at: datetime | None,
        unplugged_at: datetime | None,
        meter_start_wh: int,
        meter_stop_wh: int,
        energy_wh: int,
        power_corners: tuple[tuple[datetime, Decimal], ...] = (),
        refused_by_station: str = "",
    ) -> None:
        put = object.__setattr__
        put(self, "station_id", station_id)
        put(self, "connector_id", connector_id)
        put(self, "token_uid", token_uid)
        put(self, "authorized", authorized)
        put(self, "transaction_id", transaction_id)
        put(self, "power_corners", power_corners)
        put(self, "refused_by_station", refused_by_station)
        instants = (plugged_at, started_at, charging_ended_at, unplugged_at)
        packed = _PACKED.pack(*map(to_micros, instants), meter_start_wh, meter_stop_wh, energy_wh)
        put(self, "_packed", packed)

    def with_transaction(self, transaction_id: str | None) -> ChargeTruth:
        """This record with the transaction id the CSMS gave after the visit had ended."""
        copy = object.__new__(ChargeTruth)
        for name in self.__slots__:
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "transaction_id", transaction_id)
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ChargeTruth is read-only ({name})")

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.station_id, self.connector_id, self.token_uid, self.plugged_at, self.authorized,
            self.transaction_id, self.started_at, self.charging_ended_at, self.unplugged_at,
            self.meter_start_wh, self.meter_stop_wh, self.energy_wh, self.power_corners,
            self.refused_by_station,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChargeTruth) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"ChargeTruth{self._fields()!r}"

    @property
    def plugged_at(self) -> datetime:
        moment = from_micros(_PACKED.unpack(self._packed)[0])
        assert moment is not None  # a visit always has its plug-in
        return moment

    @property
    def started_at(self) -> datetime | None:
        return from_micros(_PACKED.unpack(self._packed)[1])

    @property
    def charging_ended_at(self) -> datetime | None:
        return from_micros(_PACKED.unpack(self._packed)[2])

    @property
    def unplugged_at(self) -> datetime | None:
        return from_micros(_PACKED.unpack(self._packed)[3])

    @property
    def meter_start_wh(self) -> int:
        return int(_PACKED.unpack(self._packed)[4])

    @property
    def meter_stop_wh(self) -> int:
        return int(_PACKED.unpack(self._packed)[5])

    @property
    def energy_wh(self) -> int:
        return int(_PACKED.unpack(self._packed)[6])
