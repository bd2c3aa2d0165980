"""A station's charge truth packs its instants and meter figures and reads back what it was given."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from simulators.station.base import ChargeTruth

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
MICRO = timedelta(microseconds=1)

CASES = [
    # plugged, started, charging ended, unplugged, meter start, meter stop, energy
    (T0, T0 + MICRO, T0 + timedelta(hours=1), T0 + timedelta(hours=2), 0, 10_468, 10_468),
    (T0, None, None, None, 5, 5, 0),  # refused: no transaction, no departure observed
    (T0 + timedelta(milliseconds=33), T0, None, T0, 2**62, 2**62, 0),
    (datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), None, None, None, -1, 0, 1),
    (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), None, None, None, 0, 0, 0),
]


@pytest.mark.parametrize(("plugged", "started", "ended", "unplugged", "start_wh", "stop_wh", "wh"), CASES)
def test_charge_truth_reads_back_every_field(
    plugged: datetime,
    started: datetime | None,
    ended: datetime | None,
    unplugged: datetime | None,
    start_wh: int,
    stop_wh: int,
    wh: int,
) -> None:
    corners = ((T0, Decimal("1.5")),)
    truth = ChargeTruth(
        "CS1", 2, "AA11", plugged, True, "T1", started, ended, unplugged, start_wh, stop_wh, wh,
        power_corners=corners, refused_by_station="reserved",
    )  # fmt: skip
    assert (truth.plugged_at, truth.started_at, truth.charging_ended_at, truth.unplugged_at) == (
        plugged, started, ended, unplugged,
    )  # fmt: skip
    assert all(t is None or t.tzinfo is UTC for t in (truth.plugged_at, truth.started_at, truth.unplugged_at))
    assert (truth.meter_start_wh, truth.meter_stop_wh, truth.energy_wh) == (start_wh, stop_wh, wh)
    assert (truth.station_id, truth.connector_id, truth.token_uid, truth.authorized) == (
        "CS1",
        2,
        "AA11",
        True,
    )
    assert (truth.transaction_id, truth.power_corners, truth.refused_by_station) == (
        "T1",
        corners,
        "reserved",
    )


def test_charge_truth_holds_no_datetime_and_is_read_only() -> None:
    hour = timedelta(hours=1)
    truth = ChargeTruth("CS1", 1, "AA11", T0, True, "T1", T0, T0 + hour, T0 + 2 * hour, 0, 9, 9)
    assert not any(isinstance(r, datetime) for r in gc.get_referents(truth))
    assert truth == ChargeTruth("CS1", 1, "AA11", T0, True, "T1", T0, T0 + hour, T0 + 2 * hour, 0, 9, 9)
    assert truth != ChargeTruth("CS1", 1, "AA11", T0, True, "T1", T0, T0 + hour, T0 + 2 * hour, 0, 9, 8)
    assert truth.power_corners == () and truth.refused_by_station == ""
    with pytest.raises(AttributeError):
        truth.energy_wh = 1  # type: ignore[misc]
