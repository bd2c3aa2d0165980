"""Which stretches of a session charged, from what the station said, for the periods of a CDR.

mod_cdrs: TIME is time charging, PARKING_TIME time not charging. The tariff engine cuts periods from
a piecewise-linear energy curve through the meter samples, and takes a stretch whose energy did not
rise for parking. A whole-Wh register that did not tick between two samples is no proof that nothing
flowed: a 0.1 kW EV needs 36 s per Wh, so the seconds between its last tick and the unplug read flat
though it drew all along (the ground truth, from the physics, counts them as charging). The station
says so itself: each sample carries the power it draws (Power.Active.Import), 0 once the EV is full
or a limit stops it. A flat stretch that at that power came to less than one Wh may hide a flow; the
samples it hides it behind are left out of the curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from emsp.settlement.tariff import MeterSample

_WH = Decimal("0.001")  # kWh: the register's resolution (the CSMS reads whole Wh)
_MICROS_PER_HOUR = 3_600_000_000


def _hidden(power_kw: Decimal | None, a: MeterSample, b: MeterSample) -> bool:
    """Whether a register flat from a to b can hide a flow at `power_kw`: less than one Wh in
    between. More than that would have ticked it: then the flat register is the proof, and the
    power reading is stale."""
    if power_kw is None or power_kw <= 0:
        return False
    delta = b.timestamp - a.timestamp
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return power_kw * micros < _WH * _MICROS_PER_HOUR


def _flows(samples: Sequence[MeterSample], i: int) -> bool:
    """Whether energy flowed from sample i to the next: the register rose, or it stayed flat for less
    than a Wh at the power the station reported at i. Without a power at i (the start: neither
    StartTransaction nor this CSMS's start event carries one), the power the next sample reports."""
    a, b = samples[i], samples[i + 1]
    if b.energy_kwh > a.energy_kwh:
        return True
    return _hidden(a.power_kw if a.power_kw is not None else b.power_kw, a, b)


def pricing_samples(samples: Sequence[MeterSample]) -> Sequence[MeterSample]:
    """`samples` without those that would make a stretch of flowing energy look flat: within each run
    of samples between which energy flowed, its first and last are kept and an inner one only where
    its register lies strictly between those of the last one kept and of the run's end. The curve then
    rises across the whole run (unless not one Wh came in it: then it reads as parking, as the truth
    does with no energy). The same list when nothing is left out (the usual case)."""
    n = len(samples)
    if n < 3:
        return samples
    keep = [True] * n
    i = 0
    while i < n - 1:
        if not _flows(samples, i):
            i += 1
            continue
        end = i + 1
        while end < n - 1 and _flows(samples, end):
            end += 1
        last, top = samples[i].energy_kwh, samples[end].energy_kwh
        for k in range(i + 1, end):
            energy = samples[k].energy_kwh
            if last < energy < top:
                last = energy
            else:
                keep[k] = False
        i = end
    if all(keep):
        return samples
    return [s for s, kept in zip(samples, keep, strict=True) if kept]
