"""OCPI object ids are CiStrings (2.1.1 types, CiString; 2.2.1/2.3.0 types, "Case Insensitive
String"): the same id in another letter case names the SAME object at the eMSP's wire boundary
(review 4, G1). The first spelling received is the one kept in the id column."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import T0, Client, V, cdr, location, session, tariff

from emsp.core import EmspCore
from emsp.storage.tables import LocationRow, TariffRow


def status(resp: Any) -> tuple[int, int]:
    return resp.status, resp.json()["status_code"]


def test_a_cdr_reposted_in_another_case_is_a_duplicate_never_billed_twice(
    core: EmspCore, cpo: Client
) -> None:
    assert status(cpo.call("POST", f"{V}/cdrs", cdr("CDR-A"))) == (201, 1000)
    again = cpo.call("POST", f"{V}/cdrs", cdr("cdr-a"))
    assert status(again) == (200, 1000) and again.json()["status_message"] == "CDR already received"
    records = core.records()
    assert [c.cdr_id for c in records.cdrs] == ["CDR-A"]
    assert len(records.invoice_lines) == 1
    assert [(d.cdr_id, d.identical) for d in records.duplicate_cdrs] == [("cdr-a", True)]
    assert [f.kind for f in records.findings] == ["duplicate_cdr"]
    # The stored CDR is readable under either spelling.
    for spelling in ("CDR-A", "cdr-a", "Cdr-A"):
        got = cpo.call("GET", f"{V}/cdrs/DE/CPA/{spelling}")
        assert status(got) == (200, 1000) and got.json()["data"]["id"] == "CDR-A"


def test_a_cdr_in_another_case_with_other_content_is_refused(core: EmspCore, cpo: Client) -> None:
    cpo.call("POST", f"{V}/cdrs", cdr("CDR-A"))
    changed = cdr("cdr-a", total_energy=Decimal("11"))
    assert status(cpo.call("POST", f"{V}/cdrs", changed)) == (200, 2001)
    assert len(core.records().invoice_lines) == 1


def test_a_session_put_in_another_case_updates_the_stored_session(core: EmspCore, cpo: Client) -> None:
    assert status(cpo.call("PUT", f"{V}/sessions/DE/CPA/SES-A", session("SES-A"))) == (201, 1000)
    later = session("ses-a", kwh=5, last_updated="2025-03-01T09:30:00Z")
    assert status(cpo.call("PUT", f"{V}/sessions/DE/CPA/ses-a", later)) == (200, 1000)
    patch = {"kwh": 7, "last_updated": "2025-03-01T09:40:00Z"}
    assert status(cpo.call("PATCH", f"{V}/sessions/DE/CPA/Ses-A", patch)) == (200, 1000)
    sessions = core.records().sessions
    assert [(s.session_id, s.kwh) for s in sessions] == [("SES-A", 7)]
    assert cpo.call("GET", f"{V}/sessions/DE/CPA/ses-a").json()["data"]["kwh"] == 7


def test_a_location_put_in_another_case_replaces_the_stored_location(core: EmspCore, cpo: Client) -> None:
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/LOC-A", location("LOC-A"))) == (201, 1000)
    second = location("loc-a") | {"name": "second", "last_updated": "2025-03-01T08:30:00Z"}
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/loc-a", second)) == (200, 1000)
    with core.db.unit() as db:
        assert [r.location_id for r in db.query(LocationRow)] == ["LOC-A"]
    assert cpo.call("GET", f"{V}/locations/DE/CPA/LOC-A").json()["data"]["name"] == "second"


def test_evse_and_connector_ids_in_the_url_match_in_any_case(cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location("LOC1"))
    evse = location("LOC1")["evses"][0] | {
        "uid": "evse1",
        "status": "CHARGING",
        "last_updated": "2025-03-01T08:10:00Z",
    }
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1/evse1", evse)) == (200, 1000)
    stored = cpo.call("GET", f"{V}/locations/DE/CPA/loc1").json()["data"]
    # One EVSE, replaced, keeping its uid as first stored (as a Location keeps its id).
    assert [(e["uid"], e["status"]) for e in stored["evses"]] == [("EVSE1", "CHARGING")]
    patch = {"status": "AVAILABLE", "last_updated": "2025-03-01T08:20:00Z"}
    assert status(cpo.call("PATCH", f"{V}/locations/DE/CPA/LOC1/EVSE1", patch)) == (200, 1000)
    # The body's id may differ from the URL's in case only (the same CiString).
    connector = evse["connectors"][0] | {"id": "A", "last_updated": "2025-03-01T08:30:00Z"}
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1/EVSE1/a", connector)) == (200, 1000)
    assert status(cpo.call("GET", f"{V}/locations/DE/CPA/LOC1/Evse1/A")) == (200, 1000)
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1/EVSE1/b", connector)) == (200, 2001)


def test_a_connector_put_or_patched_in_another_case_keeps_its_stored_id(cpo: Client) -> None:
    site = location("LOC1")
    site["evses"][0]["connectors"][0]["id"] = "CON-A"
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", site)
    connector = site["evses"][0]["connectors"][0] | {"id": "con-a", "last_updated": "2025-03-01T08:30:00Z"}
    assert status(cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1/EVSE1/con-a", connector)) == (200, 1000)
    patch = {"id": "Con-A", "max_voltage": 400, "last_updated": "2025-03-01T08:40:00Z"}
    assert status(cpo.call("PATCH", f"{V}/locations/DE/CPA/LOC1/evse1/CON-a", patch)) == (200, 1000)
    evse_patch = {"uid": "evse1", "status": "CHARGING", "last_updated": "2025-03-01T08:50:00Z"}
    assert status(cpo.call("PATCH", f"{V}/locations/DE/CPA/LOC1/evse1", evse_patch)) == (200, 1000)
    [evse] = cpo.call("GET", f"{V}/locations/DE/CPA/LOC1").json()["data"]["evses"]
    assert (evse["uid"], evse["status"]) == ("EVSE1", "CHARGING")
    assert [(c["id"], c["max_voltage"]) for c in evse["connectors"]] == [("CON-A", 400)]


def test_a_tariff_put_in_another_case_replaces_the_stored_tariff(core: EmspCore, cpo: Client) -> None:
    assert status(cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR-A", tariff("TAR-A"))) == (201, 1000)
    later = tariff("tar-a") | {"last_updated": "2025-03-01T08:30:00Z"}
    assert status(cpo.call("PUT", f"{V}/tariffs/DE/CPA/tar-a", later)) == (200, 1000)
    with core.db.unit() as db:
        assert [r.tariff_id for r in db.query(TariffRow)] == ["TAR-A"]


def test_a_command_finds_its_location_and_session_in_any_case(core: EmspCore, cpo: Client) -> None:
    """Found (the partner holding them is chosen): refused only because this test CPO has no
    commands endpoint; before, "no location 'loc-a' is known"."""
    from emsp.model import CommandRequest
    from emsp.ocpi.command_send import CommandRefused

    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC-A", location("LOC-A"))
    cpo.call("PUT", f"{V}/sessions/DE/CPA/SES-A", session("SES-A", location_id="LOC-A"))
    start = CommandRequest(kind="START_SESSION", location_id="loc-a", evse_uid="EVSE1")
    stop = CommandRequest(kind="STOP_SESSION", session_id="ses-a")
    for request in (start, stop):
        with pytest.raises(CommandRefused, match="partner 'cpo1' offers no commands endpoint"):
            core.send_command(request, now=T0, token_uid="RFID1")
