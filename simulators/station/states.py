"""Connector state machine as data, shared by OCPP 1.6 and 2.0.1 (h11 style: a table, not branches).

States are the bench's own; each version maps them to its wire names (1.6 ChargePointStatus, 2.0.1
ConnectorStatusEnumType + ChargingStateEnumType) in its module, so both versions walk the same graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ConnectorState(StrEnum):
    AVAILABLE = "available"
    PREPARING = "preparing"  # EV plugged, token presented, waiting for the authorization
    CHARGING = "charging"  # transaction running, EV drawing power
    SUSPENDED_EV = "suspended_ev"  # transaction running, EV full: parking time
    FINISHING = "finishing"  # transaction stopped, connector not released yet
    UNAVAILABLE = "unavailable"  # taken out of service (ChangeAvailability Inoperative)
    RESERVED = "reserved"  # held for a reservation (ReserveNow on this connector / EVSE)


class ConnectorEvent(StrEnum):
    PLUG = "plug"
    AUTHORIZED = "authorized"
    REFUSED = "refused"
    EV_FULL = "ev_full"
    UNPLUG = "unplug"
    RELEASED = "released"
    DISABLE = "disable"
    ENABLE = "enable"
    RESERVE = "reserve"
    UNRESERVE = "unreserve"  # the reservation was cancelled (or replaced elsewhere)


S, E = ConnectorState, ConnectorEvent
TRANSITIONS: Mapping[tuple[ConnectorState, ConnectorEvent], ConnectorState] = {
    (S.AVAILABLE, E.PLUG): S.PREPARING,
    (S.PREPARING, E.AUTHORIZED): S.CHARGING,
    (S.PREPARING, E.REFUSED): S.AVAILABLE,
    (S.PREPARING, E.UNPLUG): S.AVAILABLE,  # driver left before the authorization came back
    (S.CHARGING, E.EV_FULL): S.SUSPENDED_EV,
    (S.CHARGING, E.UNPLUG): S.FINISHING,
    (S.SUSPENDED_EV, E.UNPLUG): S.FINISHING,
    (S.FINISHING, E.RELEASED): S.AVAILABLE,
    (S.AVAILABLE, E.DISABLE): S.UNAVAILABLE,
    (S.UNAVAILABLE, E.ENABLE): S.AVAILABLE,
    (S.AVAILABLE, E.RESERVE): S.RESERVED,
    (S.RESERVED, E.UNRESERVE): S.AVAILABLE,
    # The reserved driver arrives (the virtual station does not turn others away: any plug uses it up).
    (S.RESERVED, E.PLUG): S.PREPARING,
    (S.RESERVED, E.DISABLE): S.UNAVAILABLE,  # taken out of service: the reservation ends with it
}


class InvalidTransition(ValueError):
    def __init__(self, state: ConnectorState, event: ConnectorEvent) -> None:
        super().__init__(f"connector in state {state.value!r} cannot take event {event.value!r}")
        self.state = state
        self.event = event


def next_state(state: ConnectorState, event: ConnectorEvent) -> ConnectorState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None
