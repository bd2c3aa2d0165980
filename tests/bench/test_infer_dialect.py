"""`emsp-bench infer-dialect`: table-driven rules on synthetic trace lines, then end to end: a run
with a known profile, its trace inferred back into that profile, and a run with the inferred one."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.infer_dialect import Line, _functional, as_profile, infer
from bench.runner import run_scenario
from bench.scenario import BUILTIN_DIR

URL = "http://emsp.local/ocpi/2.2.1"
B64 = "Token " + base64.b64encode(b"tokC-1").decode()


def req(n: int, method: str, path: str, body: Any = None, *, auth: str = B64, t: str = "2026-03-02T08:00:00Z",
        headers: dict[str, str] | None = None, proto: str = "ocpi2.2.1") -> Line:  # fmt: skip
    hdrs = {"Authorization": auth, "OCPI-from-country-code": "DE", "OCPI-from-party-id": "CPA"} | (
        headers or {}
    )
    data = {"t": t, "proto": proto, "src": "cpo-a", "dst": "emsp", "kind": "request", "method": method,
            "url": f"{URL}/{path}", "headers": hdrs, "body": body}  # fmt: skip
    return Line(n, data)


def session(status: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    return {
        "id": "S1",
        "country_code": "DE",
        "status": status,
        "last_updated": "2026-03-02T08:00:00Z",
    } | extra


def cdr(cid: str = "C1", **extra: Any) -> dict[str, Any]:
    base = {"id": cid, "session_id": "S1", "end_date_time": "2026-03-02T08:00:00Z", "total_energy": 5,
            "total_cost": {"excl_vat": 2, "incl_vat": 2.42}}  # fmt: skip
    return base | extra


SP = "sessions/DE/CPA/S1"
ENERGY_4 = {"type": "ENERGY", "volume": 4}
TOKEN_B = "Token " + base64.b64encode(b"tokB-1").decode()
CASES = [
    ("plain token", [req(1, "PUT", SP, session(), auth="Token tokC-1")],
     "authorization_header", "plain"),
    ("base64 token", [req(1, "PUT", SP, session())], "authorization_header", "base64"),
    ("token B after registration",
     [req(1, "POST", "credentials", {"token": "tokB-1"}), req(2, "PUT", SP, session(),
                                                              auth=TOKEN_B)],
     "token_after_registration", "token_b"),
    ("trailing slash", [req(1, "PUT", "sessions/DE/CPA/S1/", session())], "url_trailing_slash", True),
    ("routing headers missing", [req(1, "PUT", SP, session(), headers={})],
     "routing_headers", "sent"),
    ("offset +00:00", [req(1, "PUT", SP, session(last_updated="2026-03-02T08:00:00+00:00"))],
     "timestamp_zone", "plus_offset"),
    ("local offset", [req(1, "PUT", SP, session(last_updated="2026-03-02T09:00:00+01:00"))],
     "timestamp_zone", "local"),
    ("no designator", [req(1, "PUT", SP, session(last_updated="2026-03-02T08:00:00"))],
     "timestamp_zone", "none"),
    ("micros", [req(1, "PUT", SP, session(last_updated="2026-03-02T08:00:00.123456Z"))],
     "timestamp_fraction", "micros"),
    ("lower country", [req(1, "PUT", "sessions/de/CPA/S1", session(country_code="de"))],
     "country_code_case", "lower"),
    ("extension", [req(1, "PUT", SP, session(x_cpo_backoffice={}))], "extension_fields", True),
    ("number cost", [req(1, "POST", "cdrs", cdr(total_cost=2))], "total_cost_format", "number"),
    ("no incl_vat", [req(1, "POST", "cdrs", cdr(total_cost={"excl_vat": 2}))], "incl_vat", "omitted"),
    ("patches", [req(1, "PUT", SP, session()), req(2, "PATCH", SP, {})],
     "session_updates", "every_sample"),
    ("put only", [req(i, "PUT", SP, session()) for i in range(1, 5)], "session_updates", "put_only"),
    ("stale patch", [req(1, "PUT", SP, session("COMPLETED")),
                     req(2, "PATCH", SP, {"kwh": 1})], "stale_patch_after_final", True),
    ("pending", [req(1, "PUT", SP, session("PENDING"))], "session_left_pending", True),
    ("duplicate", [req(1, "POST", "cdrs", cdr()), req(2, "POST", "cdrs", cdr())], "duplicate_cdrs", 1.0),
    ("late", [req(1, "POST", "cdrs", cdr(), t="2026-03-03T08:00:00Z")], "cdr_delay_minutes", 1440),
    ("totals", [req(1, "POST", "cdrs", cdr(charging_periods=[{"dimensions": [ENERGY_4]}]))],
     "cdr_totals_mismatch", True),
    ("tariffs", [req(1, "POST", "cdrs", cdr(tariffs=[]))], "cdr_embeds_tariffs", True),
]  # fmt: skip


@pytest.mark.parametrize(("case", "lines", "knob", "value"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_its_knob_and_evidence(case: str, lines: list[Line], knob: str, value: Any) -> None:
    if case == "routing headers missing":  # the one line has them: see the next test
        lines = [req(1, "PUT", "sessions/DE/CPA/S1", session())]
    found = {e.knob: e for e in infer(lines, "cpo-a")}
    assert found[knob].value == value
    assert 1 <= found[knob].line <= len(lines) and found[knob].excerpt


def test_missing_routing_headers_are_seen() -> None:
    line = req(1, "PUT", "sessions/DE/CPA/S1", session())
    del line.data["headers"]["OCPI-from-party-id"]
    assert {e.knob: e.value for e in infer([line], "cpo-a")}["routing_headers"] == "missing"


def test_the_profile_yaml_loads_and_carries_the_evidence_as_comments() -> None:
    text = as_profile(infer(CASES[0][1], "cpo-a"), "inferred-cpo-a", "trace.jsonl")
    assert "authorization_header: plain  # line 1: Authorization: Token tokC-1" in text
    assert yaml.safe_load(text)["authorization_header"] == "plain"


KNOBS = {
    "authorization_header": "plain",
    "url_trailing_slash": True,
    "timestamp_zone": "plus_offset",
    "timestamp_fraction": "millis",
    "country_code_case": "lower",
    "total_cost_format": "number",
    "extension_fields": True,
    "session_updates": "put_only",
}
TOLERATE = {"plain_token": True, "trailing_slash": True, "datetime_offset": True, "total_cost_number": True}


def _scenario(tmp_path: Path, profile_file: str) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "smoke.yaml").read_text())
    if not (tmp_path / "tariffs").exists():
        shutil.copytree(BUILTIN_DIR / "tariffs", tmp_path / "tariffs")
    data["cpos"][0] |= {"dialect": profile_file, "tolerate": TOLERATE}
    data["duration_minutes"] = 60
    path = tmp_path / f"scenario-{Path(profile_file).stem}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_run_is_inferred_back_into_its_profile_and_the_inferred_one_runs_the_same(tmp_path: Path) -> None:
    (tmp_path / "given.yaml").write_text(yaml.safe_dump({"name": "given", **KNOBS}))
    first = run_scenario(str(_scenario(tmp_path, "given.yaml")), runtime="sim", out=tmp_path / "run1")
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(
        app, ["infer-dialect", str(first.run_dir / "trace.jsonl"), "--partner", "cpo-a",
              "--out", str(tmp_path / "inferred.yaml")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    inferred = yaml.safe_load((tmp_path / "inferred.yaml").read_text())
    for knob, value in KNOBS.items():
        assert inferred.get(knob) == value, (knob, inferred.get(knob))
    second = run_scenario(str(_scenario(tmp_path, "inferred.yaml")), runtime="sim", out=tmp_path / "run2")
    assert second.summary["partners"]["cpo-a"]["findings"] == first.summary["partners"]["cpo-a"]["findings"]
    assert first.summary["partners"]["cpo-a"]["findings"]["plain_token"] > 0
    assert second.summary["reconciliation"] == first.summary["reconciliation"]


# Knobs a trace shows (the rules of bench.infer_dialect); tariff readings and the rest do not.
OBSERVABLE = {
    "authorization_header", "token_after_registration", "url_trailing_slash", "routing_headers",
    "timestamp_zone", "timestamp_fraction", "country_code_case", "extension_fields", "total_cost_format",
    "incl_vat", "session_updates", "stale_patch_after_final", "session_left_pending", "duplicate_cdrs",
    "cdr_delay_minutes", "cdr_totals_mismatch", "cdr_embeds_tariffs", "page_cap", "pagination_link",
}  # fmt: skip
EVERYTHING = TOLERATE | {"token_b_as_c": True}
APPROXIMATE = {"duplicate_cdrs", "cdr_delay_minutes"}  # seeded shares and timings: the sign is what shows


def _personas() -> list[str]:
    from simulators.dialects.profile import profile_names

    return profile_names()


@pytest.mark.parametrize("persona", _personas())
def test_each_persona_run_is_inferred_back_into_its_observable_knobs(tmp_path: Path, persona: str) -> None:
    from bench.infer_dialect import read_trace
    from simulators.dialects.profile import load_profile

    data = yaml.safe_load((BUILTIN_DIR / "smoke.yaml").read_text())
    shutil.copytree(BUILTIN_DIR / "tariffs", tmp_path / "tariffs")
    data["cpos"][0] |= {"dialect": persona, "tolerate": EVERYTHING}
    data["duration_minutes"] = 30
    if persona == "day-late-cdrs":
        data["settle_minutes"] = 1500
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    outcome = run_scenario(str(path), runtime="sim", out=tmp_path / "run", report=False)
    inferred = {e.knob: e.value for e in infer(list(read_trace(outcome.run_dir / "trace.jsonl")), "cpo-a")}
    lines = list(read_trace(outcome.run_dir / "trace.jsonl"))
    pulls = any(
        line.data.get("src") == "emsp" and line.data.get("method") == "GET" and _functional(line)
        for line in lines
    )
    knobs = load_profile(persona).non_default()
    for knob, value in knobs.items():
        if knob not in OBSERVABLE:
            continue
        if knob in ("page_cap", "pagination_link") and not pulls:
            continue  # the eMSP pulled no Sender list from this CPO: no page to see
        if knob == "pagination_link" and not _linked(lines):
            continue  # every list fitted on one page: no Link header to see the form of
        if knob == "incl_vat" and knobs.get("total_cost_format") == "number":
            continue  # a bare number has no incl_vat to leave out
        if knob in APPROXIMATE:
            assert inferred.get(knob, 0) > 0, (persona, knob)
        else:
            assert inferred.get(knob) == value, (persona, knob, inferred.get(knob), value)


def _linked(lines: list[Any]) -> bool:
    """Whether a CPO answered a Sender list with more than one page (an X-Total-Count above the
    objects of that page): only then does a Link header, or its missing, say anything."""
    for line in lines:
        data = line.data
        if data.get("kind") != "response" or data.get("src") == "emsp":
            continue
        headers = {k.lower(): v for k, v in (data.get("headers") or {}).items()}
        total, limit = headers.get("x-total-count"), headers.get("x-limit")
        if total is not None and limit is not None and int(total) > int(limit):
            return True
    return False


@pytest.mark.parametrize(
    ("lines", "partner", "says"),
    [
        ([], None, "holds no OCPI request of a CPO"),  # an empty file
        ([{"a": 1}], None, "holds no OCPI request of a CPO"),  # JSON lines, but no trace
        ([{"a": 1}], "cpo-a", "holds no OCPI request of a CPO"),
    ],
)
def test_infer_dialect_on_a_file_without_ocpi_requests_says_so(
    tmp_path: Path, lines: list[dict[str, Any]], partner: str | None, says: str
) -> None:
    from typer.testing import CliRunner

    from bench.cli import app

    path = tmp_path / "trace.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = CliRunner().invoke(
        app, ["infer-dialect", str(path), *(["--partner", partner] if partner else [])]
    )
    assert result.exit_code == 2, result.output
    assert says in result.output and "None" not in result.output
