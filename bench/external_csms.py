"""Stations against an external CSMS (hardware in the loop, the CSMS side is real).

A scenario (or `emsp-bench run --csms-url URL`) may point its virtual stations at a CSMS the bench
does not run. The demand model still drives the stations; what the run grades is only what it can
observe on the wire: per OCPP action, what the CSMS answered (BootNotification Accepted / Pending /
Rejected, Authorize and transaction id-token statuses, CALLERRORs, calls left unanswered), and which
stations it let in.

The eMSP and the mock CPOs are not part of such a run, so nothing about them is graded. Choice
(documented in the README): an expectation naming an eMSP-side figure (CDRs, invoices, revenue,
reconciliation, partners) is refused when the scenario is loaded (exit 2), never reported as a
failure. The summary of such a run holds `mode: external_csms`, the station-side figures
(`sessions`, `authorizations` as the CSMS answered them, `energy_kwh.truth`, `messages`) and
`external_csms.*`.

This module is sans-IO: the grader takes frames and instants, the runtime (runtime/external_run.py)
owns the sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from statistics import quantiles
from typing import Any
from urllib.parse import urlsplit

import ocpp

from bench.scenario import OcppVersionName, Scenario, ScenarioError, StationSpec

# What the virtual stations send of their own accord (simulators/station), per OCPP version.
STATION_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "1.6": ("Authorize", "BootNotification", "Heartbeat", "MeterValues", "StartTransaction",
            "StatusNotification", "StopTransaction"),
    "2.0.1": ("Authorize", "BootNotification", "Heartbeat", "StatusNotification", "TransactionEvent"),
}  # fmt: skip
ANSWERED = "answered"  # a CALLRESULT carrying no status of its own (Heartbeat, MeterValues...)
CALLERROR = "CALLERROR"
UNANSWERED = "unanswered"  # still waiting when the run ended (or its connection dropped)
ACCEPTED = frozenset({"Accepted", ANSWERED})
NOT_REFUSED = ACCEPTED | {"Pending", UNANSWERED}  # Pending: a boot to retry; unanswered: not a no
# Summary roots that describe the eMSP side: not observable against an external CSMS.
EMSP_ROOTS = ("reconciliation", "revenue", "partners", "cdrs", "invoices", "hubs", "energy_kwh.cdr",
              "energy_kwh.invoiced")  # fmt: skip


def _schema_dir(version: str) -> Path:
    return Path(ocpp.__file__).parent / ("v16" if version == "1.6" else "v201") / "schemas"


@cache
def response_outcomes(version: str, action: str) -> tuple[str, ...]:
    """The statuses a CSMS may answer `action` with, read from the `ocpp` package's response schema
    (top-level `status`, or the id tag's / id token's status); () when the answer has none."""
    path = _schema_dir(version) / f"{action}Response.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    definitions = schema.get("definitions", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        return resolve(definitions[ref.rsplit("/", 1)[1]]) if isinstance(ref, str) else node

    props = schema.get("properties", {})
    for outer in ("status", "idTagInfo", "idTokenInfo"):
        if outer not in props:
            continue
        node = resolve(props[outer])
        if outer != "status":
            node = resolve(node.get("properties", {}).get("status", {}))
        return tuple(node.get("enum", ()))
    return ()


def outcome_of(payload: Any) -> str:
    """What a CALLRESULT says: its status, or its id tag's / id token's status, or `answered`."""
    if isinstance(payload, dict):
        status = payload.get("status")
        if isinstance(status, str):
            return status
        for key in ("idTagInfo", "idTokenInfo"):
            info = payload.get(key)
            if isinstance(info, dict) and isinstance(info.get("status"), str):
                return str(info["status"])
    return ANSWERED


def outcome_keys(versions: Iterable[str], action: str) -> list[str]:
    keys: list[str] = []
    for version in sorted(set(versions)):
        if action in STATION_ACTIONS[version]:
            keys += [o for o in response_outcomes(version, action) if o not in keys]
    return [*(keys or [ANSWERED]), CALLERROR, UNANSWERED]


@dataclass
class _Pending:
    action: str
    sent: datetime


@dataclass
class WireGrader:
    """Reads the frames between the stations and the external CSMS, both ways, and counts what the
    CSMS answered per action (station -> CSMS) and what it asked of the stations (CSMS -> station)."""

    versions: Mapping[str, str]  # station id -> OCPP version
    by_action: dict[str, dict[str, int]] = field(default_factory=dict)
    csms_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    authorize_ms: list[Decimal] = field(default_factory=list)
    malformed: int = 0
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)  # (station, id) -> call
    _asked: dict[tuple[str, str], str] = field(default_factory=dict)  # CSMS-initiated, by (station, id)

    def __post_init__(self) -> None:
        for action in sorted({a for v in set(self.versions.values()) for a in STATION_ACTIONS[v]}):
            self.by_action[action] = dict.fromkeys(outcome_keys(self.versions.values(), action), 0)

    def sent(self, station_id: str, frame: str, at: datetime) -> None:
        """A frame the station sent to the CSMS."""
        message = self._parse(frame)
        if message is None:
            return
        if message[0] == 2 and len(message) >= 3:
            self._pending[(station_id, str(message[1]))] = _Pending(str(message[2]), at)
        elif message[0] in (3, 4):  # our answer to a CSMS-initiated call
            action = self._asked.pop((station_id, str(message[1])), None)
            if action is not None:
                outcome = outcome_of(message[2]) if message[0] == 3 else CALLERROR
                counts = self.csms_calls.setdefault(action, {})
                counts[outcome] = counts.get(outcome, 0) + 1

    def received(self, station_id: str, frame: str, at: datetime) -> None:
        """A frame the CSMS sent to the station."""
        message = self._parse(frame)
        if message is None:
            return
        if message[0] == 2 and len(message) >= 3:
            self._asked[(station_id, str(message[1]))] = str(message[2])
            return
        call = self._pending.pop((station_id, str(message[1])), None)
        if call is None or message[0] not in (3, 4):
            return
        outcome = outcome_of(message[2]) if message[0] == 3 else CALLERROR
        self._count(call.action, outcome)
        if call.action == "Authorize":
            ms = Decimal((at - call.sent).total_seconds() * 1000).quantize(Decimal("0.001"))
            self.authorize_ms.append(ms)

    def connection_lost(self, station_id: str) -> None:
        """Calls in flight on a dropped connection are never answered."""
        for key in [k for k in self._pending if k[0] == station_id]:
            self._count(self._pending.pop(key).action, UNANSWERED)
        for key in [k for k in self._asked if k[0] == station_id]:
            del self._asked[key]

    def finish(self) -> None:
        for station_id in sorted({k[0] for k in self._pending}):
            self.connection_lost(station_id)

    def _count(self, action: str, outcome: str) -> None:
        counts = self.by_action.setdefault(action, {})
        counts[outcome] = counts.get(outcome, 0) + 1

    def _parse(self, frame: str) -> list[Any] | None:
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, list) or len(message) < 3 or message[0] not in (2, 3, 4):
            self.malformed += 1
            return None
        return message

    def totals(self) -> dict[str, int]:
        flat = [(o, n) for counts in self.by_action.values() for o, n in counts.items()]
        return {
            "calls": sum(n for _, n in flat),
            "accepted": sum(n for o, n in flat if o in ACCEPTED),
            "refused": sum(n for o, n in flat if o not in NOT_REFUSED and o != CALLERROR),
            "pending": sum(n for o, n in flat if o == "Pending"),
            "callerrors": sum(n for o, n in flat if o == CALLERROR),
            "unanswered": sum(n for o, n in flat if o == UNANSWERED),
        }


@dataclass(frozen=True, slots=True)
class StationOutcome:
    """How a station fared at the CSMS's door: its connections and the handshakes it refused."""

    url: str
    connections: int = 0
    refusals: int = 0  # handshakes the CSMS answered with an HTTP error (a wrong password, say)
    failures: int = 0  # connections that could not be made at all (refused port, TLS, timeout)
    last_error: str = ""


def station_urls(scenario: Scenario, override: str | None) -> dict[str, str]:
    """Per station, the external CSMS URL it connects to (`<url>/<station id>`); {} when none."""
    urls: dict[str, str] = {}
    for cpo in scenario.cpos:
        for location in cpo.locations:
            for station in location.stations:
                base = override or station.csms_url or cpo.csms_url
                if base:
                    urls[station.id] = f"{base.rstrip('/')}/{station.id}"
    return urls


CREDENTIALS = ("password", "ca_file", "client_cert", "client_key")


def _stations(scenario: Scenario) -> list[tuple[str, StationSpec]]:
    return [
        (f"cpos[{ci}].locations[{li}].stations[{si}]", station)
        for ci, cpo in enumerate(scenario.cpos)
        for li, location in enumerate(cpo.locations)
        for si, station in enumerate(location.stations)
    ]


def _check_credentials(
    scenario: Scenario, scenario_file: str, urls: Mapping[str, str], base_dir: Path | None
) -> None:
    for where, station in _stations(scenario):
        given = [name for name in CREDENTIALS if getattr(station, name) is not None]
        if station.id not in urls:
            if given:
                raise ScenarioError(
                    scenario_file, f"{where}.{given[0]}",
                    "credentials are for a station against an external CSMS (csms_url); the mock CSMS "
                    "makes its own at run time",
                )  # fmt: skip
            continue
        profile, url = station.security_profile, urls[station.id]
        need: list[str] = []
        if profile in (1, 2):
            need.append("password")
        if profile == 3:
            need += ["client_cert", "client_key"]
        for name in need:
            if getattr(station, name) is None:
                raise ScenarioError(scenario_file, f"{where}.{name}", f"security profile {profile} needs it")
        if (profile or 0) >= 2 and not url.startswith("wss://"):
            raise ScenarioError(
                scenario_file, f"{where}.security_profile", f"profile {profile} needs a wss:// URL"
            )
        if profile == 1 and not url.startswith("ws://"):
            raise ScenarioError(scenario_file, f"{where}.security_profile", "profile 1 is plain ws://")
        for name in ("ca_file", "client_cert", "client_key"):
            rel = getattr(station, name)
            if rel is not None and base_dir is not None and not (base_dir / rel).is_file():
                raise ScenarioError(scenario_file, f"{where}.{name}", f"no such file {rel!r}")


def check_external(
    scenario: Scenario,
    scenario_file: str,
    *,
    runtime: str,
    speed: float,
    override: str | None,
    base_dir: Path | None = None,
) -> dict[str, str]:
    """Validate an external-CSMS run before anything starts (exit 2); returns the station URLs."""
    if override is not None:
        _check_url(override, scenario_file, "--csms-url")
    for index, cpo in enumerate(scenario.cpos):
        if cpo.csms_url:
            _check_url(cpo.csms_url, scenario_file, f"cpos[{index}].csms_url")
        for li, location in enumerate(cpo.locations):
            for si, station in enumerate(location.stations):
                if station.csms_url:
                    where = f"cpos[{index}].locations[{li}].stations[{si}].csms_url"
                    _check_url(station.csms_url, scenario_file, where)
    urls = station_urls(scenario, override)
    _check_credentials(scenario, scenario_file, urls, base_dir)
    if not urls:
        return urls
    where = "--csms-url" if override else "csms_url"
    if runtime != "live":
        raise ScenarioError(
            scenario_file, where, "an external CSMS needs real sockets: run it with --runtime live"
        )
    if speed != 1:
        raise ScenarioError(
            scenario_file,
            "--speed",
            "an external CSMS runs on the wall clock: the run must go at real time "
            f"(--speed 1), not {speed:g}",
        )
    missing = [sid for sid in scenario.station_ids() if sid not in urls]
    if missing:
        raise ScenarioError(
            scenario_file,
            where,
            f"every station of an external-CSMS run needs a csms_url (the bench runs no mock CSMS "
            f"beside it); without one: {', '.join(missing)}",
        )
    if scenario.hubs:
        raise ScenarioError(scenario_file, "hubs", "no hub takes part in an external-CSMS run")
    if scenario.events:
        raise ScenarioError(
            scenario_file, "events", "timeline events are not applied in an external-CSMS run yet"
        )
    for index, exp in enumerate(scenario.expectations):
        for what, path in (("metric", exp.metric), ("value", exp.value)):
            if isinstance(path, str) and _emsp_side(path):
                raise ScenarioError(
                    scenario_file,
                    f"expectations[{index}].{what}",
                    f"{path!r} is an eMSP-side figure: not observable when the stations run against an "
                    "external CSMS (no eMSP takes part); grade external_csms.*, sessions.*, "
                    "authorizations.*, energy_kwh.truth or messages.* instead",
                )
    return urls


def _emsp_side(path: str) -> bool:
    return any(path == root or path.startswith(root + ".") for root in EMSP_ROOTS)


def _check_url(url: str, scenario_file: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ScenarioError(scenario_file, where, f"{url!r} is not a ws:// or wss:// URL")


def external_summary(
    scenario: Scenario,
    grader: WireGrader,
    stations: Mapping[str, StationOutcome],
    truths: Iterable[Any],
    messages: Mapping[str, int],
    unserved: int,
    started_at: datetime,
    ended_at: datetime,
) -> dict[str, Any]:
    """The summary of an external-CSMS run: station-side figures and what the CSMS answered."""
    truths = list(truths)
    started = [t for t in truths if t.started_at is not None]
    completed = [t for t in started if t.unplugged_at is not None]
    auth = grader.by_action.get("Authorize", {})
    latencies = sorted(grader.authorize_ms)
    cuts = quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    energy = sum((Decimal(t.energy_wh) for t in started), Decimal(0)) / 1000
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "runtime": "live",
        "mode": "external_csms",
        "started_at": started_at.isoformat().replace("+00:00", "Z"),
        "ended_at": ended_at.isoformat().replace("+00:00", "Z"),
        "sessions": {"started": len(started), "completed": len(completed), "unserved_arrivals": unserved},
        "authorizations": {
            "accepted": auth.get("Accepted", 0),
            "rejected": sum(n for o, n in auth.items() if o not in NOT_REFUSED and o != CALLERROR),
            "latency_ms": {
                p: str(cuts[i - 1]) if cuts else "0" for p, i in (("p50", 50), ("p95", 95), ("p99", 99))
            },
        },
        "energy_kwh": {"truth": str(energy.quantize(Decimal("0.001")))},
        "messages": dict(sorted(messages.items())),
        "external_csms": {
            "stations": {
                "configured": len(stations),
                "connected": sum(1 for s in stations.values() if s.connections),
                "refused": sum(1 for s in stations.values() if not s.connections and s.refusals),
                "unreachable": sum(1 for s in stations.values() if not s.connections and not s.refusals),
            },
            **grader.totals(),
            "malformed_frames": grader.malformed,
            "by_action": grader.by_action,
            "csms_calls": {a: dict(sorted(c.items())) for a, c in sorted(grader.csms_calls.items())},
            "by_station": {
                sid: {
                    "url": s.url,
                    "connections": s.connections,
                    "refusals": s.refusals,
                    "failures": s.failures,
                    "last_error": s.last_error,
                }
                for sid, s in sorted(stations.items())
            },
        },
    }


def station_versions(scenario: Scenario) -> dict[str, OcppVersionName]:
    out: dict[str, OcppVersionName] = {}
    for cpo in scenario.cpos:
        for location in cpo.locations:
            for station in location.stations:
                out[station.id] = station.ocpp
    return out


__all__ = [
    "STATION_ACTIONS",
    "StationOutcome",
    "WireGrader",
    "check_external",
    "external_summary",
    "outcome_of",
    "response_outcomes",
    "station_urls",
    "station_versions",
]


def external_lines(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The console lines of an external-CSMS run's outcome."""
    ext = summary["external_csms"]
    st = ext["stations"]
    rows = [
        ("stations connected / refused / unreachable",
         f"{st['connected']} / {st['refused']} / {st['unreachable']} (of {st['configured']})"),
        ("calls accepted / refused / pending", f"{ext['accepted']} / {ext['refused']} / {ext['pending']}"),
        ("CALLERRORs / unanswered", f"{ext['callerrors']} / {ext['unanswered']}"),
        ("sessions started / completed",
         f"{summary['sessions']['started']} / {summary['sessions']['completed']}"),
    ]  # fmt: skip
    for action, counts in ext["by_action"].items():
        seen = ", ".join(f"{o} {n}" for o, n in counts.items() if n)
        if seen:
            rows.append((action, seen))
    for action, counts in ext["csms_calls"].items():
        rows.append((f"{action} (asked by the CSMS)", ", ".join(f"{o} {n}" for o, n in counts.items())))
    return rows
