"""An object that names another party object by id (a CDR its session and tariffs, a tariff version
its tariff, a Session/CDR its location, EVSE and connector) names it as that message spelled it.
OCPI ids are CiStrings: every such reference finds its object in any case, as the objects' own
keys do since review 4, G1 (tests/emsp/ocpi/test_cistring_ids.py)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any

from emsp_helpers import T0, Client, V, cdr, location, period, session, tariff

from emsp.core import EmspCore
from emsp.model import CdrInfo, Money, PartyRef
from emsp.services.cdrs import resolve_cdr
from emsp.services.provenance import cdr_provenance
from emsp.services.sessions import token_uid_of_contract
from emsp.storage.queries import find_cdr, find_invoice_line


def kinds(core: EmspCore) -> list[str]:
    return [f.kind for f in core.records().findings]


def test_a_second_cdr_naming_the_session_in_another_case_is_noticed(core: EmspCore, cpo: Client) -> None:
    cpo.call("POST", f"{V}/cdrs", cdr("C1", session_id="SES-A"))
    assert kinds(core) == []
    cpo.call("POST", f"{V}/cdrs", cdr("C2", session_id="ses-a"))
    assert kinds(core) == ["second_cdr_for_session"]


def test_a_cdr_naming_its_session_in_another_case_does_not_overlap_itself(
    core: EmspCore, cpo: Client
) -> None:
    core.issue_credentials("driver-1", now=T0, push=False)
    uid = core.driver_tokens("driver-1")[0].uid
    token = {"uid": uid, "type": "RFID", "contract_id": "X", "country_code": "NL", "party_id": "EMS"}
    cpo.call("PUT", f"{V}/sessions/DE/CPA/SES-A", session("SES-A", cdr_token=token))
    cpo.call("POST", f"{V}/cdrs", cdr(session_id="ses-a", cdr_token=token))
    assert [d.rule for d in core.records().fraud_decisions] == []


def test_an_invoice_line_is_found_by_its_cdr_id_in_any_case(core: EmspCore, cpo: Client) -> None:
    cpo.call("POST", f"{V}/cdrs", cdr("CDR-A"))
    with core.db.unit() as db:
        for spelling in ("CDR-A", "cdr-a", "Cdr-a"):
            line = find_invoice_line(db, "DE", "CPA", spelling)
            assert line is not None and line.cdr_id == "CDR-A"
        assert find_invoice_line(db, "DE", "CPA", "CDR-B") is None


def test_tariff_history_holds_the_versions_of_every_spelling(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff("TAR1"))
    later = tariff("tar1") | {"last_updated": "2025-03-01T08:30:00Z"}
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/tar1", later)
    cpo.call("POST", f"{V}/cdrs", cdr())
    with core.db.unit() as db:
        row = find_cdr(db, "DE", "CPA", "CDR1")
        assert row is not None
        held = cdr_provenance(db, row)["tariffs"]["cdr_received"]
    assert [(t["tariff_id"], t["last_updated"]) for t in held] == [("TAR1", "2025-03-01T08:30:00Z")]


def test_a_cdr_finds_its_connectors_tariff_in_any_case(core: EmspCore, cpo: Client) -> None:
    """No tariff named in the CDR: the connector's, found by the CDR's evse_uid/connector_id."""
    site = location()
    site["evses"][0]["connectors"][0]["id"] = "A"
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", site)
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff("TAR1"))
    untariffed = {k: v for k, v in period("2025-03-01T09:00:00Z", "10.5").items() if k != "tariff_id"}
    body = cdr(charging_periods=[untariffed])
    body["cdr_location"] |= {"evse_uid": "evse1", "connector_id": "a"}
    cpo.call("POST", f"{V}/cdrs", body)
    [line] = core.records().invoice_lines
    assert line.tariff_id == "TAR1" and line.amount_excl_vat is not None


def test_a_tariff_embedded_in_another_case_prices_the_periods_naming_it(core: EmspCore, cpo: Client) -> None:
    embedded: dict[str, Any] = tariff("tar1")
    cpo.call("POST", f"{V}/cdrs", cdr(tariffs=[embedded]))  # its periods name TAR1, never PUT
    [line] = core.records().invoice_lines
    assert line.amount_excl_vat is not None, line.note
    assert "unknown" not in line.note


def test_a_quote_finds_the_connector_in_any_case(core: EmspCore, cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location())
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff("TAR1"))
    quoted = [
        core.quote(
            country_code="DE", party_id="CPA", location_id="loc1", evse_uid=uid, connector_id="1",
            energy_kwh=Decimal(10), stay=timedelta(hours=1), now=T0,
        )
        for uid in ("EVSE1", "evse1")
    ]  # fmt: skip
    assert quoted[0] is not None and quoted[0] == quoted[1]


def test_a_211_cdr_finds_its_session_by_location_in_any_case(core: EmspCore, cpo: Client) -> None:
    """2.1.1 CDRs carry no session id: the session is the one at that location and start."""
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session("S1", location_id="LOC1"))
    info = CdrInfo(
        partner="cpo1", party=PartyRef("DE", "CPA"), cdr_id="C1", session_id=None, token_uid="RFID1",
        contract_id="NL-EMS-C00000001-X", authorization_reference=None, location_id="loc1",
        total_energy_kwh=Decimal(1), total_cost=Money(Decimal(1), None, "EUR"), start=T0,
        end=T0 + timedelta(hours=1), received_at=T0 + timedelta(hours=1), credit=False,
    )  # fmt: skip
    with core.db.unit() as db:
        assert resolve_cdr(db, info).session_id == "S1"
        assert resolve_cdr(db, dataclasses.replace(info, location_id="LOC2")).session_id is None


def _contract_cdr(contract_id: str, token_uid: str = "RFID1") -> CdrInfo:
    """A 2.1.1 CDR as its adapter reads it: no session id, the driver's contract (auth_id) only."""
    return CdrInfo(
        partner="cpo1", party=PartyRef("DE", "CPA"), cdr_id="C1", session_id=None, token_uid=token_uid,
        contract_id=contract_id, authorization_reference=None, location_id="LOC1",
        total_energy_kwh=Decimal(1), total_cost=Money(Decimal(1), None, "EUR"), start=T0,
        end=T0 + timedelta(hours=1), received_at=T0 + timedelta(hours=1), credit=False,
    )  # fmt: skip


def test_a_211_cdr_finds_its_session_by_contract_in_any_case(core: EmspCore, cpo: Client) -> None:
    """The session was pushed with contract NL-EMS-C00000001-X; the CDR spells it in lower case."""
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S1", session("S1", location_id="LOC1"))
    with core.db.unit() as db:
        assert resolve_cdr(db, _contract_cdr("nl-ems-c00000001-x")).session_id == "S1"
        assert resolve_cdr(db, _contract_cdr("NL-EMS-C00000002-X")).session_id is None


def test_a_cdr_or_session_naming_only_the_contract_gets_our_token_in_any_case(core: EmspCore) -> None:
    """2.1.1 names the driver by contract (auth_id) only: our token of that contract, whichever
    case the CPO writes it in, not the contract id standing in for a token uid."""
    core.issue_token("TOKU", contract_id="NL-EMS-C00000009-Y", now=T0)
    with core.db.unit() as db:
        assert resolve_cdr(db, _contract_cdr("nl-ems-c00000009-y", token_uid="")).token_uid == "TOKU"
        assert resolve_cdr(db, _contract_cdr("NL-EMS-C00000008-Y", token_uid="")).token_uid == (
            "NL-EMS-C00000008-Y"
        )
        assert token_uid_of_contract(db, "Nl-Ems-C00000009-y") == "TOKU"
