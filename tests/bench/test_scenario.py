"""Scenario files: valid ones load, invalid ones name the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench.scenario import ScenarioError, builtin_names, load_scenario

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


def _variant(tmp_path: Path, mutate: object) -> Path:
    data = yaml.safe_load(SMOKE.read_text())
    mutate(data)  # type: ignore[operator]
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    (tmp_path / "tariffs" / "standard.json").write_text(
        (SMOKE.parent / "tariffs" / "standard.json").read_text()
    )
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_builtin_smoke_loads_by_name_and_by_path() -> None:
    assert "smoke" in builtin_names()
    by_name, base = load_scenario("smoke")
    by_path, _ = load_scenario(str(SMOKE))
    assert by_name == by_path
    # Built-ins resolve from wherever the package is installed; relative tariff paths resolve beside them.
    assert (base / "smoke.yaml").is_file() and (base / "tariffs" / "standard.json").is_file()
    stations = [s for loc in by_name.cpos[0].locations for s in loc.stations]
    assert sorted(s.ocpp for s in stations) == ["1.6", "1.6", "2.0.1", "2.0.1"]
    assert by_name.demand.drivers >= 20 and by_name.demand.unknown_tokens >= 1


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (lambda d: d.pop("cpos"), "cpos", "Field required"),
        (
            lambda d: d["cpos"][0].update(country_code="germany"),
            "cpos[0].country_code",
            "String should match",
        ),
        (
            lambda d: d["cpos"][0]["locations"][0]["stations"][0].update(ocpp="1.5"),
            "cpos[0].locations[0].stations[0].ocpp",
            "Input should be",
        ),
        (
            lambda d: d["cpos"][0]["locations"][0].update(time_zone="Mars/Olympus"),
            "cpos[0].locations[0].time_zone",
            "unknown IANA time zone",
        ),
        (lambda d: d["demand"].update(drivers=0), "demand.drivers", "greater than or equal to 1"),
        (lambda d: d["demand"]["energy_kwh"].update(min=50), "demand.energy_kwh", "greater than max"),
        (lambda d: d.update(start="2026-03-02T07:00:00"), "start", "time zone"),
        (lambda d: d.update(surprise=1), "surprise", "Extra inputs are not permitted"),
        (
            lambda d: d["cpos"][0]["tariffs"].update(STD="tariffs/nope.json"),
            "cpos[0].tariffs.STD",
            "no such file",
        ),
        (lambda d: d["cpos"][0]["locations"][0].update(tariff="OTHER"), "cpos[0]", "is not one of"),
    ],
)
def test_invalid_scenario_names_file_field_and_reason(
    tmp_path: Path, mutate: object, field: str, reason: str
) -> None:
    path = _variant(tmp_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ncpos: [\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert caught.value.field.startswith("line ")


def test_unknown_name_lists_builtins() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("no-such-scenario")
    assert "smoke" in caught.value.reason
