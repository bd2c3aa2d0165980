"""Runs one scenario in one runtime and writes its run directory."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec

import structlog

from bench.billing import BILLING_FILES
from bench.billing import finish as billing_finish
from bench.billing import skeleton as billing_skeleton
from bench.commands_summary import command_figures
from bench.expectations import ExpectationResult, check_paths, evaluate, sessions_check, write_results_junit
from bench.hubs import (
    cdr_ids_through_hubs,
    hub_cdr_resends,
    hub_currencies,
    hub_figures,
    party_owner,
    through_hubs,
)
from bench.logs import configure_run_logging
from bench.ocpp_calls import ocpp_call_figures
from bench.overrides import Override
from bench.rundir import (
    FINDINGS_FILE,
    write_authorizations,
    write_findings,
    write_json,
    write_reconciliation,
)
from bench.scenario import CpoPorts, PortsSpec, Scenario, ScenarioError, load_scenario, resolve
from bench.stall_grading import grade_stalls, inconclusive_line
from bench.summary import CdrDelivery, build_summary, split_refused
from bench.trace import TRACE_FILES, TRACE_MODES, TraceMode, WireTrace, trace_path
from bench.truth import truth_sessions
from bench.world import World, build_world, horizon, preflight, registration_failures
from emsp.model import EmspRecords
from emsp.reconciliation import Reconciliation, reconcile
from reports import REPORT_FILES, SCENARIO_FILE, write_report
from simulators.ocppj import subprotocol

Runtime = Literal["sim", "live"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_dir: Path
    summary: dict[str, Any]
    expectations: list[ExpectationResult]
    performance: dict[str, Any]
    world: World
    timing_valid: bool = True  # live: False when the runtime fell too far behind its clock

    @property
    def exit_code(self) -> int:
        failed = [e for e in self.expectations if not e.passed]
        if not failed:
            return 0
        if not self.timing_valid:
            # The bench fell behind its clock: arrivals, windows, timeouts and the horizon all moved,
            # so any failure (a latency, a refusal after a late answer, a session cut at the end)
            # may be the bench's. Never graded as the eMSP's: exit 3, rerun at a lower --speed.
            return 3
        if all(e.inconclusive for e in failed):
            return 3  # only latencies the loop's own stall can explain failed (bench/stall_grading.py)
        return 1

    @property
    def fault_reason(self) -> str:
        """One line saying why the run exits 3 with timing still valid; "" otherwise."""
        if self.exit_code != 3 or not self.timing_valid:
            return ""
        return inconclusive_line(self.expectations)

    @property
    def not_graded_reason(self) -> str:
        """Why the run exits 3, in the CLI's words (its timing note, else `fault_reason`); "" for any
        other exit. What the pytest plugin and a suite's JUnit say of an inconclusive run."""
        if self.exit_code != 3:
            return ""
        if not self.timing_valid:
            return f"timing not valid: {self.summary.get('timing', {}).get('note', '')}"
        return self.fault_reason


def sim_urls(cpo_ids: list[str]) -> tuple[str, dict[str, str]]:
    """Virtual hosts for the sim runtime: never resolved, only used to route and to trace."""
    return "http://emsp.local/ocpi", {cid: f"http://{cid}.cpo.local/ocpi" for cid in cpo_ids}


def sim_hub_urls(hub_ids: list[str]) -> dict[str, str]:
    return {hid: f"http://{hid}.hub.local/ocpi" for hid in hub_ids}


# Every file a run writes into its run directory: cleared before it writes any, so nothing stale
# (an earlier run's all-PASS junit.xml or report.html) can survive a crashed or a different run.
RUN_FILES = (
    *TRACE_FILES,  # both forms: a run with another --trace/--trace-gzip leaves no stale trace
    "log.jsonl",
    "endpoints.json",
    "summary.json",
    "metrics.prom",
    "performance.json",
    "reconciliation.csv",
    "authorizations.csv",
    FINDINGS_FILE,
    "junit.xml",
    SCENARIO_FILE,
    *REPORT_FILES,
    *BILLING_FILES,
)


def _protocols(scenario: Scenario) -> list[str]:
    ocpp = {subprotocol(s.ocpp) for c in scenario.cpos for loc in c.locations for s in loc.stations}
    return sorted(ocpp | {f"ocpi{c.ocpi_version}" for c in scenario.cpos})


def summary_skeleton(
    scenario: Scenario, currencies: list[str], hub_fees: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The summary of this scenario's world with nothing in it: the paths every run of it will have.
    `hub_fees`: per hub, the currencies of its fees."""
    empty = EmspRecords(**{f.name: () for f in fields(EmspRecords)})
    summary = build_summary(
        scenario=scenario.name,
        seed=scenario.seed,
        runtime="sim",
        truths=[],
        authorizations={c.id: [] for c in scenario.cpos},
        records=empty,
        reconciliation=Reconciliation(()),
        messages=dict.fromkeys(_protocols(scenario), 0),
        unserved_arrivals=0,
        currencies=currencies,
        start=scenario.start,
        hubs={hub_id: hub_figures(None, fees) for hub_id, fees in (hub_fees or {}).items()},
        channels=_channels(scenario),
    )
    if scenario.demand.app_start_share > 0:
        summary["commands"] = command_figures(empty)
    billing_skeleton(summary, scenario)  # billing.* and partners.<id>.margin with demand.contracts
    if (calls := ocpp_call_figures(scenario, ())) is not None:
        summary["ocpp_calls"] = calls
    return summary


def _channels(scenario: Scenario) -> dict[str, tuple[str, str, str]]:
    """Per CPO id: the channel it reaches the eMSP on (`bilateral` or its hub's id) and its party."""
    return {c.id: (c.hub or "bilateral", c.country_code, c.party_id) for c in scenario.cpos}


def prepare_run_dir(run_dir: Path) -> Path:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise ScenarioError(
            str(run_dir), "--out", f"cannot be used as the run directory: {exc.strerror}"
        ) from exc
    return run_dir


def _deliveries(world: World, records: EmspRecords) -> dict[str, CdrDelivery]:
    """Per CPO, the CDRs it sent twice and late, under the ids the eMSP knows them by. A hub that
    sent a CDR again after a timeout adds a repeat the eMSP should recognise too; a repeat of a CDR
    the eMSP refused is kept apart (nothing stored to recognise it by)."""
    resends: dict[str, int] = {}
    for hub in world.hubs.values():
        for sender, count in hub_cdr_resends(hub).items():
            resends[sender] = resends.get(sender, 0) + count
    held: dict[tuple[str, str], set[str]] = {}  # per party, the CDR ids the eMSP holds
    for cdr in records.cdrs:
        held.setdefault((cdr.party.country_code.upper(), cdr.party.party_id.upper()), set()).add(cdr.cdr_id)
    out = {}
    for cid, cpo in world.cpos.items():
        party = (cpo.ocpi.country_code, cpo.ocpi.party_id)
        truth = cpo.ocpi.truth
        # a link's `duplicate` served a CDR POST twice: the eMSP got that CDR again, as after a resend
        again = cdr_ids_through_hubs([*truth.cdrs_resent, *truth.cdrs_link_duplicated], party, world.hubs)
        refused = cdr_ids_through_hubs(truth.cdrs_refused, party, world.hubs)
        kept, of_refused = split_refused(again, refused, held.get((party[0].upper(), party[1].upper()), ()))
        resent = (*kept, *("(hub resend)",) * resends.get(f"{party[0]}/{party[1]}", 0))
        late = cdr_ids_through_hubs(truth.cdrs_late, party, world.hubs)
        out[cid] = CdrDelivery(resent, late, tuple(of_refused))
    return out


def with_csms_port(scenario: Scenario, first: int, runtime: str) -> Scenario:
    """`--csms-port N`: the i-th CPO's mock CSMS listens on N + i (live)."""
    if runtime != "live":
        raise ScenarioError("emsp-bench run", "--csms-port", "fixed ports are for --runtime live")
    if not 1 <= first <= 65535 - len(scenario.cpos) + 1:
        raise ScenarioError("emsp-bench run", "--csms-port", f"{first} leaves no port for every CPO")
    cpos = dict(scenario.ports.cpos)
    for index, cpo in enumerate(scenario.cpos):
        spec = cpos.get(cpo.id, CpoPorts())
        cpos[cpo.id] = spec.model_copy(update={"csms": first + index})
    try:
        ports = PortsSpec.model_validate(scenario.ports.model_dump() | {"cpos": cpos})
        return Scenario.model_validate(scenario.model_dump(by_alias=True) | {"ports": ports})
    except ValueError as exc:
        raise ScenarioError("emsp-bench run", "--csms-port", str(exc).splitlines()[-1].strip()) from exc


def _endpoints_known(
    run_dir: Path, then: Callable[[dict[str, Any]], None] | None, found: dict[str, Any]
) -> None:
    write_json(run_dir / "endpoints.json", found)
    if then is not None:
        then(found)


P = ParamSpec("P")
# What an interrupted run keeps: its record of what happened until then (trace, log). Everything
# else states a result (summary, junit.xml, report, reconciliation...) that the run never reached.
_KEPT_WHEN_INTERRUPTED = frozenset((*TRACE_FILES, "log.jsonl", "endpoints.json"))


def drop_results(run_dir: Path) -> None:
    """Remove the files that state a result: an interrupted run must not leave an all-PASS junit.xml
    or a summary.json behind (DESIGN: exit 130, no stale file)."""
    for name in RUN_FILES:
        if name not in _KEPT_WHEN_INTERRUPTED:
            with contextlib.suppress(OSError):
                (run_dir / name).unlink(missing_ok=True)


def _drops_results_when_interrupted(
    run: Callable[Concatenate[list[Path], P], RunOutcome],
) -> Callable[P, RunOutcome]:
    """`run` notes its run directory once in use; interrupted (KeyboardInterrupt: Ctrl-C) after
    that, the result files it may have written already are removed before the interrupt goes on."""

    def interruptible(*args: P.args, **kwargs: P.kwargs) -> RunOutcome:
        started: list[Path] = []
        try:
            return run(started, *args, **kwargs)
        except KeyboardInterrupt:
            for run_dir in started:
                drop_results(run_dir)
            raise

    interruptible.__doc__ = run.__doc__
    return interruptible


def _run_scenario(
    started: list[Path],  # the run directory, once in use (see _drops_results_when_interrupted)
    name_or_path: str,
    *,
    runtime: Runtime = "sim",
    seed: int | None = None,
    out: str | Path | None = None,
    speed: float | None = None,
    database_url: str = "sqlite://",
    progress: Callable[[float], None] | None = None,
    trace_mode: TraceMode = "full",
    trace_gzip: bool = False,
    overrides: Sequence[Override] = (),
    report: bool = True,
    on_horizon: Callable[[datetime, datetime], None] | None = None,
    csms_url: str | None = None,
    csms_port: int | None = None,
    on_endpoints: Callable[[dict[str, Any]], None] | None = None,
) -> RunOutcome:
    """`overrides`: `--set path=value` changes to the scenario; `report`: False skips report.html
    and its plots (sweeps: hundreds of runs read as one table); `on_horizon(start, stop)`: told the
    scenario time span the progress fraction covers, once it is known (sim)."""
    # Validate everything first: invalid input (exit 2) must leave an earlier run directory untouched.
    # The Python API gets the CLI's checks too: its types are not enforced at run time.
    if runtime not in ("sim", "live"):
        raise ScenarioError("emsp-bench run", "--runtime", f"must be 'sim' or 'live', not {runtime!r}")
    if speed is not None and runtime != "live":  # a sim run is paced by nothing: speed would be ignored
        raise ScenarioError(
            "emsp-bench run", "--speed", f"only with --runtime live (a sim run takes no pace), not {speed!r}"
        )
    if seed is not None and (type(seed) is not int or seed < 0):  # type(): True is no seed
        raise ScenarioError("emsp-bench run", "--seed", f"must be a whole number >= 0, not {seed!r}")
    if out is not None and not isinstance(out, str | Path):
        raise ScenarioError("emsp-bench run", "--out", f"must be a path, not {out!r}")
    scenario, base_dir = load_scenario(name_or_path, overrides)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    from bench.external_csms import check_external

    if csms_port is not None:
        scenario = with_csms_port(scenario, csms_port, runtime)

    external = check_external(
        scenario, str(resolve(name_or_path)), runtime=runtime, speed=1.0 if speed is None else speed,
        override=csms_url, base_dir=base_dir,
    )  # fmt: skip
    from bench.external_emsp import external_emsp

    outside_emsp = external_emsp(scenario, str(resolve(name_or_path)), runtime=runtime)
    speed = (1.0 if external else 600.0) if speed is None else speed
    if not math.isfinite(speed) or speed <= 0:
        raise ScenarioError("emsp-bench run", "--speed", f"must be a finite number > 0, not {speed}")
    if trace_mode not in TRACE_MODES:
        raise ScenarioError(
            "emsp-bench run", "--trace", f"must be one of {', '.join(TRACE_MODES)}, not {trace_mode!r}"
        )
    if trace_mode == "off" and trace_gzip:
        raise ScenarioError(
            "emsp-bench run", "--trace-gzip", "there is no trace to compress with --trace off"
        )
    target = Path(out) if out is not None else Path("runs") / f"{scenario.name}-{scenario.seed}"
    try:
        currencies = preflight(scenario, base_dir, database_url=database_url, scenario_file=name_or_path)
        hub_fees = hub_currencies(scenario, base_dir, name_or_path)
        skeleton = summary_skeleton(scenario, currencies, hub_fees)
        if external:
            from bench.external_runner import validate_external

            validate_external(scenario, str(resolve(name_or_path)))
        elif outside_emsp:
            from bench.external_emsp import external_emsp_skeleton

            check_paths(scenario.expectations, external_emsp_skeleton(scenario), str(resolve(name_or_path)))
        else:
            check_paths(scenario.expectations, skeleton, str(resolve(name_or_path)))
    except KeyboardInterrupt:
        # Interrupted (130), not invalid: this run was asked for, so the earlier run's all-PASS
        # junit.xml and report.html in its directory must not outlive it (a CI would read them).
        if target.is_dir():
            with contextlib.suppress(ScenarioError):
                prepare_run_dir(target)
        raise
    if runtime == "live" and not external:
        from bench.runtime.live_run import check_fixed_ports

        check_fixed_ports(scenario, name_or_path)
    run_dir = prepare_run_dir(target)
    started.append(run_dir)
    if external:
        from bench.external_runner import run_external_scenario

        summary, results, figures, world = run_external_scenario(
            scenario, base_dir, run_dir, external, scenario_file=name_or_path, database_url=database_url,
            trace_mode=trace_mode, trace_gzip=trace_gzip, report=report,
        )  # fmt: skip
        return RunOutcome(run_dir, summary, results, figures, world)
    trace = WireTrace(trace_path(run_dir, trace_mode, trace_gzip), trace_mode)
    # The run's log goes to its directory; whoever called (the CLI, the pytest plugin, a suite
    # worker) gets its own logging back afterwards, not a logger filtered to CRITICAL.
    caller_logging = structlog.get_config()
    log_file = configure_run_logging(run_dir / "log.jsonl")
    wall_start = time.perf_counter()  # performance figures only; never reaches the models
    tokens: dict[str, int] = {}  # an external eMSP: the drivers' tokens issued through its contract API
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
                hub_base_urls=sim_hub_urls([h.id for h in scenario.hubs]),
            )
            if on_horizon is not None:
                on_horizon(scenario.start, horizon(world))
            result = SimRuntime(world, trace, progress).run()
            unserved, ended_at = result.unserved_arrivals, result.ended_at
            backlog = lag = None
            timeline: list[dict[str, object]] = []
        else:
            from bench.runtime.live_run import run_live
            from bench.runtime.live_timeline import applied_figures

            if outside_emsp:
                from bench.external_emsp import issue_tokens

                tokens = issue_tokens(scenario)
            live = run_live(
                scenario,
                base_dir,
                trace,
                speed=speed,
                database_url=database_url,
                scenario_file=name_or_path,
                progress=progress,
                external_emsp=outside_emsp,
                on_endpoints=partial(_endpoints_known, run_dir, on_endpoints),
                pushed_tokens=bool(outside_emsp) and scenario.emsp.admin_url is None,
            )
            world, unserved, ended_at = live.world, live.unserved_arrivals, live.ended_at
            backlog, lag = live.ocpi_backlog_max, live.lag
            timeline = applied_figures(live.applied)
    except BaseException:
        if log_file is not None:
            log_file.close()
        structlog.configure(**caller_logging)
        raise
    finally:
        trace.close()
        if log_file is not None and not log_file.closed:
            log_file.flush()
    wall = time.perf_counter() - wall_start

    if outside_emsp:
        from bench.external_runner import finish_external_emsp

        summary, results, figures = finish_external_emsp(
            scenario, world, run_dir, dict(trace.counts), tokens, unserved, wall, report=report
        )
        if log_file is not None:
            log_file.close()
        structlog.configure(**caller_logging)
        return RunOutcome(run_dir, summary, results, figures, world)
    # Through a hub that renames Sessions the eMSP knows them by the hub's ids: join on those.
    truths = through_hubs(truth_sessions(world), world.hubs)
    records = world.emsp.records()
    reconciliation = reconcile(truths, records)
    by_partner = {
        cid: sorted(cpo.ocpi.truth.authorizations, key=lambda a: (a.at, a.token_uid))
        for cid, cpo in world.cpos.items()
    }
    authorizations = sorted(
        (a for of_one in by_partner.values() for a in of_one), key=lambda a: (a.at, a.token_uid)
    )
    owner = party_owner(
        {cid: (cpo.ocpi.country_code, cpo.ocpi.party_id) for cid, cpo in world.cpos.items()}, world.hubs
    )
    summary = build_summary(
        scenario=scenario.name,
        seed=scenario.seed,
        runtime=runtime,
        truths=truths,
        authorizations=by_partner,
        records=records,
        reconciliation=reconciliation,
        messages=dict.fromkeys(_protocols(scenario), 0) | dict(trace.counts),
        unserved_arrivals=unserved,
        currencies=currencies,
        start=scenario.start,
        deliveries=_deliveries(world, records),
        owner=owner,
        hubs={hub_id: hub_figures(world.hubs[hub_id], fees) for hub_id, fees in hub_fees.items()},
        pulls=world.emsp.pull_stats(),
        dropped={cid: len(cpo.ocpi.truth.dropped) for cid, cpo in world.cpos.items()},
        channels=_channels(scenario),
    )
    billing_finish(summary, scenario, world.emsp, records, owner, run_dir)  # demand.contracts only
    answers = [a for cpo in world.cpos.values() for a in cpo.call_answers]
    if (calls := ocpp_call_figures(scenario, answers)) is not None:
        summary["ocpp_calls"] = calls
    if scenario.demand.app_start_share > 0 or records.commands:  # only then: others stay as they were
        summary["commands"] = command_figures(records, world)
    if lag is not None:  # live: can the run's timing be trusted? (never graded as the eMSP's)
        summary["timing"] = lag.summary()
    results = evaluate(scenario.expectations, summary)
    if lag is not None:  # live: a latency missed by less than the loop's own stall is not the eMSP's
        results = grade_stalls(results, summary, Decimal(f"{lag.max_machine_ms:.1f}"))
    if scenario.expect_sessions:
        results.insert(0, sessions_check(summary))
    results[1 if scenario.expect_sessions else 0 : 0] = registration_failures(world)
    summary["expectations"] = [r.as_dict() for r in results]
    simulated = (ended_at - scenario.start).total_seconds()
    messages = sum(trace.counts.values())
    performance: dict[str, Any] = {
        "wall_seconds": round(wall, 3),
        "simulated_seconds": simulated,
        "sim_seconds_per_wall_second": round(simulated / wall, 1) if wall else None,
        "messages": messages,
        "messages_per_wall_second": round(messages / wall, 1) if wall else None,
    }
    if backlog is not None:  # live: how far the OCPI streams fell behind (0-1: they kept up)
        performance["ocpi_backlog_max"] = backlog
    if lag is not None:
        performance.update(lag.performance())
        performance["timeline"] = timeline  # each event as really applied (due vs applied)
    write_json(run_dir / "summary.json", summary)
    # The scenario as run (after --seed and --set): what the report shows as "what was simulated".
    write_json(run_dir / SCENARIO_FILE, scenario.model_dump(mode="json", by_alias=True))
    (run_dir / "metrics.prom").write_text(world.emsp.metrics_text(), encoding="utf-8")
    write_json(run_dir / "performance.json", performance)  # wall-clock figures: kept out of summary.json
    write_reconciliation(run_dir / "reconciliation.csv", reconciliation)
    write_findings(run_dir / FINDINGS_FILE, records.findings, owner)
    write_authorizations(
        run_dir / "authorizations.csv", authorizations, {sid: world.cpo_of(sid) for sid in world.stations}
    )
    write_results_junit(run_dir / "junit.xml", scenario.name, f"{scenario.name}.{runtime}", results)
    if report:
        write_report(run_dir)
    if log_file is not None:
        log_file.close()
    structlog.configure(**caller_logging)
    return RunOutcome(run_dir, summary, results, performance, world, lag is None or lag.valid)


run_scenario = _drops_results_when_interrupted(_run_scenario)
