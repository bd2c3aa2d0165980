"""The scenario timeline in `live`: each event type changes what crosses the real wire, as in sim,
and nothing is lost. Margins start from the instant the runtime really applied each event
(performance.json `timeline`), never from the instant it was due: on a loaded machine the two differ.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from timeline_helpers import trace, variant

import bench.runner
from bench.runner import RunOutcome, run_scenario
from bench.runtime.live import LiveRuntime
from emsp.timeutil import parse_utc

# Live runs share one xdist worker (see test_live_runtime.py); each takes 10-40 s of wall time.
pytestmark = [pytest.mark.xdist_group("live"), pytest.mark.slow]


def run_live(
    monkeypatch: pytest.MonkeyPatch, scenario: str | Path, seed: int, out: Path, speed: float = 1200
) -> RunOutcome:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    return run_scenario(str(scenario), runtime="live", seed=seed, out=out, speed=speed)


def applied(outcome: RunOutcome, what: str) -> list[datetime]:
    """When the runtime really applied each step named `what` (in order)."""
    return [parse_utc(s["applied"]) for s in outcome.performance["timeline"] if s["what"] == what]


def lag(outcome: RunOutcome) -> timedelta:
    """How far the run fell behind its clock at worst (0 in sim): an answer may land that much later."""
    return timedelta(milliseconds=outcome.performance.get("lag_ms", {}).get("max", 0))


def _short_smoke(tmp_path: Path, events: list[dict[str, Any]], **demand: Any) -> Path:
    def change(data: dict[str, Any]) -> None:
        data["duration_minutes"] = 60
        data["demand"].update({"arrivals_per_hour": 24, **demand})
        data["events"] = events
        data["expectations"] = []

    return variant(tmp_path, "smoke", change)


def _nothing_lost(summary: dict[str, Any], *, every_session: bool = True) -> None:
    counts = summary["reconciliation"]
    assert summary["sessions"]["completed"] > 0
    if every_session:
        assert summary["sessions"]["emsp_received"] == summary["sessions"]["started"]
    assert counts["missing_cdr"] == counts["orphan_cdr"] == counts["energy_mismatch"] == 0
    assert summary["energy_kwh"]["cdr"] == summary["energy_kwh"]["invoiced"] == summary["energy_kwh"]["truth"]


def _requests(records: list[dict[str, Any]], src: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == "request" and r["src"] == src]


def authorizations_by_sending(outcome: RunOutcome, cpo: str) -> list[tuple[datetime, Any]]:
    """Each authorization record of `cpo` with the instant its request was sent. A record is stamped
    when the answer came, which on a loaded machine may be long after; its latency is the CPO's own
    measure from sending to answer, so the sending instant is the stamp minus the latency. (Pairing
    records with traced requests failed for a request the link lost every time: not in the trace.)"""
    return [
        (a.at - timedelta(milliseconds=float(a.latency_ms)), a)
        for a in outcome.world.cpos[cpo].ocpi.truth.authorizations
    ]


def test_a_link_window_duplicates_reorders_and_delays_requests_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The window opens after the handshake. Its jitter is seconds wide: at speed 1200 a scenario
    # second is under a wall millisecond, the event loop's timer resolution, and a narrower jitter
    # would decide the order by scheduling luck rather than by the link (see live_links.sleep_until).
    start, ends = parse_utc("2026-03-02T07:05:00Z"), parse_utc("2026-03-02T08:00:00Z")
    window = {"type": "link", "cpo": "cpo-a", "link": "ocpi", "from": "2026-03-02T07:05:00Z"}
    window.update(until="2026-03-02T08:00:00Z", latency_ms=300, jitter_ms=10000, loss=0.2)
    window.update(duplicate=0.4, reorder=0.5)
    path = _short_smoke(tmp_path, [window], arrivals_per_hour=40)
    outcome = run_live(monkeypatch, path, 3, tmp_path / "run")
    records = trace(tmp_path / "run")
    ids = [r["headers"]["X-Request-ID"] for r in _requests(records, "cpo-a")]
    assert len(ids) > len(set(ids))  # the same request crossed twice (duplicate)
    firsts = list(dict.fromkeys(ids))
    assert firsts != sorted(firsts)  # a later request reached the eMSP before an earlier one (reorder)
    # Latency of the window: 300 ms + up to 10 s jitter each way, plus retransmissions (loss).
    inside = [a for at, a in authorizations_by_sending(outcome, "cpo-a") if start <= at < ends]
    assert inside and all(a.latency_ms >= 600 for a in inside)
    assert any(a.latency_ms >= 5000 for a in inside)  # the jitter's upper half
    # (Reordered Session requests once left the eMSP one session more than started: an eMSP
    # finding under reorder, not a loss; every CDR and kWh must still arrive exactly once.)
    _nothing_lost(outcome.summary, every_session=False)
    counts = outcome.summary["reconciliation"]
    assert counts["matched"] + counts["duplicate_cdr"] == outcome.summary["sessions"]["completed"]
    # A CDR POST served twice is a repeat that reached the eMSP: in `resent` as in sim (review10 N3).
    delivery = outcome.summary["cdr_delivery"]
    assert delivery["resent"] > 0 and delivery["resent_recognised"] == delivery["resent"]


@pytest.mark.parametrize(("mode", "runtime"), [("http_503", "live"), ("refused", "live"), ("refused", "sim")])
def test_an_emsp_outage_is_refused_or_503_and_the_cpo_retries_until_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mode: str, runtime: str
) -> None:
    down, up = parse_utc("2026-03-02T07:20:00Z"), parse_utc("2026-03-02T07:35:00Z")
    outage = {"type": "outage", "party": "emsp", "from": "2026-03-02T07:20:00Z"}
    outage.update(until="2026-03-02T07:35:00Z", mode=mode)
    path = _short_smoke(tmp_path, [outage])
    if runtime == "live":
        outcome = run_live(monkeypatch, path, 3, tmp_path / "run")
    else:  # the same scenario in sim: the same effect, nothing lost in both
        outcome = run_scenario(str(path), seed=3, out=tmp_path / "run")
    records = trace(tmp_path / "run")
    # Each request that reached the eMSP's door during the outage, and what answered it (before
    # the same request was sent again): compared per request, so no margin depends on the machine.
    # (A 503 from the outage carries no X-Request-ID: requests pair with answers by method and URL.)
    door: dict[tuple[str, str], list[datetime]] = {}
    answered: list[int] = []
    for record in records:
        key = (record.get("method", ""), record.get("url", ""))
        if record.get("kind") == "request" and record["src"] == "cpo-a":
            door[key] = [parse_utc(record["t"])]  # a request sent again replaces its unanswered self
        elif record.get("kind") == "response" and record["src"] == "emsp" and door.get(key):
            at = door[key].pop()
            if down <= at < up:
                answered.append(record["status"])
    if mode == "http_503":
        assert answered and set(answered) == {503}
    else:
        assert not answered  # refused: nothing answers
    # Requests did reach for the eMSP during the outage, and were sent again after it.
    assert any(down <= parse_utc(r["t"]) < up for r in _requests(records, "cpo-a"))
    assert outcome.world.cpos["cpo-a"].ocpi._retry.retries > 0
    _nothing_lost(outcome.summary)
    counts = outcome.summary["reconciliation"]
    assert counts["duplicate_cdr"] == counts["price_mismatch"] == 0


def test_a_blocked_token_is_refused_from_the_instant_it_was_blocked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    block = {"type": "token_block", "at": "2026-03-02T07:20:00Z", "driver": 0}
    path = _short_smoke(tmp_path, [block], drivers=2, arrivals_per_hour=40)
    outcome = run_live(monkeypatch, path, 7, tmp_path / "run")
    [at] = applied(outcome, "token_block")
    [uid] = outcome.world.blocked
    assert outcome.world.blocked[uid] == at
    mine = [a for a in outcome.world.cpos["cpo-a"].ocpi.truth.authorizations if a.token_uid == uid]
    assert any(a.at < at and a.result == "ALLOWED" for a in mine)
    after = [a for a in mine if a.at > at + timedelta(seconds=5) + lag(outcome)]  # answered after it
    assert after and all(a.result == "BLOCKED" for a in after)
    assert outcome.summary["reconciliation"]["wrongly_refused"] == 0
    _nothing_lost(outcome.summary)


def test_held_cdrs_go_out_as_one_batch_then_the_late_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hold = {
        "type": "cdr_hold",
        "cpo": "cpo-a",
        "from": "2026-03-02T07:00:00Z",
        "until": "2026-03-02T07:50:00Z",
    }
    hold.update(duplicate=0.6, late=0.3, late_minutes=5)
    path = _short_smoke(tmp_path, [hold], arrivals_per_hour=40)
    outcome = run_live(monkeypatch, path, 7, tmp_path / "run")
    [released], [late_at] = applied(outcome, "cdr_hold:release"), applied(outcome, "cdr_hold:late")
    posts = [
        r
        for r in _requests(trace(tmp_path / "run"), "cpo-a")
        if r["method"] == "POST" and "/cdrs" in r["url"]
    ]
    held = [p for p in posts if parse_utc(p["body"]["end_date_time"]) < released]
    assert held and all(parse_utc(p["t"]) >= released for p in held)  # nothing went out before the batch
    # Which CDRs the CPO held back (its truth: a seeded draw), and when each really went out.
    late = set(outcome.world.cpos["cpo-a"].ocpi.truth.cdrs_late)
    batch = [p for p in held if p["body"]["id"] not in late]
    assert batch and late
    assert all(parse_utc(p["t"]) >= late_at for p in held if p["body"]["id"] in late)
    ids = [p["body"]["id"] for p in posts]
    delivery = outcome.summary["cdr_delivery"]
    assert delivery["resent"] == len(ids) - len(set(ids)) > 0 and delivery["late"] == len(late)
    assert delivery["resent_recognised"] == delivery["resent"] and delivery["late_matched"] == len(late)
    _nothing_lost(outcome.summary)


# ---------------------------------------------------------------- the built-ins, one seed each
# Wall times on a 2-core machine at load ~4: each 25-35 s at speed 600.
LIVE_SPEED = 600


def test_smoke_passes_in_live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    outcome = run_live(monkeypatch, "smoke", 7, tmp_path, speed=LIVE_SPEED)
    assert outcome.exit_code == 0, outcome.summary["expectations"]
    assert outcome.summary["timing"]["valid"] is True
    assert outcome.performance["lag_ms"]["max"] >= outcome.performance["lag_ms"]["p99"] >= 0


def test_offline_stations_drop_their_websocket_and_replay_on_reconnect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    connections: dict[str, int] = {}
    original = LiveRuntime.csms_connection

    def counting(self: LiveRuntime, cpo_id: str, end: Any, request: Any) -> None:
        station = request.path.rsplit("/", 1)[-1]
        connections[station] = connections.get(station, 0) + 1
        original(self, cpo_id, end, request)

    monkeypatch.setattr(LiveRuntime, "csms_connection", counting)
    outcome = run_live(monkeypatch, "offline-stations", 1, tmp_path, speed=LIVE_SPEED)
    assert outcome.exit_code == 0, outcome.summary["expectations"]
    offline = {"CS-OFF-16-1", "CS-OFF-16-2", "CS-OFF-201-1", "CS-OFF-201-2"}
    assert {sid for sid, n in connections.items() if n == 2} == offline  # a real reconnection each
    assert all(connections[sid] == 1 for sid in connections if sid not in offline)
    late = []
    for sid in offline:
        [down] = applied(outcome, f"station_offline:{sid}:down")
        [up] = applied(outcome, f"station_offline:{sid}:up")
        frames = [r for r in trace(tmp_path) if "frame" in r and r["src"] == sid]
        assert not [f for f in frames if down < parse_utc(f["t"]) < up]  # nothing crossed meanwhile
        for record in frames:
            message = json.loads(record["frame"])
            if message[0] != 2 or message[2] not in ("TransactionEvent", "StopTransaction", "MeterValues"):
                continue
            payload = message[3]
            stamp = parse_utc(payload.get("timestamp") or payload["meterValue"][0]["timestamp"])
            if down < stamp < up.replace(microsecond=0):  # a station's clock ticks in whole seconds
                late.append(message[2])
                assert parse_utc(record["t"]) >= up  # queued, replayed on the new connection
                if message[2] == "TransactionEvent":
                    assert payload["offline"] is True  # 2.0.1 E04
    assert {"TransactionEvent", "MeterValues"} <= set(late)
    assert outcome.summary["reconciliation"]["matched"] == outcome.summary["sessions"]["completed"]


def test_mid_session_tariff_splits_periods_at_the_instant_the_change_was_applied(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    outcome = run_live(monkeypatch, "mid-session-tariff", 1, tmp_path, speed=LIVE_SPEED)
    assert outcome.exit_code == 0, outcome.summary["expectations"]
    split_at, start_at = applied(outcome, "tariff_change")  # events[0]: cpo-split, events[1]: cpo-start
    posts = [
        r
        for r in trace(tmp_path)
        if r.get("kind") == "request" and r["method"] == "POST" and "/cdrs" in r["url"]
    ]
    cdrs = [r["body"] for r in posts]
    split = [c for c in cdrs if c["party_id"] == "CPS" and parse_utc(c["start_date_time"]) < split_at]
    split = [c for c in split if parse_utc(c["end_date_time"]) > split_at]
    at_start = [c for c in cdrs if c["party_id"] == "CPT" and parse_utc(c["start_date_time"]) < start_at]
    assert split and at_start
    for cdr in split:
        for period in cdr["charging_periods"]:
            before = parse_utc(period["start_date_time"]) < split_at
            assert period["tariff_id"] == ("STD" if before else "STD-2026-03-02")
    assert all({p["tariff_id"] for p in c["charging_periods"]} == {"STD"} for c in at_start)
    lines = {line.cdr_id: line for line in outcome.world.emsp.records().invoice_lines}
    for cdr in cdrs:  # the eMSP re-prices every CDR to the cent of what the CPO charged
        amount = lines[cdr["id"]].amount_incl_vat
        assert amount is not None and abs(amount - Decimal(str(cdr["total_cost"]["incl_vat"]))) < Decimal(
            "0.005"
        )


def test_partner_latency_slows_one_partner_in_both_runtimes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    sim = run_scenario("partner-latency", seed=1, out=tmp_path / "sim")
    assert sim.summary["runtime"] == "sim"
    # A quarter of the usual speed: the others' "p99 within 5% of their first hour" reads the eMSP's
    # real answer times (2.5-5 ms of ~125-210 ms), less the machine's run-queue waits, which made it
    # miss under load (one 23-26 ms wait in a second-hour answer is over 5%); what a stall leaves
    # behind (the loop's backlog, up to ~9 ms of CPU in one answer) still counts. If the run fell
    # behind its clock, or the machine stalled the loop by more than a latency expectation missed, it
    # must say so and exit 3 (the bench's fault), never 1: the eMSP is not graded on timing the
    # bench could not keep (bench/stall_grading.py).
    live = run_live(monkeypatch, "partner-latency", 1, tmp_path / "live", speed=LIVE_SPEED / 4)
    failed = [e for e in live.summary["expectations"] if not e["passed"]]
    lost = live.summary["timing"]["valid"] is False
    explained = bool(failed) and all("inconclusive" in e for e in failed)
    assert live.exit_code == (3 if failed and (lost or explained) else 1 if failed else 0)
    assert live.exit_code != 1, (live.summary["timing"], live.summary["expectations"])
    for outcome in (sim, live):
        partners = outcome.summary["partners"]
        assert Decimal(partners["cpo-slow"]["authorizations"]["latency_ms"]["p99"]) >= 2000
        # Every authorization sent inside the window takes 2 s each way.
        window = parse_utc("2026-03-02T08:00:01Z")
        inside = [a.latency_ms for at, a in authorizations_by_sending(outcome, "cpo-slow") if at >= window]
        assert inside and min(inside) >= 4000
        for other in ("cpo-fast", "cpo-steady"):
            assert max(a.latency_ms for a in outcome.world.cpos[other].ocpi.truth.authorizations) < 2000
