"""The connector state table, and the per-version wire names of its states."""

from __future__ import annotations

import pytest

from simulators.station import v16, v201
from simulators.station.states import (
    TRANSITIONS,
    ConnectorEvent,
    ConnectorState,
    InvalidTransition,
    next_state,
)

S, E = ConnectorState, ConnectorEvent

ALLOWED = [
    (S.AVAILABLE, E.PLUG, S.PREPARING),
    (S.PREPARING, E.AUTHORIZED, S.CHARGING),
    (S.PREPARING, E.REFUSED, S.AVAILABLE),
    (S.PREPARING, E.UNPLUG, S.AVAILABLE),
    (S.CHARGING, E.EV_FULL, S.SUSPENDED_EV),
    (S.CHARGING, E.UNPLUG, S.FINISHING),
    (S.SUSPENDED_EV, E.UNPLUG, S.FINISHING),
    (S.FINISHING, E.RELEASED, S.AVAILABLE),
    (S.AVAILABLE, E.DISABLE, S.UNAVAILABLE),  # ChangeAvailability Inoperative, only when idle
    (S.UNAVAILABLE, E.ENABLE, S.AVAILABLE),
    # ReserveNow (1.6 §5.13, 2.0.1 H01): held until the reserving driver plugs in, it is cancelled
    # or expires, or the connector is taken out of service
    (S.AVAILABLE, E.RESERVE, S.RESERVED),
    (S.RESERVED, E.PLUG, S.PREPARING),
    (S.RESERVED, E.UNRESERVE, S.AVAILABLE),
    (S.RESERVED, E.DISABLE, S.UNAVAILABLE),
]


@pytest.mark.parametrize(("state", "event", "after"), ALLOWED)
def test_allowed(state: ConnectorState, event: ConnectorEvent, after: ConnectorState) -> None:
    assert next_state(state, event) is after


def test_table_is_exactly_the_allowed_list() -> None:
    assert dict(TRANSITIONS) == {(s, e): a for s, e, a in ALLOWED}


@pytest.mark.parametrize(
    ("state", "event"), [(s, e) for s in ConnectorState for e in ConnectorEvent if (s, e) not in TRANSITIONS]
)
def test_everything_else_is_refused(state: ConnectorState, event: ConnectorEvent) -> None:
    with pytest.raises(InvalidTransition):
        next_state(state, event)


@pytest.mark.parametrize("mapping", [v16.STATUS, v201.STATUS, v201.CHARGING_STATE])
def test_every_state_has_a_wire_name(mapping: object) -> None:
    assert set(mapping) == set(ConnectorState)  # type: ignore[call-overload]


def test_wire_names() -> None:
    assert v16.STATUS[S.SUSPENDED_EV] == "SuspendedEV"
    assert {v201.STATUS[s] for s in ConnectorState} == {"Available", "Occupied", "Reserved", "Unavailable"}
    assert v16.STATUS[S.RESERVED] == v201.STATUS[S.RESERVED] == "Reserved"
