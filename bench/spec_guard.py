"""The bench must not disagree with itself (review r7 K6): a mock CPO that prices a session as the
spec reads its tariff must come to the ground truth's cost, or a CDR the eMSP billed faithfully would
be graded as the eMSP's price_mismatch.

The comparison is made when the CPO prices the session (its `spec_priced` hook): the station has
recorded the charge by then (it records it before it sends the transaction's end), so no CPO cost is
kept for an end-of-run comparison (issue 7: a Decimal and a dict entry a session). Only the
disagreements are kept; `bench.truth.truth_sessions` aborts the run on the first (exit 3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeAlias

from emsp.reconciliation import DEFAULT_PRICE_TOLERANCE
from emsp.settlement.tariff import MeterSample, PriceResult, price_session
from simulators.cpo.ocpi_cpo import OcpiCpo
from simulators.cpo.tariff_switch import price_with_switches
from simulators.station.base import VirtualStation
from simulators.station.charge_truth import ChargeTruth

KWH = Decimal(1000)
# (station, transaction, session, the CPO's total_cost excl. VAT)
SpecPriced: TypeAlias = Callable[[str, str, str, Decimal], None]


class BenchDisagreement(RuntimeError):
    """The mock CPO, pricing as the spec reads its tariff, and the ground truth came to different
    costs for one session: the bench disagrees with itself. The run is aborted (exit 3): a CDR the
    eMSP billed faithfully must never be graded as the eMSP's price_mismatch."""


def disagreement(cpo_id: str, session_id: str, cpo_cost: Decimal | None, truth_cost: Decimal) -> str | None:
    """Why the two costs of one session disagree, None if they agree within the reconciliation's
    tolerance. `cpo_cost` None: the CPO's dialect reads its tariffs otherwise (a difference is then
    intended, and graded)."""
    if cpo_cost is None or abs(cpo_cost - truth_cost) <= DEFAULT_PRICE_TOLERANCE:
        return None
    return (
        f"mock CPO {cpo_id} priced session {session_id} at {cpo_cost} excl. VAT, the ground truth "
        f"at {truth_cost}: the bench's CPO and truth read the physics differently"
    )


def physical_price(ocpi: OcpiCpo, session_id: str, charge: ChargeTruth) -> PriceResult:
    """The truthful price of a charge that started and ended: the tariff in effect (and its switches)
    applied to the physical delivery, constant power while charging, then parked."""
    assert charge.started_at is not None and charge.unplugged_at is not None
    tariff_id, tz = ocpi.truth.tariff_in_effect[session_id]
    energy = Decimal(charge.energy_wh) / KWH
    full_at = charge.charging_ended_at or charge.unplugged_at
    samples = [MeterSample(timestamp=charge.started_at, energy_kwh=Decimal(0))]
    samples += [
        MeterSample(timestamp=at, energy_kwh=kwh)
        for at, kwh in charge.power_corners
        if at < full_at and kwh < energy
    ]
    # An EV that wants nothing is full the instant it starts (full_at == started_at): that instant is
    # already the first sample.
    if charge.started_at < full_at < charge.unplugged_at:
        samples.append(MeterSample(timestamp=full_at, energy_kwh=energy))
    samples.append(MeterSample(timestamp=charge.unplugged_at, energy_kwh=energy))
    switches = ocpi.truth.tariff_switches.get(session_id)
    if switches:
        tariffs = {tid: ocpi.tariff(tid) for tid in [tariff_id, *(t for _a, t in switches)]}
        _, priced = price_with_switches(
            tariffs, tariff_id, switches, samples, start=charge.started_at, end=charge.unplugged_at, tz=tz
        )
    else:
        _, priced = price_session(
            ocpi.tariff(tariff_id), samples, start=charge.started_at, end=charge.unplugged_at, tz=tz
        )
    return priced


def spec_guard(ocpi: OcpiCpo, stations: Mapping[str, VirtualStation]) -> SpecPriced:
    """The `spec_priced` hook of one mock CPO: compare its cost of a session with the truth's."""

    def check(station_id: str, transaction_id: str, session_id: str, cpo_cost: Decimal) -> None:
        charge = _charge(stations[station_id], transaction_id)
        if charge is None or charge.started_at is None or charge.unplugged_at is None:
            return  # no physical charge to price: the ground truth prices none either
        ocpi.truth.spec_checked += 1
        total = physical_price(ocpi, session_id, charge).totals.total_cost
        found = disagreement(ocpi.cpo_id, session_id, cpo_cost, total.excl_vat)
        if found is not None:
            ocpi.truth.disagreements.append(found)

    return check


def _charge(station: VirtualStation, transaction_id: str) -> ChargeTruth | None:
    """The station's record of the transaction that just ended: its latest with this id."""
    for charge in reversed(station.truth):
        if charge.transaction_id == transaction_id:
            return charge
    return None
