"""Out-of-range times, spans and counts are invalid input found at load (exit 2 naming the field),
never an OverflowError or an endless run after the run directory was cleared (review3 F1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.overrides import parse_set
from bench.scenario import ScenarioError, load_scenario

STATION = "cpos[0].locations[0].stations[0]"


@pytest.mark.parametrize(
    ("scenario", "sets", "field"),
    [
        ("smoke", ["start=9999-12-31T22:00:00Z"], "start"),
        ("smoke", ["start=9999-12-31T23:00:00-05:00"], "start"),  # past datetime.max in UTC
        ("smoke", ["start=0001-01-01T00:00:00+01:00"], "start"),  # before datetime.min in UTC
        ("smoke", ["start=1969-12-31T23:00:00Z"], "start"),  # before the first OCPI DateTime
        ("smoke", ["start=9998-12-31T22:00:00Z"], "start"),  # its run would end in 9999
        ("smoke", ["settle_minutes=1000000000000"], "settle_minutes"),
        ("smoke", ["settle_minutes=10081"], "settle_minutes"),
        ("smoke", [f"{STATION}.meter_interval_s=10000000000000"], f"{STATION}.meter_interval_s"),
        ("smoke", [f"{STATION}.meter_interval_s=86401"], f"{STATION}.meter_interval_s"),
        ("smoke", ["demand.drivers=1000000000000"], "demand.drivers"),
        ("smoke", ["demand.unknown_tokens=1000000000000"], "demand.unknown_tokens"),
        ("smoke", ["demand.patience_minutes=1000000000000"], "demand.patience_minutes"),
        ("smoke", ["demand.stay_minutes.max=1000000000000"], "demand.stay_minutes.max"),
        ("fraud-burst", ["demand.clones.delay_minutes.max=1e12"], "demand.clones.delay_minutes.max"),
        ("fraud-burst", ["demand.clones.gap_minutes.max=1e12"], "demand.clones.gap_minutes.max"),
        ("fraud-burst", ["demand.clones.stay_minutes.max=1e12"], "demand.clones.stay_minutes.max"),
        ("fraud-burst", ["demand.clones.sessions.max=1e12"], "demand.clones.sessions.max"),
        ("cdr-storm", ["events[0].late_minutes=1000000000000"], "events[0].late_minutes"),
        ("smoke", ["cpos[0].ocpi_link.latency_ms=10000000000000"], "cpos[0].ocpi_link.latency_ms"),
        ("smoke", ["cpos[0].ocpp_link.jitter_ms=3600001"], "cpos[0].ocpp_link.jitter_ms"),
        ("partner-latency", ["events[0].latency_ms=1e13"], "events[0].latency_ms"),
    ],
)
def test_an_out_of_range_value_is_refused_naming_its_field(
    scenario: str, sets: list[str], field: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario, [parse_set(s) for s in sets])
    assert caught.value.field == field, caught.value


@pytest.mark.parametrize(
    "sets",
    [
        ["start=1970-01-01T00:00:00Z"],
        ["start=9998-12-01T00:00:00Z", "duration_minutes=10080", "settle_minutes=10080"],
        ["settle_minutes=10080", f"{STATION}.meter_interval_s=86400", "demand.drivers=100000"],
    ],
)
def test_values_at_the_bounds_are_accepted(sets: list[str]) -> None:
    load_scenario("smoke", [parse_set(s) for s in sets])


def test_run_refuses_before_touching_an_earlier_run(tmp_path: Path) -> None:
    earlier = tmp_path / "run"
    earlier.mkdir()
    (earlier / "summary.json").write_text("{}\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", "smoke", "--no-progress", "--out", str(earlier), "--set", "start=9999-12-31T22:00:00Z"]
    )
    assert result.exit_code == 2, result.output
    assert "start" in result.output
    assert sorted(p.name for p in earlier.iterdir()) == ["summary.json"]
