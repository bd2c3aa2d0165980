"""mod_tokens WhitelistType at the mock CPO: ALWAYS is allowed from the CPO's copy without asking,
ALLOWED_OFFLINE (and ALLOWED if the dialect chooses `offline_fallback`) when the eMSP does not
answer; NEVER, an invalid token, or an answer the eMSP gave are never overridden. A session
allowed so says `auth_method: WHITELIST`; one started by a START_SESSION says COMMAND."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cpo_fake_emsp import FakeEmsp
from test_cpo_sender import call
from test_cpo_versions import T0, make_cpo, pump

from bench.overrides import parse_set
from bench.runner import run_scenario
from emsp.wire import HttpResponse
from simulators.cpo.events import AuthorizationRequested, TransactionEnded, TransactionStarted
from simulators.cpo.ocpi_cpo import OcpiCpo

TOKEN = {
    "country_code": "NL", "party_id": "EMS", "uid": "WL01", "type": "RFID", "contract_id": "NL-EMS-C00001-X",
    "issuer": "EMS", "valid": True, "whitelist": "ALLOWED", "last_updated": "2026-03-01T00:00:00Z",
}  # fmt: skip
DOWN = HttpResponse(503, {}, b"")


def authorize(cpo: OcpiCpo, emsp: FakeEmsp, *, answered: bool) -> tuple[list[bool], int]:
    """Ask for WL01 once; the eMSP answers (its fake knows no WL01: NOT_ALLOWED) or is down (503)."""
    out = cpo.on_event(AuthorizationRequested(ref="r1", station_id="CS1", token_uid="WL01", at=T0), T0)
    decisions = [d.accepted for d in out.decisions]
    for outbound in out.requests:
        response = emsp.handle(outbound.request) if answered else DOWN
        decisions += [d.accepted for d in cpo.on_response(outbound.request_id, response, T0).decisions]
    return decisions, len(out.requests)


@pytest.mark.parametrize(
    ("whitelist", "valid", "dialect", "answered", "decision", "asked", "result"),
    [
        ("ALWAYS", True, "realtime", True, [True], 0, "WHITELIST"),  # never asked
        ("ALWAYS", False, "realtime", False, [False], 1, "ERROR_HTTP503"),  # blocked: no whitelist
        ("ALLOWED_OFFLINE", True, "realtime", False, [True], 1, "WHITELIST"),
        ("ALLOWED_OFFLINE", True, "realtime", True, [False], 1, "NOT_ALLOWED"),  # the answer stands
        ("ALLOWED", True, "realtime", False, [False], 1, "ERROR_HTTP503"),
        ("ALLOWED", True, "offline_fallback", False, [True], 1, "WHITELIST"),
        ("NEVER", True, "offline_fallback", False, [False], 1, "ERROR_HTTP503"),
    ],
)
def test_the_whitelist_decides_without_the_emsp_only_where_the_spec_lets_it(
    whitelist: str, valid: bool, dialect: str, answered: bool, decision: list[bool], asked: int, result: str
) -> None:
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    cpo.dialect = cpo.dialect.model_copy(update={"whitelist_allowed": dialect})
    pump(cpo, emsp, cpo.start(T0), T0)
    token = TOKEN | {"whitelist": whitelist, "valid": valid}
    assert call(cpo, "PUT", "2.2.1/tokens/NL/EMS/WL01", token)[1]["status_code"] == 1000
    assert authorize(cpo, emsp, answered=answered) == (decision, asked)
    assert cpo.truth.authorizations[-1].result == result
    if decision == [True]:
        at = T0 + timedelta(minutes=1)
        pump(cpo, emsp, cpo.on_event(TransactionStarted("CS1", 1, "7", "WL01", 0, at), at), at)
        end = at + timedelta(minutes=30)
        pump(cpo, emsp, cpo.on_event(TransactionEnded("CS1", "7", end, 5000, "EVDisconnected"), end), end)
        [cdr] = emsp.bodies("POST", "cdrs")
        assert cdr["auth_method"] == ("WHITELIST" if result == "WHITELIST" else "AUTH_REQUEST")
        assert cdr["cdr_token"]["contract_id"] == TOKEN["contract_id"]
        assert Decimal(str(cdr["total_energy"])) == Decimal(5)


@pytest.mark.parametrize("presented", ["wl01", "Wl01", "WL01"])
def test_the_copy_finds_the_token_whatever_the_case_the_station_presents(presented: str) -> None:
    # Token.uid is a CiString: the card's uid may be read in another case than the eMSP issued it.
    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    pump(cpo, emsp, cpo.start(T0), T0)
    call(cpo, "PUT", "2.2.1/tokens/NL/EMS/WL01", TOKEN | {"whitelist": "ALLOWED_OFFLINE"})
    event = AuthorizationRequested(ref="r1", station_id="CS1", token_uid=presented, at=T0)
    [outbound] = cpo.on_event(event, T0).requests  # asked first: ALLOWED_OFFLINE
    assert [d.accepted for d in cpo.on_response(outbound.request_id, DOWN, T0).decisions] == [True]
    assert cpo.truth.authorizations[-1].result == "WHITELIST"
    # A PATCH in yet another case changes that one token, as issued: ALWAYS, then blocked.
    assert call(cpo, "PATCH", "2.2.1/tokens/NL/EMS/wL01", {"whitelist": "ALWAYS"})[1]["status_code"] == 1000
    out = cpo.on_event(AuthorizationRequested(ref="r2", station_id="CS2", token_uid=presented, at=T0), T0)
    assert ([d.accepted for d in out.decisions], out.requests) == ([True], [])  # never asked
    call(cpo, "PATCH", f"2.2.1/tokens/NL/EMS/{presented}", {"valid": False})
    out = cpo.on_event(AuthorizationRequested(ref="r3", station_id="CS3", token_uid="WL01", at=T0), T0)
    assert out.requests and not out.decisions  # blocked: the eMSP is asked, the copy decides nothing
    assert list(cpo.received_tokens()) == ["WL01"]
    assert cpo.received_tokens()["WL01"]["whitelist"] == "ALWAYS"


@pytest.mark.slow
def test_in_an_outage_a_whitelisting_cpo_lets_its_drivers_charge_and_they_are_billed(tmp_path: Path) -> None:
    """partner-outage with cpo-b on 2.1.1 (it pulls the eMSP's Tokens, all `whitelist: ALLOWED`):
    realtime-only, the drivers who arrive in the outage are refused_unreachable; with
    `whitelist_allowed: offline_fallback` they charge, and their WHITELIST sessions reconcile."""
    profile = tmp_path / "fallback.yaml"
    profile.write_text("name: fallback\nwhitelist_allowed: offline_fallback\n", encoding="utf-8")
    version = parse_set("cpos[1].ocpi_version=2.1.1")
    outcomes = {
        dialect: run_scenario(
            "partner-outage",
            seed=3,
            out=tmp_path / dialect.stem,
            report=False,
            overrides=[version, parse_set(f"cpos[1].dialect={dialect}")],
        )
        for dialect in (Path("spec-strict"), profile)
    }
    strict, fallback = outcomes[Path("spec-strict")].summary, outcomes[profile].summary
    refused = strict["reconciliation"]["refused_unreachable"]
    assert refused > 0 and fallback["reconciliation"]["refused_unreachable"] == 0
    assert fallback["reconciliation"]["matched"] == strict["reconciliation"]["matched"] + refused
    assert outcomes[profile].exit_code == 0
    records = [json.loads(line) for line in (tmp_path / "fallback" / "trace.jsonl").read_text().splitlines()]
    cdrs = [r["body"] for r in records if r.get("kind") == "request" and r["url"].endswith("/cdrs")]
    assert [c["auth_method"] for c in cdrs].count("WHITELIST") == refused


def test_an_authorization_waits_for_the_link_only_so_long_then_is_the_emsp_unanswered() -> None:
    """Before its registration is done (an eMSP or hub down since the start), the CPO holds a
    driver's authorization UNLINKED_WAIT at most, then refuses it as unanswered, and never sends it
    once the link is up (hostile review: held 20 minutes, then answered, while the driver was gone)."""
    from simulators.cpo.ocpi_cpo import UNLINKED_WAIT

    cpo, emsp = make_cpo("2.2.1"), FakeEmsp("2.2.1")
    cpo.start(T0)  # the versions GET never gets an answer: no link yet
    ask = AuthorizationRequested(ref="r1", station_id="CS1", token_uid="WL01", at=T0)
    assert cpo.on_event(ask, T0).decisions == []  # it waits for the link
    assert cpo.next_wakeup() == T0 + UNLINKED_WAIT
    assert cpo.on_wakeup(T0 + UNLINKED_WAIT / 2).decisions == []
    out = cpo.on_wakeup(T0 + UNLINKED_WAIT)
    assert [d.accepted for d in out.decisions] == [False]
    [record] = cpo.truth.authorizations
    assert record.result == "UNREACHABLE"
    assert record.latency_ms == Decimal(UNLINKED_WAIT.total_seconds() * 1000)
    later = T0 + timedelta(minutes=5)
    replayed = pump(cpo, emsp, cpo.start(later), later)  # the link comes up: nothing of r1 is sent
    assert replayed == []
    assert emsp.received and not [r for r in emsp.received if "/authorize" in r.url]
