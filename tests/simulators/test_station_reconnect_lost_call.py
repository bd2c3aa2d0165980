"""A new OCPP-J connection after a lost one (StationLink, the live runtime's line cut): a CALL in
flight on the old connection gets no answer. Only transaction messages are queued and sent again
(1.6 §4.1, 2.0.1 E04); anything else failed, as on a timeout, so whoever waits on it carries on
(review11 P4: an Authorize lost with the line left the driver Preparing for good)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from simulators.station.base import VirtualStation
from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
BOOT = {"currentTime": "2026-03-02T07:00:00Z", "interval": 300, "status": "Accepted"}


def _answer(
    station: VirtualStation, frames: list[str], now: datetime, sent: list[str], hold: str = ""
) -> None:
    """Play the CSMS: answer every CALL (an empty payload where its content does not matter),
    except `hold`, which stays in flight."""
    for frame in frames:
        message = json.loads(frame)
        if message[0] != 2:
            continue
        sent.append(message[2])
        if message[2] == hold:
            continue
        payload = BOOT if message[2] == "BootNotification" else {}
        _answer(station, station.on_frame(json.dumps([3, message[1], payload]), now), now, sent, hold)


@pytest.mark.parametrize("cls", [Station16, Station201])
def test_an_authorize_lost_with_the_connection_refuses_the_driver(cls: type[VirtualStation]) -> None:
    station = cls("CS-1", connectors=1, max_power_kw=Decimal("11"), meter_interval_s=10)
    sent: list[str] = []
    _answer(station, station.on_connected(T0), T0, sent)
    at = T0 + timedelta(seconds=5)
    ev = EvProfile(power_kw=Decimal(11), energy_kwh=Decimal(20))
    _answer(station, station.plug_in(1, token_uid="AABBCCDD", ev=ev, now=at), at, sent, hold="Authorize")
    assert station.endpoint.in_flight is not None and station.endpoint.in_flight.action == "Authorize"
    at += timedelta(seconds=1)
    station.set_online(False, at)  # the line is cut; the reconnect opens a new OCPP-J session
    at += timedelta(seconds=1)
    _answer(station, station.on_connected(at), at, sent)
    _answer(station, station.set_online(True, at), at, sent)
    assert sent.count("Authorize") == 1  # not queued for the new connection
    assert station.connector_status(1) != "Preparing"
    [truth] = station.truth
    assert (truth.token_uid, truth.authorized) == ("AABBCCDD", False)
