"""`--set path=value`: paths checked against the schema, values validated like the file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bench.overrides import OverrideError, parse_grid_set, parse_path, parse_set, split_values
from bench.scenario import BUILTIN_DIR, LinkSpec, ScenarioError, load_scenario

SMOKE = BUILTIN_DIR / "smoke.yaml"


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("demand.arrivals_per_hour", ["demand", "arrivals_per_hour"]),
        ("cpos[0].ocpi_link.latency_ms", ["cpos", 0, "ocpi_link", "latency_ms"]),
        ("cpos[1].locations[12].stations[0].ocpp", ["cpos", 1, "locations", 12, "stations", 0, "ocpp"]),
        ("seed", ["seed"]),
    ],
)
def test_paths_parse(path: str, parts: list[str | int]) -> None:
    assert parse_path(path) == parts


@pytest.mark.parametrize("path", ["", "[0].x", "demand..x", "demand.", "cpos[x]", "cpos[0]x", "a b"])
def test_malformed_paths_are_refused(path: str) -> None:
    with pytest.raises(OverrideError, match="not a path"):
        parse_path(path)


@pytest.mark.parametrize(
    ("text", "values"),
    [("50,100,200", ["50", "100", "200"]), ("{min: 1, max: 2},x", ["{min: 1, max: 2}", "x"]), ("7", ["7"])],
)
def test_grid_values_split_on_top_level_commas(text: str, values: list[str]) -> None:
    assert split_values(text) == values


def test_grid_set_refuses_repeated_and_empty_values() -> None:
    with pytest.raises(OverrideError, match="given twice"):
        parse_grid_set("seed=1,1")
    with pytest.raises(OverrideError, match="empty value"):
        parse_grid_set("seed=1,,2")
    with pytest.raises(OverrideError, match="expected path=value"):
        parse_grid_set("seed")


@pytest.mark.parametrize(
    ("spec", "read"),
    [
        ("demand.arrivals_per_hour=50", lambda s: s.demand.arrivals_per_hour == 50),
        # The file's other link fields (jitter 40) stay.
        ("cpos[0].ocpi_link.latency_ms=2000", lambda s: (s.cpos[0].ocpi_link.latency_ms, s.cpos[0].ocpi_link.jitter_ms) == (2000, 40)),  # noqa: E501
        ("demand.energy_kwh={min: 1, max: 2}", lambda s: s.demand.energy_kwh.max == Decimal(2)),
        ("cpos[0].locations[0].stations[1].ocpp=2.0.1", lambda s: s.cpos[0].locations[0].stations[1].ocpp == "2.0.1"),  # noqa: E501
        ("tags=[quick, ci]", lambda s: s.tags == ["quick", "ci"]),
    ],
)  # fmt: skip
def test_an_override_changes_exactly_its_field(spec: str, read: object) -> None:
    scenario, _ = load_scenario("smoke", [parse_set(spec)])
    assert callable(read) and read(scenario)


def test_an_override_of_a_field_the_file_leaves_out_starts_from_its_default(tmp_path: Path) -> None:
    scenario, _ = load_scenario("peak-hour", [parse_set("emsp.business_name=Acme")])
    assert scenario.emsp.business_name == "Acme" and scenario.emsp.party_id == "EMS"
    data = yaml.safe_load(SMOKE.read_text())
    del data["cpos"][0]["ocpi_link"]
    data["cpos"][0]["tariffs"]["STD"] = str(SMOKE.parent / "tariffs" / "standard.json")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    scenario, _ = load_scenario(str(tmp_path / "s.yaml"), [parse_set("cpos[0].ocpi_link.latency_ms=2000")])
    assert scenario.cpos[0].ocpi_link == LinkSpec(latency_ms=2000, jitter_ms=20)  # the default's jitter


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ("demand.arrivals_per_hr=5", "--set demand.arrivals_per_hr", "is not a field"),
        ("cpos[3].id=x", "--set cpos[3].id", "the list has 1 item(s)"),
        ("demand[0]=1", "--set demand[0]", "demand is not a list"),
        ("cpos[0].tariffs.NOPE=x.json", "--set cpos[0].tariffs.NOPE", "no such key"),
        ("demand.arrivals_per_hour=-5", "demand.arrivals_per_hour", "greater than 0 (set by --set"),
        ("demand.arrivals_per_hour=lots", "demand.arrivals_per_hour", "valid number"),
        ("cpos[0].ocpi_link.latency_ms=-1", "cpos[0].ocpi_link.latency_ms", "greater than or equal to 0"),
        # An infinite rate or latency would make the run never end (after it emptied its directory).
        ("demand.arrivals_per_hour=1e400", "demand.arrivals_per_hour", "finite number"),
        ("demand.arrivals_per_hour=.inf", "demand.arrivals_per_hour", "finite number"),
        ("cpos[0].ocpi_link.latency_ms=.inf", "cpos[0].ocpi_link.latency_ms", "finite number"),
    ],
)
def test_a_bad_override_is_invalid_input_naming_it(spec: str, field: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("smoke", [parse_set(spec)])
    assert caught.value.file.endswith("smoke.yaml")
    assert caught.value.field == field
    assert reason in caught.value.reason
