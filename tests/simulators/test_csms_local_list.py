"""The mock CSMS's local list policy: what it pushes after a boot (table-driven), and that a station
it pushed to authorizes a listed token offline (in-memory pair, both versions)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from ocpp_pair import Pair
from test_station_calls import EV, T0, VERSIONS, after

from simulators.cpo.csms import Csms
from simulators.cpo.csms_local_list import local_list_requests
from simulators.ocppj import OcppVersion
from simulators.station.upkeep import LocalList
from simulators.station.v16 import Station16
from simulators.station.v201 import Station201


def _shape(requests: list[dict[str, Any]], version: OcppVersion) -> list[tuple[int, str, list[str]]]:
    key, tag = ("listVersion", "idTag") if version == "1.6" else ("versionNumber", "idToken")

    def uid(entry: dict[str, Any]) -> str:
        return str(entry[tag] if version == "1.6" else entry[tag]["idToken"])

    return [
        (r[key], r["updateType"], [uid(e) for e in r.get("localAuthorizationList", [])]) for r in requests
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("tokens", "per_message", "expected"),
    [
        ([], 100, [(1, "Full", [])]),  # nothing whitelisted: the list is cleared
        (["A", "B", "A"], 100, [(1, "Full", ["A", "B"])]),  # once each
        (["A", "A", "a", "B", "b"], 100, [(1, "Full", ["A", "B"])]),  # once regardless of case, first kept
        (["A", "B", "C"], 2, [(1, "Full", ["A", "B"]), (2, "Differential", ["C"])]),
        (["A", "X" * 21, "B"], 100, None),  # 21 characters: too long for a 1.6 idTag only
        (["X" * 21], 100, None),  # nothing a 1.6 station can hold: no empty Full update wipes its list
    ],
)
def test_the_push_is_one_full_update_then_differential_ones(
    version: OcppVersion, tokens: list[str], per_message: int, expected: list[Any] | None
) -> None:
    if expected is None and len(tokens) == 1:
        expected = [] if version == "1.6" else [(1, "Full", tokens)]
    elif expected is None:
        expected = [(1, "Full", ["A", "B"] if version == "1.6" else ["A", "X" * 21, "B"])]
    requests = local_list_requests(version, tokens, per_message)
    assert _shape(requests, version) == expected
    info = "idTagInfo" if version == "1.6" else "idTokenInfo"
    assert all(
        e[info] == {"status": "Accepted"} for r in requests for e in r.get("localAuthorizationList", [])
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_after_the_boot_the_list_is_pushed_and_authorizes_offline(version: OcppVersion) -> None:
    cls = Station16 if version == "1.6" else Station201
    station = cls("CS-1", connectors=2, max_power_kw=Decimal("7.4"), meter_interval_s=600)
    csms = Csms("CPO", authorize=lambda token: True, local_list=["TOKEN-A", "TOKEN-B"])
    pair = Pair(station, csms)
    pair.connect(T0)
    # The push follows the boot's answer, before anything else the CSMS asks.
    assert station.upkeep.local_list.version == 1
    assert sorted(station.upkeep.local_list.entries) == ["TOKEN-A", "TOKEN-B"]
    offline_at = T0 + timedelta(minutes=1)
    pair.pump(station.set_online(False, offline_at), offline_at)
    pair.plug_in(1, "TOKEN-A", EV, T0 + timedelta(minutes=2))  # listed: charges while offline
    pair.plug_in(2, "TOKEN-X", EV, T0 + timedelta(minutes=2))  # not listed: waits for the CSMS
    assert station.connectors[1].session is not None and station.connectors[1].session.started_at is not None
    assert station.connectors[2].session is not None and station.connectors[2].session.started_at is None
    assert not after(pair, offline_at)


def test_without_the_policy_nothing_is_pushed() -> None:
    station = Station16("CS-1", connectors=1, max_power_kw=Decimal("7.4"), meter_interval_s=600)
    pair = Pair(station, Csms("CPO", authorize=lambda token: True))
    pair.connect(T0)
    assert not any('"SendLocalList"' in c.frame for c in pair.trace)
    assert station.upkeep.local_list.version == 0


OK, BLOCKED = {"status": "Accepted"}, {"status": "Blocked"}


@pytest.mark.parametrize(
    ("updates", "entries", "lookups"),
    [
        # One Full update naming a tag twice in different case: one entry, the first spelling.
        ([(1, True, [("A", OK), ("a", OK)])], {"A": OK}, {"a": "Accepted", "A": "Accepted"}),
        # A differential update in another case changes that entry, and removes it without info.
        (
            [(1, True, [("TAG-1", OK)]), (2, False, [("tag-1", BLOCKED)])],
            {"TAG-1": BLOCKED},
            {"Tag-1": "Blocked"},
        ),
        ([(1, True, [("TAG-1", OK), ("B", OK)]), (2, False, [("tag-1", None)])], {"B": OK}, {"TAG-1": None}),
    ],
)
def test_the_stations_local_list_compares_tokens_without_case(
    updates: list[tuple[int, bool, list[tuple[str, Any]]]], entries: dict[str, Any], lookups: dict[str, Any]
) -> None:
    local = LocalList()
    for version, full, items in updates:
        assert local.update(version, full, items) == "Accepted"
    assert local.entries == entries
    assert {token: local.status_of(token) for token in lookups} == lookups
