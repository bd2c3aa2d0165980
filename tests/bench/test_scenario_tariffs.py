"""Tariff files are checked at scenario load with the eMSP's rules, per OCPI version (exit 2, not a
crash mid-build nor every CDR refused and blamed on the eMSP)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bench.cli import app
from bench.scenario import ScenarioError, load_scenario

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"
STANDARD: dict[str, Any] = json.loads((SMOKE.parent / "tariffs" / "standard.json").read_text())


def _comp(**change: Any) -> dict[str, Any]:
    return {"type": "ENERGY", "price": 0.35, "vat": 19.0, "step_size": 1} | change


def _scenario(tmp_path: Path, tariff: Any, version: str, *, as_change: bool = False) -> Path:
    data = yaml.safe_load(SMOKE.read_text())
    data["cpos"][0]["ocpi_version"] = version
    (tmp_path / "good.json").write_text(json.dumps(STANDARD))
    (tmp_path / "t.json").write_text(tariff if isinstance(tariff, str) else json.dumps(tariff))
    if as_change:
        data["cpos"][0]["tariffs"] = {"STD": "good.json"}
        at = "2026-03-02T07:30:00+00:00"
        data["events"] = [
            {"type": "tariff_change", "at": at, "cpo": "cpo-a", "tariff": "STD", "file": "t.json"}
        ]
    else:
        data["cpos"][0]["tariffs"] = {"STD": "t.json"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BAD: list[tuple[str, Any, str]] = [
    ("incomplete", {"id": "X"}, "currency: is required"),
    ("no elements", STANDARD | {"elements": []}, "elements: must be a non-empty list"),
    ("bad currency", STANDARD | {"currency": "EURO"}, "currency: must be an ISO 4217 code"),
    (
        "string price",
        STANDARD | {"elements": [{"price_components": [_comp(price="abc")]}]},
        "elements[0].price_components[0].price: must be a number",
    ),
    (
        "negative price",
        STANDARD | {"elements": [{"price_components": [_comp(), _comp(type="TIME", price=-1)]}]},
        "elements[0].price_components[1].price: must not be negative",
    ),
    (
        "negative min_price",
        STANDARD | {"min_price": {"excl_vat": -1}},
        "must not be negative",  # 2.3.0: its own schema says so first,
    ),
    ("not JSON", "{bad", "t.json is not valid JSON"),
    ("a list", [1, 2], "t.json must hold one OCPI Tariff object"),
]
VERSIONS = ["2.1.1", "2.2.1", "2.3.0"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("case", "tariff", "reason"), BAD, ids=[row[0] for row in BAD])
@pytest.mark.parametrize("as_change", [False, True], ids=["cpo", "tariff_change"])
def test_invalid_tariff_file_is_invalid_input(
    tmp_path: Path, case: str, tariff: Any, reason: str, version: str, as_change: bool
) -> None:
    if case == "negative min_price" and version == "2.1.1":
        pytest.skip("2.1.1 has no min_price: the key is dropped on the wire")
    path = _scenario(tmp_path, tariff, version, as_change=as_change)
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert err.value.file == str(path)
    assert err.value.field == ("events[0].file" if as_change else "cpos[0].tariffs.STD")
    assert reason in err.value.reason and "t.json" in err.value.reason


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("as_change", [False, True], ids=["cpo", "tariff_change"])
def test_valid_tariff_loads_in_every_version(tmp_path: Path, version: str, as_change: bool) -> None:
    # A tariff_change file may omit the identity fields: the CPO fills them in when it publishes.
    bare = {k: v for k, v in STANDARD.items() if k not in {"id", "country_code", "party_id", "last_updated"}}
    scenario, _ = load_scenario(str(_scenario(tmp_path, bare, version, as_change=as_change)))
    assert scenario.cpos[0].ocpi_version == version


def test_run_with_invalid_tariff_exits_2_and_leaves_the_run_directory(tmp_path: Path) -> None:
    path = _scenario(tmp_path, STANDARD | {"elements": []}, "2.2.1")
    out = tmp_path / "run"
    out.mkdir()
    (out / "junit.xml").write_text("earlier")
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "cpos[0].tariffs.STD" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml"]
    assert (out / "junit.xml").read_text() == "earlier"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("policy", ["split_periods", {"STD": "split_periods"}, "price_at_start"])
def test_a_split_periods_change_needs_periods_that_name_their_tariff(
    tmp_path: Path, version: str, policy: Any
) -> None:
    """2.1.1 charging periods name no tariff: a split_periods CDR cannot tell the eMSP which periods
    the new version prices. Refused at load, as a 2.1.1 cdr_correction is, not run and graded as
    the eMSP's price_mismatch (review9 M9)."""
    path = _scenario(tmp_path, STANDARD, version, as_change=True)
    data = yaml.safe_load(path.read_text())
    data["cpos"][0]["mid_session_tariff"] = policy
    path.write_text(yaml.safe_dump(data))
    if version != "2.1.1" or policy == "price_at_start":
        assert load_scenario(str(path))[0].cpos[0].ocpi_version == version
        return
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert err.value.field == "events[0].cpo"
    assert (
        "OCPI 2.1.1 charging periods name no tariff" in err.value.reason
        and "split_periods" in err.value.reason
    )
