"""Hand-written run records shared by the reports tests (what the runner would write)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HOSTILE_UID = "<script>alert('x')</script>"

SESSION_FIELDS = [
    "session_key", "cpo", "station_id", "connector_id", "token_uid", "transaction_id", "session_id",
    "cdr_id", "plugged_at", "started_at", "ended_at", "truth_energy_kwh", "cdr_energy_kwh",
    "invoiced_energy_kwh", "truth_cost", "cdr_cost", "invoiced_cost", "currency", "class", "detail",
]  # fmt: skip
# make_run fixture: (name="run", *, summary=..., sessions=..., authorizations=..., trace=...) -> run dir;
# None for a records argument leaves that file out.
RunFactory = Callable[..., Path]

AUTHORIZATION_FIELDS = ["at", "partner", "token_uid", "result", "latency_ms"]


def session_row(**overrides: str) -> dict[str, str]:
    row = dict.fromkeys(SESSION_FIELDS, "")
    row.update(overrides)
    return row


SESSIONS: list[dict[str, str]] = [
    session_row(
        session_key="k1", cpo="CPO-A", station_id="ST-1", connector_id="1", token_uid="TOK1",
        transaction_id="11", session_id="S1", cdr_id="C1",
        plugged_at="2024-06-01T08:00:00Z", started_at="2024-06-01T08:01:00Z", ended_at="2024-06-01T09:00:00Z",
        truth_energy_kwh="10.1", cdr_energy_kwh="10.1", invoiced_energy_kwh="10.1",
        truth_cost="4.5450", cdr_cost="4.5450", invoiced_cost="4.5450", currency="EUR",
        **{"class": "matched"},
    ),
    session_row(
        session_key="k2", cpo="CPO-A", station_id="ST-2", connector_id="2", token_uid="TOK2",
        transaction_id="12", session_id="S2", cdr_id="C2",
        plugged_at="2024-06-01T08:10:00Z", started_at="2024-06-01T08:11:00Z", ended_at="2024-06-01T08:40:00Z",
        truth_energy_kwh="7.5", cdr_energy_kwh="7.0", invoiced_energy_kwh="7.0",
        truth_cost="3.3750", cdr_cost="3.1500", invoiced_cost="3.1500", currency="EUR",
        detail="cdr 0.5 kWh short", **{"class": "energy_mismatch"},
    ),
    session_row(
        session_key="k3", cpo="CPO-B", station_id="ST-3", connector_id="1", token_uid="TOK3",
        transaction_id="13", session_id="S3",
        plugged_at="2024-06-01T08:20:00Z", started_at="2024-06-01T08:20:30Z", ended_at="2024-06-01T08:50:00Z",
        truth_energy_kwh="3.3", truth_cost="1.3200", currency="EUR", **{"class": "missing_cdr"},
    ),
    session_row(
        session_key="k4", cpo="CPO-B", station_id="ST-4", connector_id="1", token_uid="TOK4",
        transaction_id="14", session_id="S4", cdr_id="C4",
        plugged_at="2024-06-01T08:30:00Z", started_at="2024-06-01T08:31:00Z",
        truth_energy_kwh="0.1", cdr_energy_kwh="0.2", invoiced_energy_kwh="0.2",
        truth_cost="0.0400", cdr_cost="0.0800", invoiced_cost="0.0800", currency="EUR",
        detail="still charging at end", **{"class": "matched"},
    ),
    session_row(
        session_key="k5", cpo="CPO-A", station_id="ST-1", connector_id="2", token_uid=HOSTILE_UID,
        plugged_at="2024-06-01T08:45:00Z", detail="<b>refused</b> & logged", **{"class": "auth_mismatch"},
    ),
]  # fmt: skip


def _auth(at: str, partner: str, token_uid: str, result: str, latency_ms: str) -> dict[str, str]:
    return dict(zip(AUTHORIZATION_FIELDS, (at, partner, token_uid, result, latency_ms), strict=True))


AUTHORIZATIONS: list[dict[str, str]] = [
    _auth("2024-06-01T08:00:30Z", "CPO-A", "TOK1", "ALLOWED", "12.5"),
    _auth("2024-06-01T08:10:30Z", "CPO-A", "TOK2", "ALLOWED", "20"),
    _auth("2024-06-01T08:20:10Z", "CPO-B", "TOK3", "ALLOWED", "8"),
    _auth("2024-06-01T08:30:10Z", "CPO-B", "TOK4", "ALLOWED", "95"),
    _auth("2024-06-01T08:45:10Z", "CPO-A", HOSTILE_UID, "NOT_ALLOWED", "30"),
]


def _ocpp(t: str, src: str, dst: str, frame: str) -> dict[str, Any]:
    return {"t": t, "proto": "ocpp1.6", "src": src, "dst": dst, "frame": frame}


TRACE: list[dict[str, Any]] = [
    _ocpp("2024-06-01T08:00:00Z", "ST-1", "csms-a", '[2,"1","Heartbeat",{}]'),
    _ocpp("2024-06-01T08:00:01Z", "csms-a", "ST-1", '[3,"1",{}]'),
    _ocpp("2024-06-01T08:00:02Z", "ST-1", "csms-a", '[2,"2","Heartbeat",{}]'),
    {
        "t": "2024-06-01T08:00:03Z", "proto": "ocpi2.2.1", "src": "cpo-a", "dst": "emsp", "kind": "request",
        "method": "PUT", "url": "/ocpi/2.2.1/sessions/NL/A/S1", "headers": {}, "body": {},
    },
]  # fmt: skip


def make_summary(**overrides: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "scenario": "smoke",
        "seed": 7,
        "runtime": "sim",
        "started_at": "2024-06-01T08:00:00Z",
        "ended_at": "2024-06-01T09:00:00Z",
        "sessions": {"started": 4, "completed": 3},
        "authorizations": {"accepted": 4, "rejected": 1, "latency_ms": {"p50": 20, "p95": 80.2, "p99": 92.2}},
        "energy_kwh": {"truth": "21.0", "cdr": "17.3", "invoiced": "17.3"},
        "revenue": {"EUR": "7.7750"},
        "reconciliation": {
            "matched": 2,
            "missing_cdr": 1,
            "duplicate_cdr": 0,
            "orphan_cdr": 0,
            "energy_mismatch": 1,
            "price_mismatch": 0,
            "auth_mismatch": 1,
        },
        "messages": {"ocpp1.6": 3, "ocpp2.0.1": 0, "ocpi2.2.1": 1},
        "performance": {
            "wall_seconds": 0.5,
            "sim_seconds_per_wall_second": 7200.0,
            "messages_per_wall_second": 8,
        },
        "expectations": [
            {"name": "all sessions matched", "metric": "reconciliation.matched", "op": "==",
             "expected": "4", "actual": "2", "passed": False},
            {"name": "p95 latency", "metric": "authorizations.latency_ms.p95", "op": "<=",
             "expected": "100", "actual": "80.2", "passed": True},
        ],
    }  # fmt: skip
    summary.update(overrides)
    return summary


def write_csv(path: Path, fields: Sequence[str], rows: Sequence[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)
