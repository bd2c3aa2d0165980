"""What a station keeps per connector: the session of the EV plugged in and the ground truth of it.

A session's energy follows a power curve from `seg_start`: a new limit (smart charging) starts a
new curve from the energy delivered so far, and the instant of each change becomes a corner of the
truth's energy curve.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from simulators.station.physics import EvProfile, PowerCurve, power_curve, seconds_between
from simulators.station.states import ConnectorState


@dataclass(slots=True)
class Session:
    token_uid: str
    ev: EvProfile
    plugged_at: datetime
    curve: PowerCurve | None = None
    started_at: datetime | None = None
    full_at: datetime | None = None  # scheduled instant the EV is full; None: never
    is_full: bool = False
    meter_start_wh: int = 0
    transaction_id: str | None = None
    next_sample_at: datetime | None = None
    last_sample_at: datetime | None = None
    seq_no: int = 0  # 2.0.1 TransactionEvent sequence number
    remote_start_id: int | None = None  # 2.0.1 RequestStartTransaction.remoteStartId
    reservation_id: int | None = (
        None  # the reservation it uses (1.6 StartTransaction, 2.0.1 TransactionEvent)
    )
    # Plugged in by a driver who starts from the app: no Authorize, the remote start begins it.
    awaiting_remote: bool = False
    # The current power curve runs from seg_start at register seg_base_wh (the start, until a limit
    # changes it); limit_w is the smart-charging limit it was built for (None: none).
    seg_start: datetime | None = None
    seg_base_wh: int = 0
    limit_w: Decimal | None = None
    next_limit_at: datetime | None = None  # when a charging profile may change the limit next
    rebases: list[tuple[datetime, Decimal]] = field(default_factory=list)  # (instant, kWh so far)

    def start(
        self, at: datetime, register_wh: int, max_power_kw: Decimal, dc: bool, limit: Decimal | None
    ) -> None:
        self.started_at = self.seg_start = at
        self.meter_start_wh = self.seg_base_wh = register_wh
        self.limit_w = limit
        self.curve = power_curve(self.ev, cap_kw(max_power_kw, limit), dc=dc)
        after = self.curve.full_after()
        self.full_at = None if after is None else at + after

    def rebase(self, at: datetime, max_power_kw: Decimal, dc: bool, limit: Decimal | None) -> None:
        """Go on at another limit from `at`: a new curve for the energy the EV still wants."""
        assert self.started_at is not None
        reading = self.reading_wh(at)
        delivered = reading - self.meter_start_wh
        if at > self.started_at:
            self.rebases.append((at, Decimal(delivered) / 1000))
        ev = self.ev
        soc = ev.soc_start + (Decimal(delivered) / (ev.battery_kwh * 10) if ev.battery_kwh else Decimal(0))
        left = ev.energy_kwh - Decimal(delivered) / 1000
        ev = dataclasses.replace(ev, energy_kwh=max(left, Decimal(0)), soc_start=min(soc, Decimal(100)))
        self.seg_start, self.seg_base_wh, self.limit_w = at, reading, limit
        self.curve = power_curve(ev, cap_kw(max_power_kw, limit), dc=dc)
        after = self.curve.full_after()
        self.full_at = None if after is None else at + after

    def reading_wh(self, at: datetime) -> int:
        assert self.seg_start is not None and self.curve is not None
        return self.seg_base_wh + self.curve.energy_wh(seconds_between(self.seg_start, at))

    def power_at(self, at: datetime) -> Decimal:
        if self.seg_start is None or self.curve is None or (self.full_at is not None and at >= self.full_at):
            return Decimal(0)
        return self.curve.power_at(seconds_between(self.seg_start, at))

    def corners(self) -> tuple[tuple[datetime, Decimal], ...]:
        """Corners of the energy curve since the start (instant, kWh): each change of limit and the
        inner breakpoints of the current curve; () for one constant-power curve."""
        if self.curve is None or self.seg_start is None:
            return ()
        points = self.curve.breakpoints()
        if len(points) <= 2 and not self.rebases:
            return ()
        base = Decimal(self.seg_base_wh - self.meter_start_wh)
        inner = [
            (self.seg_start + timedelta(microseconds=int(t * 1_000_000)), (base + e if base else e) / 1000)
            for t, e in points[1:-1]
        ]
        return (*self.rebases, *inner)


def cap_kw(max_power_kw: Decimal, limit_w: Decimal | None) -> Decimal:
    """The power (kW) an EV may draw: the station's maximum, under the smart-charging limit."""
    return max_power_kw if limit_w is None else max(Decimal(0), min(max_power_kw, limit_w / 1000))


@dataclass(slots=True)
class Connector:
    connector_id: int
    state: ConnectorState = ConnectorState.AVAILABLE
    register_wh: int = 0  # the meter register; only ever increases
    session: Session | None = None
