from __future__ import annotations

from emsp_helpers import Client, V, location, tariff

U = f"{V}/locations/DE/CPA/LOC1"


def test_location_put_get_and_evse_connector(cpo: Client) -> None:
    assert cpo.call("PUT", U, location()).status == 201
    assert cpo.call("PUT", U, location()).status == 200  # replaced
    got = cpo.call("GET", U).json()
    assert got["status_code"] == 1000 and got["data"]["time_zone"] == "Europe/Berlin"
    assert cpo.call("GET", f"{U}/EVSE1").json()["data"]["status"] == "AVAILABLE"
    assert cpo.call("GET", f"{U}/EVSE1/1").json()["data"]["tariff_ids"] == ["TAR1"]

    evse2 = dict(location()["evses"][0], uid="EVSE2", last_updated="2025-03-01T08:30:00Z")
    assert cpo.call("PUT", f"{U}/EVSE2", evse2).json()["status_code"] == 1000
    loc = cpo.call("GET", U).json()["data"]
    assert [e["uid"] for e in loc["evses"]] == ["EVSE1", "EVSE2"]
    assert loc["last_updated"] == "2025-03-01T08:30:00Z"  # parent moved with the child


def test_location_patch_merges_and_touches_parents(cpo: Client) -> None:
    cpo.call("PUT", U, location())
    resp = cpo.call("PATCH", f"{U}/EVSE1", {"status": "CHARGING", "last_updated": "2025-03-01T09:10:00Z"})
    assert resp.json()["status_code"] == 1000
    evse = cpo.call("GET", f"{U}/EVSE1").json()["data"]
    assert evse["status"] == "CHARGING" and evse["connectors"][0]["id"] == "1"
    cpo.call("PATCH", f"{U}/EVSE1/1", {"tariff_ids": ["TAR2"], "last_updated": "2025-03-01T09:20:00Z"})
    loc = cpo.call("GET", U).json()["data"]
    assert loc["evses"][0]["connectors"][0]["tariff_ids"] == ["TAR2"]
    assert loc["evses"][0]["last_updated"] == loc["last_updated"] == "2025-03-01T09:20:00Z"
    cpo.call("PATCH", U, {"name": "Depot", "last_updated": "2025-03-01T09:30:00Z"})
    assert cpo.call("GET", U).json()["data"]["name"] == "Depot"


def test_location_errors(cpo: Client) -> None:
    cases = [
        ("GET", U, None, 404, 2003),
        ("PATCH", U, {"status": "X", "last_updated": "2025-03-01T09:00:00Z"}, 404, 2003),
        ("PATCH", U, {"status": "X"}, 200, 2001),  # last_updated required on PATCH
        ("PUT", f"{U}/EVSE1", location()["evses"][0], 404, 2003),
        ("PUT", f"{V}/locations/DE/CPA/OTHER", location(), 200, 2001),  # id mismatch
        ("PUT", U, {**location(), "time_zone": 5}, 200, 2001),
        ("DELETE", U, None, 405, 2000),
    ]
    for method, url, body, http, code in cases:
        resp = cpo.call(method, url, body)
        assert (resp.status, resp.json()["status_code"]) == (http, code), (method, url, resp.body)


def test_patch_to_invalid_location_changes_nothing(cpo: Client) -> None:
    cpo.call("PUT", U, location())
    resp = cpo.call("PATCH", U, {"time_zone": None, "last_updated": "2025-03-01T09:30:00Z"})
    assert resp.json()["status_code"] == 2001
    assert cpo.call("GET", U).json()["data"]["time_zone"] == "Europe/Berlin"


def test_tariff_put_get_delete(cpo: Client) -> None:
    url = f"{V}/tariffs/DE/CPA/TAR1"
    assert cpo.call("PUT", url, tariff()).status == 201
    assert cpo.call("GET", url).json()["data"]["currency"] == "EUR"
    assert cpo.call("DELETE", url).json()["status_code"] == 1000
    assert cpo.call("GET", url).status == 404
    assert cpo.call("DELETE", url).status == 404
    missing = {k: v for k, v in tariff().items() if k != "elements"}
    resp = cpo.call("PUT", url, missing).json()
    assert resp["status_code"] == 2001 and "elements" in resp["status_message"]
