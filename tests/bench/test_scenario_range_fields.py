"""A range-like field that cannot hold (min > max, a bound out of its limits, `until` before `from`)
names the exact field at fault, `demand.energy_kwh.min` rather than the range `demand.energy_kwh`
(the one a --set changed when either bound could be), and the reason without pydantic's
"Value error," prefix; the command line exits 2 naming file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.overrides import parse_set
from bench.scenario import ScenarioError, load_scenario

DEMAND_RANGES = ["soc_at_arrival", "soc_target", "ev_power_kw", "energy_kwh", "stay_minutes"]
CLONE_RANGES = ["sessions", "delay_minutes", "gap_minutes", "stay_minutes"]


def _error(name: str, *sets: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(name, [parse_set(s) for s in sets])
    assert "Value error" not in caught.value.reason
    return caught.value


RANGES = [
    *(("smoke", f"demand.{name}") for name in DEMAND_RANGES),
    *(("fraud-burst", f"demand.clones.{name}") for name in CLONE_RANGES),
]


@pytest.mark.parametrize("bound", ["min", "max"])
@pytest.mark.parametrize(("scenario", "field"), RANGES)
def test_min_above_max_names_the_bound_that_was_set(scenario: str, field: str, bound: str) -> None:
    sets = [f"{field}.min=70", f"{field}.max=50"]  # both within every limit: only their order is wrong
    error = _error(scenario, *(sets if bound == "max" else reversed(sets)))
    assert error.field == f"{field}.{bound}"
    assert error.reason.startswith("min 70 is greater than max 50 (set by --set ")


def test_min_above_max_in_the_file_names_min() -> None:
    error = _error("smoke", "demand.energy_kwh={min: 40, max: 5}")
    assert (error.field, error.reason.split(" (set by")[0]) == (
        "demand.energy_kwh.min",
        "min 40 is greater than max 5",
    )


# (scenario, the --set that breaks a bound, what the reason says): the field named is the one set.
OUT_OF_LIMITS = [
    ("smoke", "demand.stay_minutes.max=20000", "exceeds 10080 minutes"),
    ("fraud-burst", "demand.clones.sessions.max=5000", "sessions per victim"),
    ("fraud-burst", "demand.clones.gap_minutes.min=0", "at least 1 (got 0)"),
    ("fraud-burst", "demand.clones.delay_minutes.min=-1", "at least 0"),
    ("smoke", "demand.soc_target.max=120", "percentage (0-100), got 120"),
    ("smoke", "demand.soc_at_arrival.min=-5", "percentage (0-100), got -5"),
    ("peak-hour", "demand.soc_at_arrival.max=90", "exceeds soc_target.min 70"),
    ("peak-hour", "demand.soc_target.min=50", "exceeds soc_target.min 50"),
    ("cdr-storm", "events[0].until=2026-03-02T07:00:00Z", "`until` must be after `from`"),
    ("cdr-storm", "events[0].from=2026-03-02T20:00:00Z", "`until` must be after `from`"),
    # review r12: values that passed and then aborted the run (exit 3) or ran on 0 kWh (exit 0)
    ("smoke", "demand.energy_kwh.max=1e9", "exceeds 1000 kWh a visit"),  # OverflowError in a datetime
    ("smoke", "demand.energy_kwh.max=1000.1", "exceeds 1000 kWh a visit"),
    ("peak-hour", "demand.ev_models[0].share=1e308", "less than or equal to 1000000"),  # sum: infinite
    ("peak-hour", "demand.ev_models[2].share=.inf", "finite number"),
    ("peak-hour", "demand.soc_at_arrival.max=70", "equals soc_target.min 70"),  # some visits want 0
    ("peak-hour", "demand.soc_target.min=60", "equals soc_target.min 60"),
    ("peak-hour", "demand.soc_target.min=60.05", "is in the step of soc_target.min 60.05"),  # both 60.0
    # review r12: a boolean read as 1, a second result of a name masking the first
    ("smoke", "demand.drivers=true", "a boolean"),  # read as 1 driver
    ("smoke", "demand.patience_minutes=no", "a boolean"),
    ("smoke", "demand.app_start_share=on", "a boolean"),
    ("smoke", "seed=yes", "a boolean"),
    ("smoke", "cpos[0].locations[0].stations[0].connectors=true", "a boolean"),
    ("smoke", "cpos[0].ocpi_link.latency_ms=true", "a boolean"),
    ("billing-mix", "demand.retail.fleet.drivers_per_account=true", "a boolean"),
    ("cdr-storm", "events[0].late_minutes=true", "a boolean"),
    ("smoke", "expectations[1].name=every started session completed", "also the name of expectations[0]"),
    # review r13 Q4-Q6: the fraud thresholds, a dict of numbers, the bench's own result names
    ("fraud-burst", "emsp.fraud.max_authorizations_per_hour=yes", "a boolean"),
    ("fraud-burst", "emsp.fraud.max_speed_kmh=true", "a boolean"),
    ("billing-mix", "demand.contracts.pay_as_you_go=true", "a boolean"),
    ("smoke", "expectations[1].name='bench: sessions started'", "kept for the bench's own results"),
    ("smoke", "expectations[1].name='Bench: CPO1 registered'", "kept for the bench's own results"),
]


@pytest.mark.parametrize(("scenario", "set_to", "reason"), OUT_OF_LIMITS)
def test_a_bound_out_of_its_limits_names_that_bound(scenario: str, set_to: str, reason: str) -> None:
    error = _error(scenario, set_to)
    assert error.field == set_to.split("=")[0]
    assert reason in error.reason and "(set by --set " in error.reason


def test_the_command_line_exits_2_naming_file_field_and_reason() -> None:
    result = CliRunner().invoke(app, ["run", "smoke", "--set", "demand.energy_kwh.max=1", "--no-progress"])
    assert result.exit_code == 2
    assert "smoke.yaml: demand.energy_kwh.max: min 4 is greater than max 1" in result.output


@pytest.mark.parametrize(
    ("set_to", "where"),
    [  # review r12: each aborted the run with exit 3 and a traceback, after deleting its summary.json
        (
            "demand.ev_models=[{name: a, battery_kwh: 40, share: 1e308},"
            " {name: b, battery_kwh: 40, share: 1e308}]",
            "demand.ev_models[0].share: Input should be less than or equal to 1000000",
        ),
        ("demand.energy_kwh.max=1e9", "demand.energy_kwh.max: max 1E+9 exceeds 1000 kWh"),
        ("demand.energy_kwh={min: 1e20, max: 1e21}", "demand.energy_kwh.max: max 1E+21 exceeds 1000 kWh"),
    ],
)
def test_a_value_that_crashed_a_run_exits_2_leaving_the_run_directory(
    tmp_path: Path, set_to: str, where: str
) -> None:
    (tmp_path / "summary.json").write_text("SENTINEL", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", "smoke", "--set", set_to, "--out", str(tmp_path), "--no-progress", "--trace", "off"]
    )
    assert result.exit_code == 2, result.output
    assert f"smoke.yaml: {where}" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert (tmp_path / "summary.json").read_text(encoding="utf-8") == "SENTINEL"


def test_two_unnamed_expectations_of_the_same_comparison_are_refused() -> None:
    # An unnamed expectation is named `metric op value` in junit.xml and the report: the same twice.
    error = _error("smoke", "expectations=[{metric: cdrs, value: 1}, {metric: cdrs, value: 1}]")
    assert (error.field, error.reason.split(" (set by")[0]) == (
        "expectations[1].name",
        "'cdrs == 1' is also the name of expectations[0]; each result needs its own",
    )
