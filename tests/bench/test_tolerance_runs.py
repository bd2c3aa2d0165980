"""Issue 9 part 3: a partner's quirk the operator tolerates reconciles and is counted as a finding;
the same quirk from a partner not tolerated is refused, and the run fails saying why."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.runner import RunOutcome, run_scenario
from bench.scenario import BUILTIN_DIR


def _scenario(tmp_path: Path, profile: dict[str, Any], tolerate: dict[str, Any] | None) -> Path:
    data = yaml.safe_load((BUILTIN_DIR / "smoke.yaml").read_text())
    shutil.copytree(BUILTIN_DIR / "tariffs", tmp_path / "tariffs")
    (tmp_path / "quirky.yaml").write_text(yaml.safe_dump({"name": "quirky", **profile}))
    data["cpos"][0]["dialect"] = "quirky.yaml"
    if tolerate is not None:
        data["cpos"][0]["tolerate"] = tolerate
    data["expectations"].append(
        {"name": "plain token seen", "metric": "partners.cpo-a.findings.plain_token", "op": ">", "value": 0}
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(tmp_path: Path, profile: dict[str, Any], tolerate: dict[str, Any] | None) -> RunOutcome:
    return run_scenario(str(_scenario(tmp_path, profile, tolerate)), runtime="sim", out=tmp_path / "run")


PLAIN = {"authorization_header": "plain"}


def test_a_tolerated_plain_token_cpo_registers_reconciles_and_is_counted(tmp_path: Path) -> None:
    outcome = run(tmp_path, PLAIN, {"plain_token": True})
    s = outcome.summary
    assert outcome.exit_code == 0, s["expectations"]
    assert s["sessions"]["started"] > 0
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"]
    assert s["energy_kwh"]["truth"] == s["energy_kwh"]["cdr"] == s["energy_kwh"]["invoiced"]
    findings = s["partners"]["cpo-a"]["findings"]
    assert findings["plain_token"] > 0 and findings["total"] == findings["plain_token"]
    rows = (outcome.run_dir / "findings.csv").read_text().splitlines()
    assert rows[0] == "partner,kind,count,first_seen,example,what"
    assert rows[1].startswith(f"cpo-a,plain_token,{findings['plain_token']},")
    assert "Quirks observed per partner" in (outcome.run_dir / "report.html").read_text()


def test_the_same_cpo_is_refused_by_a_strict_emsp_and_the_run_fails_saying_why(tmp_path: Path) -> None:
    outcome = run(tmp_path, PLAIN, None)
    assert outcome.exit_code == 1
    failed = {e["name"]: e for e in outcome.summary["expectations"] if not e["passed"]}
    registered = failed["bench: cpo-a registered"]
    assert "credentials token not Base64 encoded" in registered["actual"]  # our HTTP 401, named
    assert outcome.summary["partners"]["cpo-a"]["findings"]["plain_token"] == 0


@pytest.mark.parametrize(
    ("profile", "tolerate", "kinds"),
    [
        ({"token_after_registration": "token_b", "url_trailing_slash": True},
         {"token_b_as_c": True, "trailing_slash": True}, ("token_b_as_c", "trailing_slash")),
        ({"timestamp_zone": "plus_offset", "total_cost_format": "number"},
         {"datetime_offset": True, "total_cost_number": True}, ("datetime_offset", "total_cost_number")),
    ],
)  # fmt: skip
def test_other_tolerated_quirks_reconcile_and_are_counted(
    tmp_path: Path, profile: dict[str, Any], tolerate: dict[str, Any], kinds: tuple[str, ...]
) -> None:
    outcome = run(tmp_path, profile, tolerate)
    s = outcome.summary
    assert s["reconciliation"]["matched"] == s["sessions"]["completed"] > 0, s["reconciliation"]
    assert s["energy_kwh"]["truth"] == s["energy_kwh"]["invoiced"]
    for kind in kinds:
        assert s["partners"]["cpo-a"]["findings"][kind] > 0, kind
