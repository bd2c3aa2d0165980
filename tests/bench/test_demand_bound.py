"""A demand rate that would draw more arrivals than MAX_ARRIVALS_DRAWN is invalid input (exit 2 naming
the field and the limit), not minutes of drawing arrivals that no driver can make."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.overrides import parse_set
from bench.scenario import ScenarioError, load_scenario
from bench.scenario_demand import MAX_ARRIVALS_DRAWN


@pytest.mark.parametrize(
    ("scenario", "sets", "field"),
    [
        ("smoke", ["demand.arrivals_per_hour=1e9"], "demand.arrivals_per_hour"),
        # 10 minutes at 6,000,001 an hour: one over the bound
        (
            "smoke",
            ["duration_minutes=10", f"demand.arrivals_per_hour={MAX_ARRIVALS_DRAWN * 6 + 1}"],
            "demand.arrivals_per_hour",
        ),
        ("smoke", ["demand.arrivals_per_hour=8000", "duration_minutes=10080"], "demand.arrivals_per_hour"),
        ("cdr-storm", ["demand.arrival_profile[0].per_hour=1e9"], "demand.arrival_profile"),
    ],
)
def test_a_rate_past_the_bound_is_refused_naming_field_and_limit(
    scenario: str, sets: list[str], field: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario, [parse_set(s) for s in sets])
    assert caught.value.field == field
    assert f"{MAX_ARRIVALS_DRAWN:,}" in caught.value.reason


@pytest.mark.parametrize(
    "sets",
    [
        ["duration_minutes=10", f"demand.arrivals_per_hour={MAX_ARRIVALS_DRAWN * 6}"],  # at the bound
        ["demand.arrivals_per_hour=5000", "duration_minutes=10080"],
    ],
)
def test_a_rate_within_the_bound_is_accepted(sets: list[str]) -> None:
    load_scenario("smoke", [parse_set(s) for s in sets])


def test_run_refuses_it_before_anything_runs() -> None:
    result = CliRunner().invoke(
        app, ["run", "smoke", "--no-progress", "--set", "demand.arrivals_per_hour=1e9"]
    )
    assert result.exit_code == 2, result.output
    assert "demand.arrivals_per_hour" in result.output and f"{MAX_ARRIVALS_DRAWN:,}" in result.output
