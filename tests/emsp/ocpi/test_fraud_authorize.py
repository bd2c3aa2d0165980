"""Federated identity and fraud checks through the OCPI Tokens module (POST tokens/{uid}/authorize)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from emsp_helpers import T0, Client, V, cdr, location, register, session

from emsp.core import EmspCore, EmspSettings
from emsp.model import UNKNOWN_TOKEN
from emsp.services.fraud import FraudConfig
from emsp.storage.tables import PartnerRow
from emsp.wire import dumps, loads

BERLIN = {"latitude": "52.520008", "longitude": "13.404954"}
POTSDAM = {"latitude": "52.390569", "longitude": "13.064473"}  # about 27 km from Berlin
MUNICH = {"latitude": "48.140232", "longitude": "11.558335"}  # about 505 km from Berlin


@pytest.fixture
def core() -> EmspCore:
    return EmspCore(EmspSettings())


@pytest.fixture
def cpo(core: EmspCore) -> Client:
    client = register(core)  # cpo1, DE/CPA
    for loc_id, coords in (("BER", BERLIN), ("POT", POTSDAM), ("MUC", MUNICH)):
        client.call("PUT", f"{V}/locations/DE/CPA/{loc_id}", {**location(loc_id), "coordinates": coords})
    return client


@pytest.fixture
def cpo2(core: EmspCore) -> Client:
    return register(core, "cpo2", "token-A-cpo2", ("NL", "CPB"))


def authorize(
    client: Client, uid: str, location_id: str | None = None, *, after: timedelta | None = None
) -> Any:
    if after is not None:
        client.now += after
    body = None if location_id is None else {"location_id": location_id}
    resp = client.call("POST", f"{V}/tokens/{uid}/authorize", body)
    return resp.status, resp.json()


def allowed(reply: Any) -> str:
    status, envelope = reply
    assert status == 200, envelope
    return str(envelope["data"]["allowed"])


def give_tokens_receivers(core: EmspCore) -> None:
    for partner in ("cpo1", "cpo2"):
        url = f"http://{partner}.test/ocpi/2.2.1/tokens/"
        with core.db.unit() as db:
            row = db.get(PartnerRow, partner)
            assert row is not None
            row.endpoints_json = dumps([{"identifier": "tokens", "role": "RECEIVER", "url": url}])


def decisions(core: EmspCore) -> list[tuple[str, str, str]]:
    return [(d.token_uid, d.rule, d.decision) for d in core.records().fraud_decisions]


# ---- federated identity ----


def test_a_driver_gets_one_token_per_partner_each_pushed_to_its_partner_only(
    core: EmspCore, cpo: Client, cpo2: Client
) -> None:
    give_tokens_receivers(core)
    issued = core.issue_credentials("driver-1", now=T0)
    tokens = {row.partner: row for row in core.driver_tokens("driver-1")}
    assert sorted(tokens) == ["cpo1", "cpo2"] and len(issued) == 2
    assert tokens["cpo1"].uid != tokens["cpo2"].uid
    assert tokens["cpo1"].contract_id != tokens["cpo2"].contract_id
    pushed = {p.partner: p.request.url for p in core.pending_requests()}
    assert pushed == {
        p: f"http://{p}.test/ocpi/2.2.1/tokens/NL/EMS/{tokens[p].uid}?type=RFID" for p in ("cpo1", "cpo2")
    }
    assert core.issue_credentials("driver-1", now=T0) == []  # nothing missing: nothing issued


def test_a_token_is_the_drivers_only_at_its_own_partner(core: EmspCore, cpo: Client, cpo2: Client) -> None:
    core.issue_credentials("driver-1", now=T0, push=False)
    tokens = {row.partner: row.uid for row in core.driver_tokens("driver-1")}
    assert allowed(authorize(cpo, tokens["cpo1"], "BER")) == "ALLOWED"
    status, envelope = authorize(cpo2, tokens["cpo1"])  # cpo1's token shown at cpo2
    assert (status, envelope["status_code"]) == (404, 2004) and "data" not in envelope
    assert decisions(core) == [(tokens["cpo1"], "foreign_partner_token", "refuse")]
    assert core.records().authorizations[-1].result == UNKNOWN_TOKEN  # recorded like any answer


def test_each_partner_lists_only_its_own_federated_tokens(core: EmspCore, cpo: Client, cpo2: Client) -> None:
    core.issue_token("LEGACY", contract_id="NL-EMS-C1", now=T0)
    core.issue_credentials("driver-1", now=T0, push=False)
    tokens = {row.partner: row.uid for row in core.driver_tokens("driver-1")}
    listed = {t["uid"] for t in loads(cpo2.call("GET", f"{V}/tokens").body)["data"]}
    assert listed == {"LEGACY", tokens["cpo2"]}


def test_block_and_replace_reach_every_partner(core: EmspCore, cpo: Client, cpo2: Client) -> None:
    give_tokens_receivers(core)
    core.issue_credentials("driver-1", now=T0, push=False)
    old = {row.partner: row.uid for row in core.driver_tokens("driver-1")}
    assert sorted(core.set_driver_valid("driver-1", False, now=T0)) == sorted(old.values())
    pushed = {p.partner: p.request for p in core.pending_requests()}
    assert sorted(pushed) == ["cpo1", "cpo2"]
    assert all(loads(r.body or "")["valid"] is False and old[p] in r.url for p, r in pushed.items())
    assert allowed(authorize(cpo2, old["cpo2"])) == "BLOCKED"
    core.set_driver_valid("driver-1", True, now=T0)
    new = core.replace_credentials("driver-1", now=T0)
    assert len(new) == 2 and not set(new) & set(old.values())
    current = {r.partner: r for r in core.driver_tokens("driver-1") if r.valid}
    assert {p: r.uid for p, r in current.items()} == dict(zip(["cpo1", "cpo2"], new, strict=True))
    assert all(current[p].contract_id == c.contract_id for p, c in current.items() for c in [current[p]])
    assert allowed(authorize(cpo, old["cpo1"])) == "BLOCKED" and allowed(authorize(cpo, new[0])) == "ALLOWED"


# ---- velocity rules ----


def test_impossible_travel_is_refused_and_the_earlier_one_flagged(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="C1", now=T0)
    assert allowed(authorize(cpo, "RFID1", "BER")) == "ALLOWED"
    assert allowed(authorize(cpo, "RFID1", "POT", after=timedelta(minutes=20))) == "ALLOWED"  # 81 km/h
    _status, envelope = authorize(cpo, "RFID1", "MUC", after=timedelta(hours=1))
    assert envelope["data"]["allowed"] == "NOT_ALLOWED" and "authorization_reference" not in envelope["data"]
    got = core.records().fraud_decisions
    assert [(d.rule, d.decision, d.location_id) for d in got] == [
        ("impossible_travel", "refuse", "MUC"),
        ("impossible_travel", "flag", "POT"),
    ]
    assert got[1].object_id is not None and got[1].object_id.startswith("NLEMS")  # its reference
    # The refused one is not where the driver is: back in Berlin later is fine.
    assert allowed(authorize(cpo, "RFID1", "BER", after=timedelta(minutes=30))) == "ALLOWED"
    assert 'emsp_fraud_decisions_total{decision="refuse",partner="cpo1",rule="impossible_travel"} 1.0' in (
        core.metrics_text()
    )


def test_travel_is_judged_per_driver_across_partners(core: EmspCore, cpo: Client, cpo2: Client) -> None:
    cpo2.call(
        "PUT", f"{V}/locations/NL/CPB/MUC2", {**location("MUC2"), "country_code": "NL", "party_id": "CPB",
                                               "coordinates": MUNICH},
    )  # fmt: skip
    core.issue_credentials("driver-1", now=T0, push=False)
    tokens = {row.partner: row.uid for row in core.driver_tokens("driver-1")}
    assert allowed(authorize(cpo, tokens["cpo1"], "BER")) == "ALLOWED"
    assert allowed(authorize(cpo2, tokens["cpo2"], "MUC2", after=timedelta(hours=1))) == "NOT_ALLOWED"
    assert decisions(core)[0] == (tokens["cpo2"], "impossible_travel", "refuse")


def test_more_than_n_authorizations_an_hour_are_refused() -> None:
    core = EmspCore(EmspSettings(fraud=FraudConfig(max_authorizations_per_hour=3)))
    cpo = register(core)
    core.issue_token("RFID1", contract_id="C1", now=T0)
    answers = [allowed(authorize(cpo, "RFID1", after=timedelta(minutes=5))) for _ in range(4)]
    assert answers == ["ALLOWED"] * 3 + ["NOT_ALLOWED"]
    assert allowed(authorize(cpo, "RFID1", after=timedelta(minutes=50))) == "ALLOWED"  # first one left
    assert decisions(core) == [("RFID1", "authorization_rate", "refuse")]


def test_a_blocked_tokens_retries_are_flagged(core: EmspCore, cpo: Client) -> None:
    core.issue_token("RFID1", contract_id="C1", now=T0, valid=False)
    answers = [allowed(authorize(cpo, "RFID1", after=timedelta(minutes=1))) for _ in range(4)]
    assert answers == ["BLOCKED"] * 4
    assert decisions(core) == [("RFID1", "blocked_retries", "flag")] * 2  # the third and the fourth


def test_disabled_fraud_checks_refuse_nothing() -> None:
    core = EmspCore(EmspSettings(fraud=FraudConfig(enabled=False, max_authorizations_per_hour=1)))
    cpo = register(core)
    core.issue_token("RFID1", contract_id="C1", now=T0)
    assert [allowed(authorize(cpo, "RFID1")) for _ in range(3)] == ["ALLOWED"] * 3
    assert decisions(core) == []


def test_history_survives_a_restart_from_the_store(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'emsp.db'}"
    first = EmspCore(EmspSettings(database_url=url))
    cpo = register(first)
    cpo.call("PUT", f"{V}/locations/DE/CPA/BER", {**location("BER"), "coordinates": BERLIN})
    cpo.call("PUT", f"{V}/locations/DE/CPA/MUC", {**location("MUC"), "coordinates": MUNICH})
    first.issue_token("RFID1", contract_id="C1", now=T0)
    assert allowed(authorize(cpo, "RFID1", "BER")) == "ALLOWED"
    first.db.engine.dispose()
    second = EmspCore(EmspSettings(database_url=url))
    cpo.core = second
    assert allowed(authorize(cpo, "RFID1", "MUC", after=timedelta(hours=1))) == "NOT_ALLOWED"


# ---- flags on CDRs ----


def test_cdr_energy_above_the_battery_and_overlapping_sessions_are_flagged(
    core: EmspCore, cpo: Client
) -> None:
    core.issue_credentials("driver-1", now=T0, push=False, max_battery_kwh=Decimal(40))
    uid = core.driver_tokens("driver-1")[0].uid
    token = {"uid": uid, "type": "RFID", "contract_id": "X", "country_code": "NL", "party_id": "EMS"}
    cpo.call("PUT", f"{V}/sessions/DE/CPA/S2", session("S2", cdr_token=token, location_id="BER",
             start_date_time="2025-03-01T09:30:00Z"))  # fmt: skip
    cpo.call("POST", f"{V}/cdrs", cdr(cdr_token=token, total_energy=Decimal("55")))
    got = core.records().fraud_decisions
    assert sorted((d.rule, d.decision) for d in got) == [
        ("energy_above_battery", "flag"),
        ("overlapping_sessions", "flag"),
    ]
    assert all(d.object_id == "cdr:DE/CPA/CDR1" and d.driver_id == "driver-1" for d in got)


def test_billing_finds_the_canonical_driver_of_a_federated_token(
    core: EmspCore, cpo: Client, cpo2: Client
) -> None:
    from emsp.billing.accounts import NewAccount, create_account, create_driver
    from emsp.billing.identity import driver_for

    with core.db.unit() as db:
        create_account(db, NewAccount("A1", "private"), T0)
        create_driver(db, "D0001", "A1", contract_ref=None, emaid=None, now=T0)
    core.issue_credentials("D0001", now=T0, push=False)
    tokens = {row.partner: row for row in core.driver_tokens("D0001")}
    with core.db.unit() as db:
        found = driver_for(
            db, token_uid=tokens["cpo2"].uid, contract_id=tokens["cpo2"].contract_id, partner="cpo2"
        )
        assert found is not None and found.driver_id == "D0001"
        # cpo1's token in a CDR of cpo2 is not the driver's there
        assert driver_for(db, token_uid=tokens["cpo1"].uid, contract_id="", partner="cpo2") is None


def test_disabled_fraud_checks_cost_no_statement() -> None:
    from sqlalchemy import event

    core = EmspCore(EmspSettings(fraud=FraudConfig(enabled=False)))
    cpo = register(core)
    core.issue_token("RFID0", contract_id="C0", now=T0)
    core.issue_token("RFID1", contract_id="C1", now=T0)
    authorize(cpo, "RFID0")  # the reference block is reserved on the first authorization
    statements: list[list[str]] = []
    event.listen(core.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[:2]))
    authorize(cpo, "RFID1", "LOC1")
    assert statements == [["SELECT", "tokens.uid,"], ["INSERT", "INTO"]]
