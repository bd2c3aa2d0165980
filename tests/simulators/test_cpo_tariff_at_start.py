"""A tariff change that reaches the mock CPO between a session's start (by the station's clock) and
the CPO learning of it must not reprice that session: the session keeps the tariff of its start, or
switches at the change instant (split_periods), as a session that was known at the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from cpo_fake_emsp import FakeEmsp
from test_cpo_versions import TARIFF, make_cpo, pump

from simulators.cpo.events import AuthorizationRequested, MeterSampled, TransactionEnded, TransactionStarted

T0 = datetime(2026, 3, 2, 7, tzinfo=UTC)
CHANGE = T0 + timedelta(minutes=20)
NEW = TARIFF | {"elements": [{"price_components": [{"type": "ENERGY", "price": 0.55, "step_size": 1}]}]}


@pytest.mark.parametrize(
    ("started", "reported", "policy", "expected"),
    [
        # started before the change, reported after it (a delayed StartTransaction)
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=25), "split_periods", ["STD", "STD-2"]),
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=25), "price_at_start", ["STD"]),
        # reported in time: the change finds the session in progress
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=10), "split_periods", ["STD", "STD-2"]),
        # started after the change: the new version only
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=30), "split_periods", ["STD-2"]),
        (T0 + timedelta(minutes=30), T0 + timedelta(minutes=30), "price_at_start", ["STD-2"]),
    ],
)
def test_a_session_is_priced_by_the_tariff_of_its_start(
    started: datetime, reported: datetime, policy: str, expected: list[str]
) -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    pump(cpo, emsp, cpo.start(T0), T0)
    ask = AuthorizationRequested(ref="r1", station_id="CS1", token_uid="AA11", at=started)
    pump(cpo, emsp, cpo.on_event(ask, started), started)
    if reported > CHANGE:  # the change lands first
        pump(cpo, emsp, cpo.publish_tariff("STD", "STD-2", NEW, policy, CHANGE), CHANGE)
    pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "AA11", 0, started), reported), reported)
    if reported <= CHANGE:
        pump(cpo, emsp, cpo.publish_tariff("STD", "STD-2", NEW, policy, CHANGE), CHANGE)
    end = T0 + timedelta(hours=1)
    middle = started + (end - started) / 2
    pump(cpo, emsp, cpo.on_event(MeterSampled("CS1", "7", middle, 5000, Decimal(11000)), middle), middle)
    pump(cpo, emsp, cpo.on_event(TransactionEnded("CS1", "7", end, 10000, "EVDisconnected"), end), end)
    [cdr] = emsp.bodies("POST", "cdrs")
    periods = cdr["charging_periods"]
    assert list(dict.fromkeys(p["tariff_id"] for p in periods)) == expected
    for period in periods:  # the switch is at the instant of the change, never before it
        assert (period["tariff_id"] == "STD") == (period["start_date_time"] < "2026-03-02T07:20:00Z")
    session_id = cpo.truth.session_ids[("CS1", "7")]
    assert cpo.truth.tariff_in_effect[session_id][0] == expected[0]
