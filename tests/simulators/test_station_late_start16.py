"""1.6: a StartTransaction answered only after the driver left (a slow or offline CSMS) still gets
its StopTransaction, and the answer goes to the session that sent it, not the connector's next one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulators.station.physics import EvProfile
from simulators.station.v16 import Station16

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
EV = EvProfile(power_kw=Decimal("11"), energy_kwh=Decimal("20"))
BOOT = {"currentTime": "2026-03-02T07:00:00Z", "interval": 300, "status": "Accepted"}


class SlowCsms:
    """Answers every CALL at once, except StartTransactions, which wait until `answer_start`."""

    def __init__(self, station: Station16) -> None:
        self.station = station
        self.sent: list[list[Any]] = []
        self.held: list[str] = []  # unique ids of unanswered StartTransactions

    def feed(self, frames: list[str], at: datetime) -> None:
        for frame in frames:
            message = json.loads(frame)
            if message[0] != 2:
                continue
            self.sent.append(message)
            action = message[2]
            if action == "StartTransaction":
                self.held.append(message[1])
                continue
            result = {
                "BootNotification": BOOT,
                "Authorize": {"idTagInfo": {"status": "Accepted"}},
                "StopTransaction": {"idTagInfo": {"status": "Accepted"}},
                "Heartbeat": {"currentTime": "2026-03-02T07:00:00Z"},
            }.get(action, {})
            self.feed(self.station.on_frame(json.dumps([3, message[1], result]), at), at)

    def answer_start(self, transaction_id: int, at: datetime) -> None:
        result = {"transactionId": transaction_id, "idTagInfo": {"status": "Accepted"}}
        self.feed(self.station.on_frame(json.dumps([3, self.held.pop(0), result]), at), at)

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [m[3] for m in self.sent if m[2] == action]


def setup() -> tuple[Station16, SlowCsms]:
    station = Station16("CS-1", connectors=1, max_power_kw=Decimal("11"), meter_interval_s=10)
    csms = SlowCsms(station)
    csms.feed(station.on_connected(T0), T0)
    return station, csms


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_answer_after_the_unplug_sends_the_stop_and_tags_queued_meter_values() -> None:
    station, csms = setup()
    csms.feed(station.plug_in(1, token_uid="AABBCCDD", ev=EV, now=at(5)), at(5))
    csms.feed(station.unplug(1, at(60)), at(60))  # StartTransaction still unanswered
    assert csms.calls("StopTransaction") == []
    csms.answer_start(77, at(61))

    [stop] = csms.calls("StopTransaction")
    assert (stop["transactionId"], stop["reason"], stop["idTag"]) == (77, "EVDisconnected", "AABBCCDD")
    # 11 kW for 55 s: 168 Wh (floored), as the meter's last reading
    assert stop["meterStop"] == 168
    meter_values = csms.calls("MeterValues")
    assert len(meter_values) == 5
    assert {m.get("transactionId") for m in meter_values} == {77}
    # The visit's truth learns the id the CSMS gave, so the bench can join it to the CSMS's session.
    [truth] = station.truth
    assert (truth.transaction_id, truth.authorized, truth.energy_wh) == ("77", True, 168)


def test_a_late_answer_does_not_go_to_the_next_drivers_session() -> None:
    station, csms = setup()
    csms.feed(station.plug_in(1, token_uid="FIRST", ev=EV, now=at(5)), at(5))
    csms.feed(station.unplug(1, at(20)), at(20))
    # The next driver plugs in; their Authorize waits behind the unanswered StartTransaction.
    csms.feed(station.plug_in(1, token_uid="SECOND", ev=EV, now=at(30)), at(30))
    csms.answer_start(77, at(31))  # the first driver's; Authorize then StartTransaction follow
    assert station.connectors[1].session is not None
    assert station.connectors[1].session.transaction_id is None  # not the first driver's 77
    csms.answer_start(78, at(32))
    assert station.connectors[1].session.transaction_id == "78"
    csms.feed(station.unplug(1, at(90)), at(90))

    stops = csms.calls("StopTransaction")
    assert [(s["idTag"], s["transactionId"]) for s in stops] == [("FIRST", 77), ("SECOND", 78)]
    assert [(t.token_uid, t.transaction_id) for t in station.truth] == [("FIRST", "77"), ("SECOND", "78")]


def test_a_given_up_start_leaves_the_next_answer_to_its_own_session() -> None:
    station = Station16(
        "CS-1", connectors=1, max_power_kw=Decimal("11"), meter_interval_s=600, call_timeout_s=30
    )
    station.tx_attempts = 1  # no resend: the first StartTransaction is given up at its timeout
    csms = SlowCsms(station)
    csms.feed(station.on_connected(T0), T0)
    csms.feed(station.plug_in(1, token_uid="FIRST", ev=EV, now=at(5)), at(5))
    csms.feed(station.unplug(1, at(20)), at(20))
    csms.feed(station.on_wakeup(at(35)), at(35))  # timed out and given up
    csms.held.clear()
    csms.feed(station.plug_in(1, token_uid="SECOND", ev=EV, now=at(40)), at(40))
    csms.answer_start(78, at(41))
    assert station.connectors[1].session is not None
    assert station.connectors[1].session.transaction_id == "78"
    assert [t.transaction_id for t in station.truth] == [None]  # the given-up one: never known
