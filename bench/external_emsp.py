"""The mock CPOs against an external eMSP (hardware in the loop, the eMSP side is real).

`emsp: {versions_url, token_a[, admin_url, admin_token]}` in a scenario replaces the bench's own eMSP
with one under test: each mock CPO registers at `versions_url` with its token A (one string for every
CPO, or a mapping CPO id -> token), then pushes locations, tariffs, sessions and CDRs and asks it to
authorize the drivers' tokens in real time. The drivers' tokens must be known to that eMSP: with
`admin_url`/`admin_token` (an `emsp-bench serve emsp` contract API, `/api/v1`) the run issues them
before it starts (409 "already issued" is fine); without, the operator has issued them, or the
authorizations show that it has not.

What is graded is what the CPOs observe: registration, the eMSP's answers to authorizations, which
CDRs it acknowledged (and which it never did), which sessions it was told about. The eMSP's own
records (invoices, its reconciliation) are not visible: expectations naming them are refused at load
time (exit 2), never failed. Live runtime only.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from bench.demand import make_drivers
from bench.external_csms import EMSP_ROOTS
from bench.runtime.live_stations import LiveRuntimeError
from bench.scenario import Scenario, ScenarioError
from bench.world import World

ALLOWED = "ALLOWED"


def external_emsp(
    scenario: Scenario, scenario_file: str, *, runtime: str
) -> tuple[str, dict[str, str]] | None:
    """(versions URL, token A per CPO id) when the scenario names an external eMSP; validated."""
    spec = scenario.emsp
    if spec.versions_url is None or spec.token_a is None:
        return None
    if runtime != "live":
        raise ScenarioError(
            scenario_file,
            "emsp.versions_url",
            "an external eMSP needs real sockets: run it with --runtime live",
        )
    if scenario.hubs:
        raise ScenarioError(scenario_file, "hubs", "no hub takes part in an external-eMSP run")
    cpo_ids = [cpo.id for cpo in scenario.cpos]
    if isinstance(spec.token_a, str):
        tokens = dict.fromkeys(cpo_ids, spec.token_a)
    else:
        missing = [cid for cid in cpo_ids if cid not in spec.token_a]
        unknown = sorted(set(spec.token_a) - set(cpo_ids))
        if missing or unknown:
            raise ScenarioError(
                scenario_file,
                "emsp.token_a",
                f"needs one token per CPO id: missing {missing}, unknown {unknown}",
            )
        tokens = dict(spec.token_a)
    for index, exp in enumerate(scenario.expectations):
        for what, path in (("metric", exp.metric), ("value", exp.value)):
            if isinstance(path, str) and any(path == r or path.startswith(r + ".") for r in EMSP_ROOTS):
                raise ScenarioError(
                    scenario_file,
                    f"expectations[{index}].{what}",
                    f"{path!r} is a figure of the eMSP's own records: not observable when the eMSP is "
                    "external; grade external_emsp.*, sessions.*, authorizations.*, energy_kwh.truth "
                    "or messages.* instead",
                )
    return spec.versions_url, tokens


def issue_tokens(scenario: Scenario) -> dict[str, int]:
    """Issue the known drivers' tokens through the external eMSP's contract API (when configured).
    A refusal other than "already issued" is a configuration fault of the bench (exit 3)."""
    spec = scenario.emsp
    counts = {"issued": 0, "already_there": 0}
    if spec.admin_url is None:
        return counts
    url = f"{spec.admin_url.rstrip('/')}/tokens"
    headers = {"Authorization": f"Bearer {spec.admin_token}"}
    with httpx.Client(timeout=30.0) as client:
        # The same drivers build_world makes: its first draw from the scenario's seed.
        drivers = make_drivers(
            scenario.demand, random.Random(scenario.seed), spec.country_code, spec.party_id
        )
        for driver in drivers:
            if not driver.known:
                continue
            body = {"uid": driver.token_uid, "contract_id": driver.contract_id, "type": "RFID"}
            try:
                response = client.post(url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                raise LiveRuntimeError(f"emsp.admin_url {url}: {type(exc).__name__}: {exc}") from exc
            if response.status_code == 201:
                counts["issued"] += 1
            elif response.status_code == 409:
                counts["already_there"] += 1
            else:
                raise LiveRuntimeError(
                    f"emsp.admin_url {url} refused token {driver.token_uid}: HTTP {response.status_code} "
                    f"{response.text[:200]}"
                )
    return counts


def external_emsp_skeleton(scenario: Scenario) -> dict[str, Any]:
    """The summary paths every external-eMSP run of this scenario has (for check_paths)."""

    class _NoWorld:
        cpos: ClassVar[dict[str, Any]] = {}

    messages = dict.fromkeys(("ocpp1.6", "ocpp2.0.1", "ocpi2.1.1", "ocpi2.2.1", "ocpi2.3.0"), 0)
    empty = {"issued": 0, "already_there": 0}
    return external_emsp_summary(scenario, _NoWorld(), [], messages, empty, 0)  # type: ignore[arg-type]


def external_emsp_summary(
    scenario: Scenario,
    world: World,
    truths: Iterable[Any],
    messages: dict[str, int],
    tokens: dict[str, int],
    unserved: int,
) -> dict[str, Any]:
    """What the mock CPOs observed of the external eMSP, reconciled against the stations' truth."""
    truths = list(truths)
    started = [t for t in truths if t.started_at is not None]
    completed = [t for t in started if t.unplugged_at is not None]
    per_cpo: dict[str, Any] = {}
    results: Counter[str] = Counter()
    classes = Counter({"matched": 0, "missing_cdr": 0, "unacknowledged_cdr": 0, "energy_mismatch": 0})
    for cid, cpo in world.cpos.items():
        truth = cpo.ocpi.truth
        by_result = Counter(a.result for a in truth.authorizations)
        results.update(by_result)
        unacked = {str(c.get("cdr_id")) for c in cpo.ocpi.unanswered("cdr")}
        cdrs = {(c.station_id, c.transaction_id): c for c in truth.cdrs}
        for t in completed:
            if world.cpo_of(t.station_id) != cid:
                continue
            cdr = cdrs.get((t.station_id, t.transaction_id))
            if cdr is None:
                classes["missing_cdr"] += 1  # the CPO made none (the session never reached it)
            elif cdr.cdr_id in unacked:
                classes["unacknowledged_cdr"] += 1
            elif cdr.energy_kwh != (Decimal(t.energy_wh) / 1000).quantize(cdr.energy_kwh):
                classes["energy_mismatch"] += 1
            else:
                classes["matched"] += 1
        per_cpo[cid] = {
            "registered": int(truth.registered_at is not None),
            "authorizations": dict(sorted(by_result.items())),
            "sessions_pushed": len(truth.session_ids) - len(cpo.ocpi.unanswered("session")),
            "cdrs_sent": len(truth.cdrs),
            "cdrs_acknowledged": len(truth.cdrs) - len(unacked),
            "failed_calls": len(truth.failed_calls),
        }
    answered = sum(n for r, n in results.items() if not r.startswith("ERROR"))
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "runtime": "live",
        "mode": "external_emsp",
        "sessions": {"started": len(started), "completed": len(completed), "unserved_arrivals": unserved},
        "authorizations": {
            "accepted": results.get(ALLOWED, 0),
            "rejected": answered - results.get(ALLOWED, 0),
            "errors": sum(results.values()) - answered,
        },
        "energy_kwh": {"truth": str(sum((Decimal(t.energy_wh) for t in started), Decimal(0)) / 1000)},
        "messages": dict(sorted(messages.items())),
        "external_emsp": {
            "versions_url": scenario.emsp.versions_url,
            "cpos_registered": sum(c["registered"] for c in per_cpo.values()),
            "tokens": {
                **tokens,
                "source": "contract_api" if scenario.emsp.admin_url else "pushed_by_emsp",
                "received": sum(len(c.ocpi.received_tokens()) for c in world.cpos.values()),
            },
            "authorizations": {"answered": answered, "by_result": dict(sorted(results.items()))},
            "cdrs": {
                "sent": sum(c["cdrs_sent"] for c in per_cpo.values()),
                "acknowledged": sum(c["cdrs_acknowledged"] for c in per_cpo.values()),
            },
            "sessions_pushed": sum(c["sessions_pushed"] for c in per_cpo.values()),
            "failed_calls": sum(c["failed_calls"] for c in per_cpo.values()),
            "reconciliation": dict(classes),
            "cpos": per_cpo,
        },
    }


def external_emsp_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The console lines of an external-eMSP run's outcome."""
    ext, auth = summary["external_emsp"], summary["authorizations"]
    return [
        ("CPOs registered", str(ext["cpos_registered"])),
        ("tokens issued / already there", f"{ext['tokens']['issued']} / {ext['tokens']['already_there']}"),
        ("sessions started / completed",
         f"{summary['sessions']['started']} / {summary['sessions']['completed']}"),
        ("authorizations accepted / rejected / errors",
         f"{auth['accepted']} / {auth['rejected']} / {auth['errors']}"),
        ("CDRs sent / acknowledged", f"{ext['cdrs']['sent']} / {ext['cdrs']['acknowledged']}"),
        ("reconciliation", ", ".join(f"{k} {v}" for k, v in ext["reconciliation"].items())),
        ("failed OCPI calls", str(ext["failed_calls"])),
    ]  # fmt: skip
