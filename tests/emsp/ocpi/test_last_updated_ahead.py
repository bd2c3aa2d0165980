"""A last_updated far ahead of our clock is refused (review r7 K8). last_updated is the only order of
pushes (a stale one is "accepted, not applied"), so one from the future (a clock fault: 2999) froze
the object: every genuine update after it, COMPLETED included, was answered 1000 and never applied.
Policy (emsp.ocpi.modules.common.CLOCK_SKEW): beyond our clock plus a day, 2001 naming the field,
in every module that orders by last_updated (Locations and their EVSEs/Connectors, Tariffs,
Sessions, hub ClientInfo); within it, accepted as before (a sender's consistent offset)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from emsp_helpers import Client, V, location, register, session, tariff
from test_hub_parties import _hub

from emsp.core import EmspCore, EmspSettings
from emsp.timeutil import format_utc

FAR = "2999-01-01T00:00:00Z"
L = f"{V}/locations/DE/CPA/LOC1"


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings(pull_initial=False))


@pytest.fixture
def cpo(core: EmspCore) -> Client:
    cpo = register(core)
    assert cpo.call("PUT", L, location()).json()["status_code"] == 1000
    return cpo


def _evse(stamp: str) -> dict[str, Any]:
    return location()["evses"][0] | {"last_updated": stamp}


PUSHES = [
    ("PUT", L, lambda t: location() | {"last_updated": t}),
    ("PATCH", L, lambda t: {"name": "x", "last_updated": t}),
    ("PUT", f"{L}/EVSE1", _evse),
    ("PATCH", f"{L}/EVSE1", lambda t: {"status": "CHARGING", "last_updated": t}),
    ("PUT", f"{L}/EVSE1/1", lambda t: location()["evses"][0]["connectors"][0] | {"last_updated": t}),
    ("PATCH", f"{L}/EVSE1/1", lambda t: {"max_voltage": 400, "last_updated": t}),
    ("PUT", f"{V}/tariffs/DE/CPA/TAR1", lambda t: tariff() | {"last_updated": t}),
    ("PUT", f"{V}/sessions/DE/CPA/S9", lambda t: session("S9", last_updated=t)),
]


@pytest.mark.parametrize(("method", "url", "body"), PUSHES)
def test_a_last_updated_from_the_future_is_refused(cpo: Client, method: str, url: str, body: Any) -> None:
    answer = cpo.call(method, url, body(FAR))
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert "'last_updated'" in answer.json()["status_message"]


@pytest.mark.parametrize(("method", "url", "body"), PUSHES)
def test_within_a_day_ahead_is_accepted(cpo: Client, method: str, url: str, body: Any) -> None:
    ahead = format_utc(cpo.now + timedelta(hours=23))
    assert cpo.call(method, url, body(ahead)).json()["status_code"] == 1000


def test_a_session_is_not_frozen_by_a_future_update(core: EmspCore, cpo: Client) -> None:
    u = f"{V}/sessions/DE/CPA/S5"
    assert cpo.call("PUT", u, session("S5")).json()["status_code"] == 1000
    assert cpo.call("PUT", u, session("S5", last_updated=FAR)).json()["status_code"] == 2001
    assert cpo.call("PATCH", u, {"kwh": 3, "last_updated": FAR}).json()["status_code"] == 2001
    done = session("S5", status="COMPLETED", end_date_time="2025-03-01T10:00:00Z", kwh=12)
    answer = cpo.call("PUT", u, done | {"last_updated": "2025-03-01T10:00:00Z"})
    assert answer.json() | {"timestamp": None} == {
        "status_code": 1000,
        "status_message": "Success",
        "timestamp": None,
    }
    (s,) = core.records().sessions
    assert s.status == "COMPLETED"


def test_a_hub_client_info_from_the_future_is_refused(core: EmspCore) -> None:
    hub = _hub(core)
    info = {
        "party_id": "HBA",
        "country_code": "DE",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": FAR,
    }
    answer = hub.call("PUT", f"{V}/hubclientinfo/DE/HBA", info)
    assert answer.json()["status_code"] == 2001, answer.body


def _location_nesting(evse_at: str, connector_at: str) -> dict[str, Any]:
    loc = location()
    evse = loc["evses"][0]
    evse["last_updated"] = evse_at
    evse["connectors"][0]["last_updated"] = connector_at
    return loc


LATE = "2025-03-01T08:59:00Z"  # genuine: after the stored Location (08:00), before our clock
NESTED = [
    ("PUT", L, lambda t: _location_nesting(t, LATE), "evses[0].last_updated"),
    ("PUT", L, lambda t: _location_nesting(LATE, t), "evses[0].connectors[0].last_updated"),
    ("PATCH", L, lambda t: {"evses": _location_nesting(t, LATE)["evses"], "last_updated": LATE}, "evses[0]"),
    ("PUT", f"{L}/EVSE1", lambda t: _location_nesting(LATE, t)["evses"][0], "connectors[0].last_updated"),
    (
        "PATCH",
        f"{L}/EVSE1",
        lambda t: {"connectors": _location_nesting(LATE, t)["evses"][0]["connectors"], "last_updated": LATE},
        "connectors[0].last_updated",
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "field"), NESTED)
def test_an_evse_or_connector_from_the_future_inside_a_push_is_refused(
    cpo: Client, method: str, url: str, body: Any, field: str
) -> None:
    """Their last_updated orders the later pushes to them as a top-level one does (review r8 L2)."""
    answer = cpo.call(method, url, body(FAR))
    assert (answer.status, answer.json()["status_code"]) == (200, 2001), answer.body
    assert f"'{field}" in answer.json()["status_message"]
    assert FAR not in str(cpo.call("GET", L).json()["data"])  # nothing stored
    evse = location()["evses"][0] | {"status": "CHARGING", "last_updated": "2025-03-01T09:05:00Z"}
    assert cpo.call("PUT", f"{L}/EVSE1", evse).json()["status_message"] == "Success"  # not frozen
    assert cpo.call("GET", f"{L}/EVSE1").json()["data"]["status"] == "CHARGING"


@pytest.mark.parametrize(("method", "url", "body", "field"), NESTED)
def test_nested_within_a_day_ahead_is_accepted(
    cpo: Client, method: str, url: str, body: Any, field: str
) -> None:
    ahead = format_utc(cpo.now + timedelta(hours=23))
    assert cpo.call(method, url, body(ahead)).json()["status_code"] == 1000
