"""EV charging physics in exact integer Wh (design principle 7: no float anywhere).

On AC the EV draws constant power P = min(EV onboard-charger limit, station max power) until it has
its target energy. On DC, an EV whose battery is known tapers above `taper_from_soc`: the power falls
linearly with the state of charge towards `taper_min_kw` at 100%, in steps of one percent of SoC
(constant power within a step, as a BMS's current table does). Energy after t seconds is the floor of
the integral of that piecewise-constant power, capped at the target, so meter values, meterStop and
ground truth are the same integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


@dataclass(frozen=True, slots=True)
class EvProfile:
    power_kw: Decimal  # the most the EV accepts on AC (its onboard charger)
    energy_kwh: Decimal  # what it takes before it is full
    battery_kwh: Decimal | None = None  # unknown: no taper
    soc_start: Decimal = Decimal(0)  # percent at plug-in
    dc_power_kw: Decimal | None = None  # the most it accepts on DC (None: power_kw)
    taper_from_soc: Decimal = Decimal(100)  # percent; DC only
    taper_min_kw: Decimal = Decimal(5)


_SOC_STEP = Decimal(1)  # percent of SoC with one constant power while tapering
_W = Decimal(1)


class PowerCurve:
    """Piecewise-constant power by delivered energy: [(energy of the segment in Wh, power in W)]."""

    __slots__ = ("_segments", "_total_s", "power_w", "target_wh")

    def __init__(self, target: int, segments: list[tuple[Decimal, Decimal]]) -> None:
        self.target_wh = target
        # Each segment with the seconds it lasts (None: no power, it never ends), computed once:
        # every meter value reads the curve, and a tapering DC curve has a hundred segments.
        self._segments = [(e, p, e * 3600 / p if p > 0 else None) for e, p in segments if e > 0]
        self.power_w = self._segments[0][1] if self._segments else Decimal(0)  # the initial power
        if any(needed is None for _e, _p, needed in self._segments):
            self._total_s: Decimal | None = None
        else:
            self._total_s = sum(
                (needed for _e, _p, needed in self._segments if needed is not None), Decimal(0)
            )

    def energy_wh(self, seconds: Decimal) -> int:
        if seconds <= 0:
            return 0
        if self._total_s is not None and seconds >= self._total_s:
            return self.target_wh
        done, left = Decimal(0), seconds
        for energy, power, needed in self._segments:
            if needed is None:
                break
            if left < needed:
                done += power * left / 3600
                break
            done, left = done + energy, left - needed
        return min(self.target_wh, int(done.to_integral_value(rounding=ROUND_FLOOR)))

    def power_at(self, seconds: Decimal) -> Decimal:
        """The power drawn at `seconds` after the start (0 once full)."""
        left = seconds
        for _energy, power, needed in self._segments:
            if needed is None or left < needed:
                return power
            left -= needed
        return Decimal(0)

    def breakpoints(self) -> list[tuple[Decimal, Decimal]]:
        """(seconds, cumulative Wh) at every change of power: the exact energy curve's corners."""
        out, t, e = [(Decimal(0), Decimal(0))], Decimal(0), Decimal(0)
        for energy, _power, needed in self._segments:
            if needed is None:
                break
            t, e = t + needed, e + energy
            out.append((t, e))
        return out

    def full_after(self) -> timedelta | None:
        """Whole seconds until the EV has its target (the first whole second the meter shows it)."""
        if self.target_wh <= 0:
            return timedelta(0)
        if self._total_s is None:
            return None
        return timedelta(seconds=int(self._total_s.to_integral_value(rounding=ROUND_CEILING)))


def power_curve(ev: EvProfile, max_power_kw: Decimal, *, dc: bool = False) -> PowerCurve:
    target = target_wh(ev)
    if not dc or ev.battery_kwh is None:
        limit = ev.power_kw if not dc else (ev.dc_power_kw or ev.power_kw)
        return PowerCurve(target, [(Decimal(target), min(limit, max_power_kw) * 1000)])
    peak = min(ev.dc_power_kw or ev.power_kw, max_power_kw) * 1000
    floor_w = min(ev.taper_min_kw * 1000, peak)
    wh_per_pct = ev.battery_kwh * 10  # 1% of the battery in Wh
    segments: list[tuple[Decimal, Decimal]] = []
    soc, left = ev.soc_start, Decimal(target)
    if soc < ev.taper_from_soc:
        flat = min(left, (ev.taper_from_soc - soc) * wh_per_pct)
        segments.append((flat, peak))
        left -= flat
        soc = ev.taper_from_soc
    span = Decimal(100) - ev.taper_from_soc
    while left > 0:
        step_end = min(Decimal(100), (soc // _SOC_STEP + 1) * _SOC_STEP)
        energy = min(left, (step_end - soc) * wh_per_pct) if step_end > soc else left
        middle = (soc + min(step_end, Decimal(100))) / 2
        share = (Decimal(100) - middle) / span if span > 0 else Decimal(0)
        power = max(floor_w, (peak * share).to_integral_value(rounding=ROUND_FLOOR))
        segments.append((energy, min(power, peak)))
        left -= energy
        soc = step_end
    return PowerCurve(target, segments)


def draw_power_w(ev: EvProfile, max_power_kw: Decimal) -> Decimal:
    return min(ev.power_kw, max_power_kw) * 1000


def target_wh(ev: EvProfile) -> int:
    return int((ev.energy_kwh * 1000).to_integral_value(rounding=ROUND_FLOOR))


def seconds_between(start: datetime, end: datetime) -> Decimal:
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def delivered_wh(power_w: Decimal, target: int, seconds: Decimal) -> int:
    if seconds <= 0:
        return 0
    drawn = int((power_w * seconds / 3600).to_integral_value(rounding=ROUND_FLOOR))
    return min(target, drawn)


def full_after(power_w: Decimal, target: int) -> timedelta | None:
    """Whole seconds until the EV has its target (the first whole second the meter shows it)."""
    if target <= 0:
        return timedelta(0)
    if power_w <= 0:
        return None
    return timedelta(
        seconds=int((Decimal(target) * 3600 / power_w).to_integral_value(rounding=ROUND_CEILING))
    )
