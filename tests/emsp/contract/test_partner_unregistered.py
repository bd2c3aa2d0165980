"""A partner that unregistered (credentials DELETE) is listed as such: no version, no endpoints.

Before, `/api/v1/partners` kept showing the version and endpoints of the registration that ended."""

from __future__ import annotations

from emsp_helpers import Client, V
from fastapi.testclient import TestClient

from emsp.core import EmspCore
from emsp.storage.tables import PartnerRow


def test_after_credentials_delete_the_partner_shows_no_version_and_no_endpoints(
    api: TestClient, cpo: Client
) -> None:
    before = api.get("/api/v1/partners/cpo1").json()
    assert before["registered"] is True and before["version"] == "2.2.1"
    assert cpo.call("DELETE", f"{V}/credentials").json()["status_code"] == 1000
    [listed] = [p for p in api.get("/api/v1/partners").json() if p["id"] == "cpo1"]
    assert listed == api.get("/api/v1/partners/cpo1").json()
    assert (listed["registered"], listed["version"], listed["endpoints"]) == (False, None, [])


def test_a_row_unregistered_by_an_older_emsp_is_listed_without_its_stale_version(
    api: TestClient, api_core: EmspCore, cpo: Client
) -> None:
    with api_core.db.unit() as db:  # what a DELETE left behind before version and endpoints were cleared
        row = db.get(PartnerRow, "cpo1")
        assert row is not None and row.version == "2.2.1" and row.endpoints_json != "[]"
        row.registered = False
    listed = api.get("/api/v1/partners/cpo1").json()
    assert (listed["registered"], listed["version"], listed["endpoints"]) == (False, None, [])
