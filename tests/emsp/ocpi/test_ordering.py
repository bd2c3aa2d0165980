"""An object older (last_updated) than the stored one never replaces it; it is accepted and recorded
as a finding on the partner. Equal times are replays and apply (idempotently)."""

from __future__ import annotations

from typing import Any

import pytest
from emsp_helpers import Client, V, location, period, session, tariff

from emsp.core import EmspCore

NEW = "2025-03-01T10:00:00Z"
OLD = "2025-03-01T09:30:00Z"


def _accepted_not_applied(resp: Any) -> None:
    body = resp.json()
    assert (resp.status, body["status_code"]) == (200, 1000), resp.body
    assert "not applied" in body["status_message"]


def _stored(cpo: Client, path: str) -> Any:
    resp = cpo.call("GET", f"{V}{path}")
    assert resp.status == 200, resp.body
    return resp.json()["data"]


def test_an_older_session_put_does_not_reopen_a_completed_session(cpo: Client, core: EmspCore) -> None:
    done = session(status="COMPLETED", kwh=12, end_date_time=NEW, last_updated=NEW)
    assert cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", done).status == 201
    _accepted_not_applied(
        cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(status="ACTIVE", kwh=3, last_updated=OLD))
    )
    stored = _stored(cpo, "/sessions/DE/CPA/S1")
    assert (stored["status"], stored["kwh"], stored["last_updated"]) == ("COMPLETED", 12, NEW)
    (record,) = core.records().sessions
    assert (record.status, record.kwh) == ("COMPLETED", 12)
    (finding,) = core.records().findings
    assert (finding.partner, finding.party.key(), finding.kind) == ("cpo1", "DE*CPA", "stale_update")
    assert (finding.module, finding.object_id) == ("sessions", "S1")
    assert OLD in finding.detail and NEW in finding.detail


def test_an_older_session_patch_is_not_applied(cpo: Client, core: EmspCore) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(kwh=5, last_updated=NEW))
    patch = {"kwh": 1, "charging_periods": [period(OLD, "1")], "last_updated": OLD}
    _accepted_not_applied(cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch))
    stored = _stored(cpo, "/sessions/DE/CPA/S1")
    assert stored["kwh"] == 5 and "charging_periods" not in stored
    assert [f.object_id for f in core.records().findings] == ["S1"]


def test_equal_last_updated_is_a_replay_and_newer_applies(cpo: Client, core: EmspCore) -> None:
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session(last_updated=OLD))
    patch = {"kwh": 2, "charging_periods": [period(OLD, "2")], "last_updated": NEW}
    for _ in range(2):  # the same PATCH twice: a retry after a lost response
        resp = cpo.call("PATCH", f"{V}/sessions/DE/CPA/S1", patch)
        assert (resp.status, resp.json()["status_code"]) == (200, 1000)
        assert "status_message" not in resp.json() or "not applied" not in resp.json()["status_message"]
    stored = _stored(cpo, "/sessions/DE/CPA/S1")
    assert stored["kwh"] == 2 and len(stored["charging_periods"]) == 1  # not added twice
    assert core.records().findings == ()


def test_an_older_tariff_does_not_replace_the_newer(cpo: Client, core: EmspCore) -> None:
    newer = {**tariff(), "last_updated": NEW, "currency": "EUR"}
    assert cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", newer).status == 201
    older = {**tariff(), "last_updated": OLD}
    older["elements"] = [{"price_components": [{"type": "ENERGY", "price": 9, "step_size": 1}]}]
    _accepted_not_applied(cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", older))
    assert _stored(cpo, "/tariffs/DE/CPA/TAR1")["last_updated"] == NEW
    assert [(f.module, f.object_id) for f in core.records().findings] == [("tariffs", "TAR1")]


def _location_at(when: str) -> dict[str, Any]:
    body = location()
    body["last_updated"] = when
    body["evses"][0]["last_updated"] = when
    body["evses"][0]["connectors"][0]["last_updated"] = when
    return body


@pytest.mark.parametrize(
    ("method", "path", "body", "object_id"),
    [
        ("PUT", "", {**location(), "last_updated": OLD, "time_zone": "Europe/Paris"}, "LOC1"),
        ("PATCH", "", {"time_zone": "Europe/Paris", "last_updated": OLD}, "LOC1"),
        ("PATCH", "/EVSE1", {"status": "CHARGING", "last_updated": OLD}, "LOC1/EVSE1"),
        (
            "PUT",
            "/EVSE1",
            {**location()["evses"][0], "status": "CHARGING", "last_updated": OLD},
            "LOC1/EVSE1",
        ),
        ("PATCH", "/EVSE1/1", {"max_voltage": 400, "last_updated": OLD}, "LOC1/EVSE1/1"),
        (
            "PUT",
            "/EVSE1/1",
            {**location()["evses"][0]["connectors"][0], "max_voltage": 400, "last_updated": OLD},
            "LOC1/EVSE1/1",
        ),
    ],
)
def test_older_location_pushes_are_not_applied(
    cpo: Client, core: EmspCore, method: str, path: str, body: dict[str, Any], object_id: str
) -> None:
    assert cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", _location_at(NEW)).status == 201
    before = _stored(cpo, "/locations/DE/CPA/LOC1")
    _accepted_not_applied(cpo.call(method, f"{V}/locations/DE/CPA/LOC1{path}", body))
    assert _stored(cpo, "/locations/DE/CPA/LOC1") == before
    assert [(f.module, f.object_id) for f in core.records().findings] == [("locations", object_id)]


def test_a_newer_evse_push_still_applies_and_moves_the_parent(cpo: Client, core: EmspCore) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", _location_at(OLD))
    resp = cpo.call("PATCH", f"{V}/locations/DE/CPA/LOC1/EVSE1", {"status": "CHARGING", "last_updated": NEW})
    assert (resp.status, resp.json()["status_code"]) == (200, 1000)
    stored = _stored(cpo, "/locations/DE/CPA/LOC1")
    assert stored["evses"][0]["status"] == "CHARGING" and stored["last_updated"] == NEW
    assert core.records().findings == ()
