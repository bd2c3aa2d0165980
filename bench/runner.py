"""Runs one scenario in one runtime and writes its run directory."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from bench.expectations import ExpectationResult, evaluate
from bench.logs import configure_run_logging
from bench.rundir import write_authorizations, write_json, write_reconciliation
from bench.scenario import ScenarioError, load_scenario
from bench.summary import build_summary
from bench.trace import WireTrace
from bench.truth import truth_sessions
from bench.world import World, build_world
from emsp.reconciliation import reconcile
from reports import JunitCase, write_junit, write_report

Runtime = Literal["sim", "live"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_dir: Path
    summary: dict[str, Any]
    expectations: list[ExpectationResult]
    performance: dict[str, Any]
    world: World

    @property
    def exit_code(self) -> int:
        return 0 if all(e.passed for e in self.expectations) else 1


def sim_urls(cpo_ids: list[str]) -> tuple[str, dict[str, str]]:
    """Virtual hosts for the sim runtime: never resolved, only used to route and to trace."""
    return "http://emsp.local/ocpi", {cid: f"http://{cid}.cpo.local/ocpi" for cid in cpo_ids}


def run_scenario(
    name_or_path: str,
    *,
    runtime: Runtime = "sim",
    seed: int | None = None,
    out: Path | None = None,
    speed: float = 600.0,
    database_url: str = "sqlite://",
    progress: Callable[[float], None] | None = None,
) -> RunOutcome:
    scenario, base_dir = load_scenario(name_or_path)
    if seed is not None:
        if seed < 0:
            raise ScenarioError("emsp-bench run", "--seed", "must be a whole number >= 0")
        scenario = scenario.model_copy(update={"seed": seed})
    if not math.isfinite(speed) or speed <= 0:
        raise ScenarioError("emsp-bench run", "--speed", f"must be a finite number > 0, not {speed}")
    run_dir = out or Path("runs") / f"{scenario.name}-{scenario.seed}"
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(
            str(run_dir), "--out", f"cannot be used as the run directory: {exc.strerror}"
        ) from exc
    trace = WireTrace(run_dir / "trace.jsonl")
    log_file = configure_run_logging(run_dir / "log.jsonl")
    wall_start = time.perf_counter()  # performance figures only; never reaches the models
    try:
        if runtime == "sim":
            from bench.runtime.sim import SimRuntime

            emsp_url, cpo_urls = sim_urls([c.id for c in scenario.cpos])
            world = build_world(
                scenario,
                base_dir,
                emsp_base_url=emsp_url,
                cpo_base_urls=cpo_urls,
                database_url=database_url,
                scenario_file=name_or_path,
            )
            result = SimRuntime(world, trace, progress).run()
            unserved, ended_at = result.unserved_arrivals, result.ended_at
            backlog = None
        else:
            from bench.runtime.live_run import run_live

            live = run_live(
                scenario,
                base_dir,
                trace,
                speed=speed,
                database_url=database_url,
                scenario_file=name_or_path,
                progress=progress,
            )
            world, unserved, ended_at = live.world, live.unserved_arrivals, live.ended_at
            backlog = live.ocpi_backlog_max
    finally:
        trace.close()
        if log_file is not None:
            log_file.flush()
    wall = time.perf_counter() - wall_start

    truths = truth_sessions(world)
    records = world.emsp.records()
    reconciliation = reconcile(truths, records)
    authorizations = sorted(
        (a for cpo in world.cpos.values() for a in cpo.ocpi.truth.authorizations),
        key=lambda a: (a.at, a.token_uid),
    )
    summary = build_summary(
        scenario=scenario.name,
        seed=scenario.seed,
        runtime=runtime,
        truths=truths,
        authorizations=authorizations,
        records=records,
        reconciliation=reconciliation,
        messages=dict(trace.counts),
        unserved_arrivals=unserved,
    )
    results = evaluate(scenario.expectations, summary)
    summary["expectations"] = [asdict(r) for r in results]
    simulated = (ended_at - scenario.start).total_seconds()
    messages = sum(trace.counts.values())
    performance = {
        "wall_seconds": round(wall, 3),
        "simulated_seconds": simulated,
        "sim_seconds_per_wall_second": round(simulated / wall, 1) if wall else None,
        "messages": messages,
        "messages_per_wall_second": round(messages / wall, 1) if wall else None,
    }
    if backlog is not None:  # live: how far the OCPI streams fell behind (0-1: they kept up)
        performance["ocpi_backlog_max"] = backlog
    write_json(run_dir / "summary.json", summary)
    (run_dir / "metrics.prom").write_text(world.emsp.metrics_text(), encoding="utf-8")
    write_json(run_dir / "performance.json", performance)  # wall-clock figures: kept out of summary.json
    write_reconciliation(run_dir / "reconciliation.csv", reconciliation)
    write_authorizations(
        run_dir / "authorizations.csv", authorizations, {sid: world.cpo_of(sid) for sid in world.stations}
    )
    if results:
        write_junit(
            run_dir / "junit.xml",
            f"emsp-bench.{scenario.name}",
            [
                JunitCase(
                    name=r.name,
                    passed=r.passed,
                    classname=f"{scenario.name}.{runtime}",
                    message=f"{r.metric}: expected {r.op} {r.expected}, got {r.actual}",
                )
                for r in results
            ],
        )
    write_report(run_dir)
    if log_file is not None:
        log_file.close()
        configure_run_logging(None)
    return RunOutcome(run_dir, summary, results, performance, world)
