"""`emsp-bench run` when the stations point at an external CSMS (bench/external_csms.py).

Same run-directory contract as any run: validated first (exit 2 leaves the directory untouched),
then trace.jsonl, summary.json (with `external_csms.*`), performance.json, junit.xml when there are
expectations, report.html.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import structlog

from bench.expectations import check_paths, evaluate, sessions_check, write_results_junit
from bench.external_csms import WireGrader, external_summary, station_versions
from bench.logs import configure_run_logging
from bench.rundir import write_json
from bench.scenario import Scenario
from bench.trace import TraceMode, WireTrace, trace_path
from reports import SCENARIO_FILE, write_report
from simulators.ocppj import subprotocol


def external_skeleton(scenario: Scenario) -> dict[str, Any]:
    """The summary paths every external-CSMS run of this scenario has (for check_paths)."""
    versions = station_versions(scenario)
    messages = dict.fromkeys(sorted({subprotocol(v) for v in versions.values()}), 0)
    start = scenario.start
    return external_summary(scenario, WireGrader(versions), {}, [], messages, 0, start, start)


def station_credentials(scenario: Scenario, base_dir: Path, urls: dict[str, str]) -> dict[str, Any]:
    """Per station against an external CSMS: its password and TLS context (security profiles 1-3)."""
    import ssl

    from bench.ocpp_security import client_context
    from bench.runtime.external_run import StationCredentials

    out: dict[str, Any] = {}
    for cpo in scenario.cpos:
        for location in cpo.locations:
            for st in location.stations:
                tls = None
                if urls[st.id].startswith("wss://"):
                    if st.ca_file is None:
                        tls = ssl.create_default_context()
                        if st.client_cert is not None:
                            tls.load_cert_chain(base_dir / st.client_cert, base_dir / (st.client_key or ""))
                    else:
                        cert = base_dir / st.client_cert if st.client_cert else None
                        key = base_dir / st.client_key if st.client_key else None
                        tls = client_context(base_dir / st.ca_file, cert=cert, key=key)
                out[st.id] = StationCredentials(password=st.password, tls=tls)
    return out


def validate_external(scenario: Scenario, scenario_file: str) -> None:
    check_paths(scenario.expectations, external_skeleton(scenario), scenario_file)


def run_external_scenario(
    scenario: Scenario,
    base_dir: Path,
    run_dir: Path,
    urls: dict[str, str],
    *,
    scenario_file: str,
    database_url: str,
    trace_mode: TraceMode,
    trace_gzip: bool,
    report: bool,
) -> tuple[dict[str, Any], list[Any], dict[str, Any], Any]:
    from bench.runtime.external_run import run_external

    write_json(run_dir / "endpoints.json", {"external_csms": urls})  # where each station connects
    trace = WireTrace(trace_path(run_dir, trace_mode, trace_gzip), trace_mode)
    caller_logging = structlog.get_config()
    log_file = configure_run_logging(run_dir / "log.jsonl")
    wall_start = time.perf_counter()
    try:
        result = run_external(scenario, base_dir, trace, urls, database_url=database_url,
                              scenario_file=scenario_file,
                              credentials=station_credentials(scenario, base_dir, urls))  # fmt: skip
    finally:
        trace.close()
        if log_file is not None:
            log_file.close()
        structlog.configure(**caller_logging)
    wall = time.perf_counter() - wall_start
    versions = station_versions(scenario)
    messages = dict.fromkeys(sorted({subprotocol(v) for v in versions.values()}), 0) | dict(trace.counts)
    truths = [t for station in result.world.stations.values() for t in station.truth]
    summary = external_summary(
        scenario, result.grader, result.stations, truths, messages, result.unserved_arrivals,
        scenario.start, result.ended_at,
    )  # fmt: skip
    results = evaluate(scenario.expectations, summary)
    if scenario.expect_sessions:
        results.insert(0, sessions_check(summary))
    summary["expectations"] = [r.as_dict() for r in results]
    simulated = (result.ended_at - scenario.start).total_seconds()
    performance = {
        "wall_seconds": round(wall, 3),
        "simulated_seconds": simulated,
        "messages": sum(trace.counts.values()),
    }
    write_json(run_dir / "summary.json", summary)
    write_json(run_dir / SCENARIO_FILE, scenario.model_dump(mode="json", by_alias=True))
    write_json(run_dir / "performance.json", performance)
    write_results_junit(run_dir / "junit.xml", scenario.name, f"{scenario.name}.live.external_csms", results)
    if report:
        write_report(run_dir)
    return summary, results, performance, result.world


def finish_external_emsp(
    scenario: Scenario,
    world: Any,
    run_dir: Path,
    counts: dict[str, int],
    tokens: dict[str, int],
    unserved: int,
    wall: float,
    *,
    report: bool,
) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """Summary, expectations, junit and report of a run against an external eMSP (bench/external_emsp.py)."""
    from bench.external_emsp import external_emsp_summary

    truths = [t for station in world.stations.values() for t in station.truth]
    summary = external_emsp_summary(scenario, world, truths, counts, tokens, unserved)
    results = evaluate(scenario.expectations, summary)
    if scenario.expect_sessions:
        results.insert(0, sessions_check(summary))
    summary["expectations"] = [r.as_dict() for r in results]
    performance = {"wall_seconds": round(wall, 3), "messages": sum(counts.values())}
    write_json(run_dir / "summary.json", summary)
    write_json(run_dir / SCENARIO_FILE, scenario.model_dump(mode="json", by_alias=True))
    write_json(run_dir / "performance.json", performance)
    write_results_junit(run_dir / "junit.xml", scenario.name, f"{scenario.name}.live.external_emsp", results)
    if report:
        write_report(run_dir)
    return summary, results, performance
