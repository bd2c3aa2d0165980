"""Small sim runs of a mock CPO with a dialect given by path: the scenario, the profile beside it.

One CPO, one two-connector station, a handful of drivers over 40 minutes: a second or two per run.
A test names the knobs it sets (everything else spec-strict) and reads the run's wire trace, summary
and world; `baseline` is the same run with no knob set, so a test can say what changed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simplejson
import yaml

from bench.runner import RunOutcome, run_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"

# ENERGY 0.35/kWh (step 1 Wh) + TIME 2.00/h (step 60 s) excl. 19% VAT: smoke's tariff.
STANDARD = json.loads((SCENARIOS / "tariffs" / "standard.json").read_text(encoding="utf-8"))


def tariff(elements: list[dict[str, Any]], tariff_id: str = "STD") -> dict[str, Any]:
    return STANDARD | {"id": tariff_id, "elements": elements}


def energy(price: float, *, step: int = 1, vat: float = 19.0, **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {
        "price_components": [{"type": "ENERGY", "price": price, "vat": vat, "step_size": step}]
    }
    if restrictions:
        element["restrictions"] = restrictions
    return element


def time_price(price: float, *, step: int = 60, vat: float = 19.0, **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {
        "price_components": [{"type": "TIME", "price": price, "vat": vat, "step_size": step}]
    }
    if restrictions:
        element["restrictions"] = restrictions
    return element


@dataclass
class KnobRun:
    outcome: RunOutcome
    trace: list[dict[str, Any]]

    @property
    def summary(self) -> dict[str, Any]:
        return self.outcome.summary

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def cpo(self) -> Any:
        return self.outcome.world.cpos["cpo-a"]

    def failed(self) -> list[str]:
        return [e.name for e in self.outcome.expectations if not e.passed]

    def requests(
        self, src: str = "cpo-a", method: str | None = None, module: str | None = None
    ) -> list[dict[str, Any]]:
        out = []
        for e in self.trace:
            if not e["proto"].startswith("ocpi") or e["kind"] != "request" or e["src"] != src:
                continue
            if method is not None and e["method"] != method:
                continue
            if module is not None and f"/{module}" not in e["url"].split("/ocpi/", 1)[-1].split("?")[0]:
                continue
            out.append(e)
        return out

    def responses(self, src: str = "emsp", module: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in self.trace
            if e["proto"].startswith("ocpi")
            and e["kind"] == "response"
            and e["src"] == src
            and (module is None or f"/{module}" in e["url"])
        ]


def scenario(
    *,
    version: str = "2.2.1",
    tariffs: dict[str, dict[str, Any]] | None = None,
    start: str = "2026-03-02T07:00:00Z",
    duration: int = 40,
    settle: int = 20,
    drivers: int = 4,
    arrivals: float = 9,
    time_zone: str = "Europe/Amsterdam",
    stay: tuple[int, int] = (15, 30),
    energy_kwh: tuple[int, int] = (2, 8),
    events: list[dict[str, Any]] | None = None,
    seed: int = 5,
    ocpp: str = "1.6",
    tolerate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    tariffs = tariffs or {"STD": STANDARD}
    data = {
        "name": "knob",
        "seed": seed,
        "start": start,
        "duration_minutes": duration,
        "settle_minutes": settle,
        "emsp": {"country_code": "NL", "party_id": "EMS"},
        "cpos": [
            {
                "id": "cpo-a",
                "country_code": "DE",
                "party_id": "CPA",
                "ocpi_version": version,
                "dialect": "./partner.yaml",
                **({"tolerate": tolerate} if tolerate else {}),
                "tariffs": {tid: f"tariff-{tid}.json" for tid in tariffs},
                "ocpp_link": {"latency_ms": 30},
                "ocpi_link": {"latency_ms": 80},
                "locations": [
                    {
                        "id": "LOC-1",
                        "time_zone": time_zone,
                        "tariff": next(iter(tariffs)),
                        "stations": [{"id": "CS-1", "ocpp": ocpp, "connectors": 2, "max_power_kw": 22}],
                    }
                ],
            }
        ],
        "demand": {
            "drivers": drivers,
            "unknown_tokens": 0,
            "arrivals_per_hour": arrivals,
            "ev_power_kw": {"min": 7.4, "max": 22},
            "energy_kwh": {"min": energy_kwh[0], "max": energy_kwh[1]},
            "stay_minutes": {"min": stay[0], "max": stay[1]},
            "patience_minutes": 10,
        },
        "events": events or [],
        "expectations": [
            {"name": "every started session completed", "metric": "sessions.completed", "op": "==",
             "value": "sessions.started"},
            {"name": "every session reconciles", "metric": "reconciliation.matched", "op": "==",
             "value": "sessions.completed"},
        ],
    }  # fmt: skip
    return data


def run(
    tmp_path: Path,
    knobs: dict[str, Any] | None = None,
    *,
    name: str = "partner",
    profile: dict[str, Any] | None = None,
    **shape: Any,
) -> KnobRun:
    """Write the profile and the scenario into `tmp_path` and run it in sim."""
    tariffs = shape.get("tariffs") or {"STD": STANDARD}
    data = scenario(**shape)
    for tid, body in tariffs.items():
        (tmp_path / f"tariff-{tid}.json").write_text(json.dumps(body), encoding="utf-8")
    if profile is None:
        profile = {"name": name, "description": "a test partner", **(knobs or {})}
        (tmp_path / "partner.yaml").write_text(yaml.safe_dump(profile), encoding="utf-8")
    else:
        data["cpos"][0]["dialect"] = profile["dialect"]
    path = tmp_path / "knob.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    out = tmp_path / "run"
    if out.exists():
        shutil.rmtree(out)
    outcome = run_scenario(str(path), runtime="sim", out=out, report=False)
    trace = [
        simplejson.loads(line, use_decimal=True) for line in (out / "trace.jsonl").read_text().splitlines()
    ]
    return KnobRun(outcome, trace)


def body(entry: dict[str, Any]) -> Any:
    return entry.get("body")
