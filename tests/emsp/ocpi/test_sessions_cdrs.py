from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from emsp_helpers import Client, V, cdr, location, period, register, session, tariff

from emsp.core import EmspCore
from emsp.storage.queries import session_raw

S = f"{V}/sessions/DE/CPA/S1"


def test_session_put_patch_appends_charging_periods(cpo: Client, core: EmspCore) -> None:
    assert cpo.call("PUT", S, session(charging_periods=[period("2025-03-01T09:00:00Z", "1")])).status == 201
    patch = {
        "kwh": Decimal("2.5"),
        "charging_periods": [period("2025-03-01T09:15:00Z", "1.5")],
        "last_updated": "2025-03-01T09:15:00Z",
    }
    assert cpo.call("PATCH", S, patch).status == 200
    got = cpo.call("GET", S).json()["data"]
    assert got["kwh"] == Decimal("2.5") and len(got["charging_periods"]) == 2
    # the same PATCH replayed (a retry after a lost response) adds no period twice
    assert cpo.call("PATCH", S, patch).status == 200
    assert len(cpo.call("GET", S).json()["data"]["charging_periods"]) == 2
    # an empty list on PATCH changes nothing (sessions, PATCH)
    cpo.call("PATCH", S, {"charging_periods": [], "last_updated": "2025-03-01T09:16:00Z"})
    assert len(cpo.call("GET", S).json()["data"]["charging_periods"]) == 2
    # PUT replaces the whole object, periods included
    cpo.call(
        "PUT",
        S,
        session(
            status="COMPLETED", end_date_time="2025-03-01T10:00:00Z", last_updated="2025-03-01T10:00:00Z"
        ),
    )
    got = cpo.call("GET", S).json()["data"]
    assert got["status"] == "COMPLETED" and "charging_periods" not in got
    (rec,) = core.records().sessions
    assert rec.status == "COMPLETED" and rec.token_uid == "RFID1" and rec.end is not None
    assert 'emsp_sessions_started_total{partner="cpo1"} 1.0' in core.metrics_text()


def test_session_patch_unknown_and_invalid(cpo: Client) -> None:
    cases = [
        ({"status": "COMPLETED", "last_updated": "2025-03-01T09:00:00Z"}, 404, 2001),
    ]
    for body, http, code in cases:
        resp = cpo.call("PATCH", S, body)
        assert (resp.status, resp.json()["status_code"]) == (http, code)
    cpo.call("PUT", S, session())
    for body in (
        {"status": "ACTIVE"},
        {"kwh": "12", "last_updated": "2025-03-01T09:00:00Z"},
        {"id": "S2", "last_updated": "2025-03-01T09:00:00Z"},
    ):
        resp = cpo.call("PATCH", S, body)
        assert (resp.status, resp.json()["status_code"]) == (200, 2001), body


def _setup_priced(cpo: Client) -> None:
    cpo.call("PUT", f"{V}/locations/DE/CPA/LOC1", location(tz="Europe/Amsterdam"))
    cpo.call("PUT", f"{V}/tariffs/DE/CPA/TAR1", tariff())


def test_cdr_post_location_get_and_duplicates(cpo: Client, core: EmspCore, pricer) -> None:  # type: ignore[no-untyped-def]
    _setup_priced(cpo)
    resp = cpo.call("POST", f"{V}/cdrs", cdr())
    assert resp.status == 201 and resp.json()["status_code"] == 1000
    where = resp.header("Location")
    assert where == f"{V}/cdrs/DE/CPA/CDR1"
    assert cpo.call("GET", where).json()["data"]["id"] == "CDR1"

    again = cpo.call("POST", f"{V}/cdrs", cdr())  # identical retry: success, not billed twice
    assert again.status == 200 and again.json()["status_code"] == 1000 and again.header("Location") == where
    changed = cpo.call("POST", f"{V}/cdrs", cdr(total_energy=Decimal("11")))
    assert changed.json()["status_code"] == 2001

    recs = core.records()
    assert len(recs.cdrs) == 1 and len(recs.invoice_lines) == 1
    assert [d.identical for d in recs.duplicate_cdrs] == [True, False]
    line = recs.invoice_lines[0]
    assert (line.amount_excl_vat, line.cpo_excl_vat, line.delta_excl_vat) == (
        Decimal("3.15"),
        Decimal("3.15"),
        Decimal("0.00"),
    )
    assert pricer.calls == [("TAR1", "CDR1", "Europe/Amsterdam")]  # tz from OUR stored location
    text = core.metrics_text()
    assert 'emsp_cdrs_received_total{partner="cpo1"} 1.0' in text
    assert "emsp_cdr_settlement_lag_seconds_count 1.0" in text


def test_cdr_invalid(cpo: Client) -> None:
    no_cost = {k: v for k, v in cdr().items() if k != "total_cost"}
    for body in (no_cost, cdr(total_energy="10"), cdr(charging_periods=[])):
        resp = cpo.call("POST", f"{V}/cdrs", body)
        assert (resp.status, resp.json()["status_code"]) == (200, 2001)
    assert cpo.call("PUT", f"{V}/cdrs/DE/CPA/CDR1", cdr()).status == 405
    assert cpo.call("GET", f"{V}/cdrs/DE/CPA/NOPE").status == 404


def test_a_partner_cannot_push_objects_for_another_party(core: EmspCore, cpo: Client) -> None:
    """transport_and_format, client owned object push, errors: another party's URL is answered 404."""
    from emsp.wire import dumps

    intruder = register(core, partner="cpo3", token_a="token-A-cpo3", party=("FR", "XYZ"))
    for method, url, body in (
        ("PUT", S, session()),
        ("PATCH", S, {"kwh": 99, "last_updated": "2025-03-01T09:00:00Z"}),
        ("POST", f"{V}/cdrs", cdr()),
        ("PUT", f"{V}/locations/DE/CPA/LOC1", location()),
    ):
        resp = intruder.call(method, url, body)
        assert (resp.status, resp.json()["status_code"]) == (404, 2001), (method, url, dumps(resp.json()))
    assert all(s.kwh != 99 for s in core.records().sessions)


def test_a_cdr_token_without_its_emsp_party_is_refused(cpo: Client) -> None:
    """mod_cdrs CdrToken: country_code and party_id are required, not optional."""
    body = cdr()
    body["cdr_token"] = {k: v for k, v in body["cdr_token"].items() if k not in ("country_code", "party_id")}
    resp = cpo.call("POST", f"{V}/cdrs", body)
    assert (resp.status, resp.json()["status_code"]) == (200, 2001)
    assert "country_code" in resp.json()["status_message"]


def _stored_sessions_agree_with_the_table(core: EmspCore) -> None:
    stored = core.db.stored_sessions
    assert stored is not None  # the in-memory database of these tests
    with core.db.unit() as db:
        for key, row in stored._rows.items():
            assert session_raw(db, *key) == row, key


def test_remembered_sessions_are_what_the_table_holds(cpo: Client, core: EmspCore) -> None:
    """PATCHes answer from remembered stored sessions: after every kind of request they are the
    committed rows, including a request that rolled back (busy) and one kept as stale."""
    assert cpo.call("PUT", S, session(charging_periods=[period("2025-03-01T09:00:00Z", "1")])).status == 201
    _stored_sessions_agree_with_the_table(core)
    assert (
        core.db.stored_sessions is not None and core.db.stored_sessions.get(("DE", "CPA", "S1")) is not None
    )
    for minute, status in ((15, 200), (20, 200), (5, 200)):  # the last one is older: kept, not applied
        body = {"charging_periods": [period(f"2025-03-01T09:{minute:02d}:00Z", "1")],
                "last_updated": f"2025-03-01T09:{minute:02d}:00Z"}  # fmt: skip
        assert cpo.call("PATCH", S, body).status == status
        _stored_sessions_agree_with_the_table(core)
    core.bus.policy = dataclasses.replace(
        core.bus.policy, max_pending_per_partner=0
    )  # refused: nothing written
    body = {"kwh": Decimal("9"), "last_updated": "2025-03-01T09:30:00Z"}
    assert cpo.call("PATCH", S, body).json()["status_code"] != 1000
    _stored_sessions_agree_with_the_table(core)
    assert len(cpo.call("GET", S).json()["data"]["charging_periods"]) == 3


def test_a_session_write_rolled_back_is_not_remembered(
    cpo: Client, core: EmspCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cpo.call("PUT", S, session()).status == 201
    body = {"kwh": Decimal("3"), "last_updated": "2025-03-01T09:10:00Z"}
    assert cpo.call("PATCH", S, body).status == 200
    before = core.db.stored_sessions.get(("DE", "CPA", "S1")) if core.db.stored_sessions else None
    assert before is not None

    def fail(*_args: object) -> None:
        raise RuntimeError("outbox down")

    monkeypatch.setattr(core.bus, "write", fail)  # after the UPDATE: the unit rolls back
    later = {"kwh": Decimal("4"), "last_updated": "2025-03-01T09:20:00Z"}
    assert cpo.call("PATCH", S, later).json()["status_code"] == 3000
    assert core.db.stored_sessions is not None and core.db.stored_sessions.get(("DE", "CPA", "S1")) == before
    _stored_sessions_agree_with_the_table(core)


def test_an_ended_session_is_forgotten_and_its_cdr_does_not_bring_it_back(
    cpo: Client, core: EmspCore
) -> None:
    """Memory holds sessions in progress only: the COMPLETED write forgets the session, the CDR's
    PENDING check reads the table without remembering, and a PATCH after the end still sees the
    stored state (from the table)."""
    stored, key = core.db.stored_sessions, ("DE", "CPA", "S1")
    assert stored is not None
    assert cpo.call("PUT", S, session()).status == 201
    assert stored.get(key) is not None
    ended = {
        "status": "COMPLETED",
        "end_date_time": "2025-03-01T10:00:00Z",
        "last_updated": "2025-03-01T10:00:00Z",
    }
    assert cpo.call("PATCH", S, ended).status == 200
    assert stored.get(key) is None
    assert cpo.call("POST", f"{V}/cdrs", cdr()).status == 201
    assert stored.get(key) is None
    late = {"kwh": Decimal("7"), "last_updated": "2025-03-01T10:05:00Z"}
    assert cpo.call("PATCH", S, late).status == 200
    got = cpo.call("GET", S).json()["data"]
    assert (got["status"], Decimal(str(got["kwh"]))) == ("COMPLETED", Decimal("7"))
    _stored_sessions_agree_with_the_table(core)
