"""`smoke` end to end: both runtimes, determinism, and the wire trace's contract."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import simplejson

from bench.runner import RunOutcome, run_scenario
from simulators.ocppj import CALL, CALLRESULT, codec


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return run_scenario("smoke", runtime="sim", seed=7, out=tmp_path_factory.mktemp("sim"))


def _trace(run_dir: Path) -> list[dict[str, Any]]:
    return [
        simplejson.loads(line, use_decimal=True)
        for line in (run_dir / "trace.jsonl").read_text().splitlines()
    ]


def test_smoke_sim_completes_and_matches_every_session(sim_run: RunOutcome) -> None:
    s = sim_run.summary
    assert sim_run.exit_code == 0, s["expectations"]
    assert s["sessions"]["started"] >= 10
    assert s["sessions"]["completed"] == s["sessions"]["started"]
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"]
    for klass in ("missing_cdr", "duplicate_cdr", "orphan_cdr", "energy_mismatch", "price_mismatch"):
        assert s["reconciliation"][klass] == 0, klass
    assert (
        Decimal(s["energy_kwh"]["truth"])
        == Decimal(s["energy_kwh"]["cdr"])
        == Decimal(s["energy_kwh"]["invoiced"])
    )
    assert Decimal(s["energy_kwh"]["truth"]) > 0
    assert s["authorizations"]["rejected"] >= 1
    assert s["reconciliation"]["refused"] >= 1
    assert Decimal(s["revenue"]["EUR"]) > 0
    for name in ("trace.jsonl", "summary.json", "reconciliation.csv", "report.html", "junit.xml"):
        assert (sim_run.run_dir / name).stat().st_size > 0, name


def _registration_order(trace: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """From the CPO's credentials POST to the eMSP's answer: who called what, in trace order."""
    ocpi = [e for e in trace if e["proto"] == "ocpi2.2.1"]
    start = next(i for i, e in enumerate(ocpi) if e["method"] == "POST" and e["url"].endswith("/credentials"))
    end = next(
        i for i, e in enumerate(ocpi) if i > start and e["kind"] == "response" and e["method"] == "POST"
    )
    # Only the handshake's own calls: the eMSP's initial pull of the CPO's Sender lists (emsp.ocpi.pull)
    # may start while the answer is on its way (live), and is no part of the handshake.
    calls = [(e["src"], e["kind"], e["url"].rsplit("/ocpi/", 1)[-1]) for e in ocpi[start : end + 1]]
    return [c for c in calls if "?" not in c[2] and c[2].count("/") <= 1]


def assert_emsp_fetched_before_answering(trace: list[dict[str, Any]]) -> None:
    """credentials POST: the eMSP GETs the CPO's versions and details before it answers."""
    assert _registration_order(trace) == [
        ("cpo-a", "request", "2.2.1/credentials"),
        ("emsp", "request", "versions"),
        ("cpo-a", "response", "versions"),
        ("emsp", "request", "2.2.1"),
        ("cpo-a", "response", "2.2.1"),
        ("emsp", "response", "2.2.1/credentials"),
    ]


def test_the_emsp_fetches_the_cpos_versions_before_answering_its_credentials(sim_run: RunOutcome) -> None:
    assert_emsp_fetched_before_answering(_trace(sim_run.run_dir))


def test_every_ocpp_frame_passes_the_official_schemas(sim_run: RunOutcome) -> None:
    trace = _trace(sim_run.run_dir)
    versions = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
    pending: dict[str, dict[str, str]] = {}
    seen = set()
    for entry in (e for e in trace if e["proto"] in versions):
        seen.add(entry["proto"])
        version = versions[entry["proto"]]
        frame = simplejson.loads(entry["frame"])
        link = pending.setdefault(f"{min(entry['src'], entry['dst'])}|{max(entry['src'], entry['dst'])}", {})
        message = codec(version).decode(entry["frame"], pending=link)  # raises FrameError when invalid
        if frame[0] == CALL:
            link[frame[1]] = frame[2]
        elif frame[0] == CALLRESULT:
            link.pop(frame[1], None)
        assert message is not None
    assert seen == {"ocpp1.6", "ocpp2.0.1"}


def test_every_ocpi_json_response_carries_the_envelope(sim_run: RunOutcome) -> None:
    responses = [
        e for e in _trace(sim_run.run_dir) if e["proto"].startswith("ocpi") and e["kind"] == "response"
    ]
    assert responses
    for response in responses:
        body = response["body"]
        assert isinstance(body, dict), response
        assert isinstance(body["status_code"], int) and "timestamp" in body
    modules = {
        r["url"].split("/ocpi/")[-1].split("/")[1] if "/2.2.1/" in r["url"] else "versions" for r in responses
    }
    assert {"credentials", "locations", "tariffs", "sessions", "cdrs", "tokens"} <= modules


def test_same_seed_gives_byte_identical_trace_and_summary(sim_run: RunOutcome, tmp_path: Path) -> None:
    again = run_scenario("smoke", runtime="sim", seed=7, out=tmp_path)
    for name in ("trace.jsonl", "summary.json", "reconciliation.csv"):
        assert (again.run_dir / name).read_bytes() == (sim_run.run_dir / name).read_bytes(), name


def test_another_seed_gives_another_run(sim_run: RunOutcome, tmp_path: Path) -> None:
    other = run_scenario("smoke", runtime="sim", seed=8, out=tmp_path)
    assert (other.run_dir / "trace.jsonl").read_bytes() != (sim_run.run_dir / "trace.jsonl").read_bytes()
    assert other.exit_code == 0


LIVE_SEED = 3


@pytest.mark.xdist_group("live")  # see tests/bench/test_live_runtime.py
def test_live_run_matches_the_sim_run(tmp_path: Path) -> None:
    # A seed whose world has no contention: when every station is busy, live's real timing decides
    # which waiting driver gets the next free connector, and a different session mix is not a
    # runtime difference (seed 7's plan turns away 6 drivers in sim).
    ref_run = run_scenario("smoke", runtime="sim", seed=LIVE_SEED, out=tmp_path / "sim")
    assert ref_run.summary["sessions"]["unserved_arrivals"] == 0, "pick a seed without contention"
    live = run_scenario("smoke", runtime="live", seed=LIVE_SEED, out=tmp_path / "live", speed=600)
    s, ref = live.summary, ref_run.summary
    assert live.exit_code == 0, s["expectations"]
    assert s["runtime"] == "live"
    # Live timing is real: on a loaded machine one driver may find the charger a moment later
    # than in sim and its session end past the horizon. Every session live completed reconciles.
    assert abs(s["sessions"]["completed"] - ref["sessions"]["completed"]) <= 1
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"]
    sim_kwh, live_kwh = Decimal(ref["energy_kwh"]["truth"]), Decimal(s["energy_kwh"]["truth"])
    # At 600x every wall millisecond the loaded machine keeps the process waiting is 0.6 scenario
    # seconds between plug-in and the start of charging: on a shared 2-core CI box that moves the
    # delivered energy by up to ~2% (seen 1.3-1.8% at load 10+), hence 3%, not 1%.
    assert abs(live_kwh - sim_kwh) <= sim_kwh * 3 / 100
    assert Decimal(s["energy_kwh"]["cdr"]) == live_kwh
    assert {"ocpp1.6", "ocpp2.0.1", "ocpi2.2.1"} <= set(s["messages"])
    assert_emsp_fetched_before_answering(_trace(live.run_dir))


def test_runs_are_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    """Principle 6: no ordering may depend on hashing, which changes from process to process."""
    import os
    import subprocess
    import sys

    for hash_seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-m", "bench.cli", "run", "smoke", "--seed", "11", "--no-progress",
               "--out", str(tmp_path / hash_seed)]  # fmt: skip
        assert subprocess.run(cmd, env=env, capture_output=True, check=False).returncode == 0
    for name in ("trace.jsonl", "summary.json", "reconciliation.csv", "log.jsonl", "metrics.prom"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
