"""Roaming hubs in `live` (issue 10): the hub is a real HTTP party between its CPOs and the eMSP.

Every hop crosses a real socket; the trace shows each with its routing headers, the hub's own
X-Request-ID and the sender's X-Correlation-ID. Assertions read what happened (the trace, the
summary, the models' truth), never how long it took: the machine may be loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import trace, variant

import bench.runner
from bench.runner import RunOutcome, run_scenario
from emsp.storage.tables import ClientInfoRow

# Live runs share one xdist worker (see test_live_runtime.py); each of these takes ~10 s of wall time.
pytestmark = [pytest.mark.xdist_group("live"), pytest.mark.slow]

HUB_CPOS = ("cpo-hub-a", "cpo-hub-b", "cpo-hub-c", "cpo-hub-d")
SPEED = 1200


def _short(minutes: int) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["duration_minutes"] = minutes
        data["settle_minutes"] = 20
        data["expectations"] = []

    return change


def run_live(monkeypatch: pytest.MonkeyPatch, path: Path, seed: int, out: Path) -> RunOutcome:
    """A run whose timing held. At load 7-8 on two cores the machine kept the loop's thread waiting
    for a CPU up to 1.5 s at once (timing.loop_stall_ms.machine_max): 30 scenario minutes at speed
    1200, so authorizations were answered minutes late, refused, and no session ran. The run says so
    (timing.valid false, never graded as the eMSP's); the assertions here need a run that kept its
    clock: once more at a quarter of the speed, and if the machine still stalls it, a skip saying why."""
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    for speed, run_dir in ((SPEED, out), (SPEED / 4, out.with_name(f"{out.name}-slower"))):
        outcome = run_scenario(str(path), runtime="live", seed=seed, out=run_dir, speed=speed)
        timing = outcome.summary["timing"]
        if timing["valid"]:
            return outcome
        assert outcome.exit_code != 1  # behind its clock: never graded as the eMSP's failure
    pytest.skip(f"the machine stalled the bench's event loop: {timing['loop_stall_ms']}, {timing['note']}")


@pytest.fixture(scope="module")
def roaming(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, list[dict[str, Any]]]:
    tmp_path = tmp_path_factory.mktemp("hub-live")
    monkeypatch = pytest.MonkeyPatch()
    try:

        def change(data: dict[str, Any]) -> None:
            _short(40)(data)
            data["demand"]["app_start_share"] = 0.5  # commands through the hub too

        path = variant(tmp_path, "hub-roaming", change)
        outcome = run_live(monkeypatch, path, 3, tmp_path / "run")
    finally:
        monkeypatch.undo()
    return outcome, trace(outcome.run_dir)


def _header(line: dict[str, Any], name: str) -> str | None:
    """A header of a traced message whatever its case (real HTTP answers come lowercased)."""
    return next((v for k, v in line["headers"].items() if k.lower() == name.lower()), None)


def _ocpi(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["proto"].startswith("ocpi")]


def test_every_session_behind_the_hub_reconciles_in_live(roaming: tuple[RunOutcome, Any]) -> None:
    outcome, _ = roaming
    summary = outcome.summary
    assert summary["runtime"] == "live"
    assert sum(summary["partners"][c]["sessions"]["completed"] for c in HUB_CPOS) > 0
    for cpo_id in ("cpo-direct", *HUB_CPOS):
        figures = summary["partners"][cpo_id]
        completed = figures["sessions"]["completed"]
        assert figures["cdrs"] == figures["reconciliation"]["matched"] == completed, cpo_id
        assert figures["energy_kwh"]["invoiced"] == figures["energy_kwh"]["truth"], cpo_id
    assert summary["reconciliation"]["matched"] == summary["sessions"]["completed"]
    assert summary["hubs"]["hub-eu"]["forwarded"] > 0 and summary["hubs"]["hub-eu"]["dropped"] == 0
    # Where the hub listens, for a real CPO or eMSP to be pointed at it.
    found = json.loads((outcome.run_dir / "endpoints.json").read_text(encoding="utf-8"))
    assert found["hubs"] == {
        "hub-eu": {"ocpi_versions_url": f"{outcome.world.hub_base_urls['hub-eu']}/versions"}
    }
    # The eMSP stored the hub's sessions under the hub's ids: they did come through it.
    through_hub = [s for s in outcome.world.emsp.records().sessions if s.partner == "hub-eu"]
    assert through_hub and all(s.session_id.startswith("HUB-S") for s in through_hub)


def test_each_hop_over_the_wire_has_routing_headers_its_own_request_id_and_the_same_correlation(
    roaming: tuple[RunOutcome, Any],
) -> None:
    outcome, lines = roaming
    ocpi = _ocpi(lines)
    posts = [
        line
        for line in ocpi
        if (line["src"], line["dst"], line["kind"]) == ("cpo-hub-a", "hub-eu", "request")
        and line["method"] == "POST"
        and "/cdrs/" in line["url"]
    ]
    assert posts
    hub_url = outcome.world.hub_base_urls["hub-eu"]
    for first in posts:
        assert first["url"].startswith(hub_url)  # the CPO really sent it to the hub's socket
        assert (_header(first, "OCPI-from-party-id"), _header(first, "OCPI-to-party-id")) == ("HBA", "EMS")
        correlation = first["headers"]["X-Correlation-ID"]
        hops = [
            line
            for line in ocpi
            if _header(line, "X-Correlation-ID") == correlation
            and line["method"] == "POST"
            and "/cdrs" in line["url"]
        ]
        route = [(line["src"], line["dst"], line["kind"]) for line in hops]
        assert route == [
            ("cpo-hub-a", "hub-eu", "request"),
            ("hub-eu", "emsp", "request"),
            ("emsp", "hub-eu", "response"),
            ("hub-eu", "cpo-hub-a", "response"),
        ]
        forward = hops[1]
        assert forward["url"].startswith(outcome.world.emsp_base_url)
        assert forward["headers"]["X-Request-ID"].startswith("hub-eu-")
        assert forward["headers"]["X-Request-ID"] != first["headers"]["X-Request-ID"]
        routing = {k: v for k, v in forward["headers"].items() if k.startswith("OCPI-")}
        assert routing == {
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "HBA",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EMS",
        }
        relayed = hops[-1]
        assert 200 <= relayed["status"] < 300 and relayed["body"]["status_code"] == 1000
        assert _header(relayed, "X-Request-ID") == first["headers"]["X-Request-ID"]
        back_to = (_header(relayed, "OCPI-from-party-id"), _header(relayed, "OCPI-to-party-id"))
        assert back_to == ("EMS", "HBA")
        # The CDR's new home is the hub's URL, under the hub's id: the CPO never sees the eMSP's.
        location = _header(relayed, "Location")
        assert location is not None and location.startswith(hub_url)


def test_the_hub_pushes_client_info_over_the_wire_and_the_emsp_keeps_it(
    roaming: tuple[RunOutcome, Any],
) -> None:
    outcome, lines = roaming
    pushes = [
        line
        for line in _ocpi(lines)
        if line["kind"] == "request" and line["method"] == "PUT" and "/hubclientinfo/" in line["url"]
    ]
    assert {line["src"] for line in pushes} == {"hub-eu"}
    assert {line["dst"] for line in pushes} == {*HUB_CPOS, "emsp"}
    assert not any("OCPI-to-party-id" in line["headers"] for line in pushes)
    assert len({line["headers"]["X-Request-ID"] for line in pushes}) == len(pushes)
    with outcome.world.emsp.db.unit() as db:
        kept = {(r.country_code, r.party_id): r.status for r in db.query(ClientInfoRow)}
    assert kept == dict.fromkeys([("DE", "HBA"), ("BE", "HBB"), ("FR", "HBC"), ("AT", "HBD")], "CONNECTED")


def test_after_a_hub_outage_in_live_nothing_is_lost_or_billed_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def change(data: dict[str, Any]) -> None:
        _short(45)(data)
        outage = {"type": "outage", "party": "hub-eu", "mode": "refused"}
        data["events"] = [outage | {"from": "2026-03-02T07:15:00Z", "until": "2026-03-02T07:25:00Z"}]

    outcome = run_live(monkeypatch, variant(tmp_path, "hub-outage", change), 1, tmp_path / "run")
    summary = outcome.summary
    counts = summary["reconciliation"]
    assert summary["sessions"]["completed"] > 0
    assert summary["sessions"]["emsp_received"] == summary["sessions"]["started"]
    assert counts["matched"] == summary["sessions"]["completed"]
    assert counts["missing_cdr"] == counts["duplicate_cdr"] == counts["orphan_cdr"] == 0
    assert summary["cdrs"] == summary["sessions"]["completed"]  # each CDR stored once
    assert summary["energy_kwh"]["invoiced"] == summary["energy_kwh"]["truth"]
    assert summary["cdr_delivery"]["resent_recognised"] == summary["cdr_delivery"]["resent"]
    assert summary["hubs"]["hub-eu"]["dropped"] == 0
    # The hub charged once per CDR it delivered, however often a hop was tried.
    hub_cdrs = sum(summary["partners"][c]["cdrs"] for c in ("cpo-hub-a", "cpo-hub-b", "cpo-hub-c"))
    assert len(outcome.world.hubs["hub-eu"].truth.fees) == hub_cdrs
    # The outage was real: a hop toward the hub was refused (no answer traced) and sent again.
    retried = [outcome.world.cpos[c].ocpi.truth.failed_calls for c in ("cpo-hub-a", "cpo-hub-b", "cpo-hub-c")]
    assert any(retried)
    assert (
        summary["partners"]["cpo-direct"]["reconciliation"]["matched"]
        == (summary["partners"]["cpo-direct"]["sessions"]["completed"])
    )


def test_an_app_start_for_a_party_behind_the_hub_is_sent_through_it(roaming: tuple[RunOutcome, Any]) -> None:
    # Only the route is asserted: whether a command completes in time depends on the machine's load
    # (real processing time is magnified by the speed), where it goes does not.
    outcome, lines = roaming
    commands = outcome.world.emsp.records().commands
    assert commands
    for command in commands:
        behind = command.party.party_id != "DIR"
        assert command.partner == ("hub-eu" if behind else "cpo-direct")
    posts = [
        line
        for line in _ocpi(lines)
        if line["kind"] == "request" and line["src"] == "emsp" and line["url"].endswith("/START_SESSION")
    ]
    sent = {post["body"]["response_url"].rpartition("/")[2] for post in posts}
    assert sent == {str(command.command_id) for command in commands}  # each command went out
    for post in posts:
        if post["dst"] == "hub-eu":
            assert post["url"].startswith(outcome.world.hub_base_urls["hub-eu"])
            assert post["headers"]["OCPI-to-party-id"] in ("HBA", "HBB", "HBC", "HBD")
            assert post["headers"]["OCPI-from-party-id"] == "EMS"


def test_an_authorization_through_the_hub_counts_the_hubs_holds_in_scenario_time(
    roaming: tuple[RunOutcome, Any],
) -> None:
    # The hub's added latency (on serving and on forwarding) and its link to the eMSP lie inside the
    # CPO's wait for the answer. They are scenario time, as the CPO's own link is: at speed 1200 they
    # last a 1200th of it on the wall, and they once counted as that (a p50 of 190 ms where sim has 390).
    outcome, _ = roaming
    world = outcome.world
    [hub] = world.scenario.hubs
    added_ms = world.hubs[hub.id].added_latency.total_seconds() * 1000
    links = {cpo.id: cpo.ocpi_link.latency_ms for cpo in world.scenario.cpos}
    answered = ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")  # the eMSP's answers
    for cpo_id in HUB_CPOS:
        floor = 2 * (links[cpo_id] + hub.link.latency_ms + added_ms)
        records = world.cpos[cpo_id].ocpi.truth.authorizations
        latencies = [a.latency_ms for a in records if a.result in answered]
        assert latencies, cpo_id
        assert min(latencies) >= floor, cpo_id
