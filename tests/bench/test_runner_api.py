"""bench.runner.run_scenario called from Python (a user's own test) checks what the CLI checks: its
type hints are not enforced at run time, so a wrong runtime or seed must not run something else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.runner import run_scenario
from bench.scenario import ScenarioError


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"runtime": "bogus"}, "--runtime"),
        ({"runtime": "Live"}, "--runtime"),  # would have run the sim
        ({"seed": True}, "--seed"),  # bool is an int subclass: it went into summary.json as `true`
        ({"seed": "3"}, "--seed"),
        ({"seed": 2.0}, "--seed"),
        ({"seed": -1}, "--seed"),
        ({"out": 7}, "--out"),
        ({"speed": 5.0}, "--speed"),  # a sim run takes no pace: was silently ignored
        ({"runtime": "sim", "speed": 600}, "--speed"),
    ],
)
def test_invalid_parameters_are_invalid_input_naming_the_parameter(
    tmp_path: Path, given: dict[str, Any], field: str
) -> None:
    kwargs: dict[str, Any] = {"out": tmp_path / "run", **given}
    with pytest.raises(ScenarioError) as raised:
        run_scenario("smoke", **kwargs)
    assert raised.value.field == field
    assert repr(given[field.removeprefix("--")]) in raised.value.reason
    assert not (tmp_path / "run").exists()  # nothing written


def test_out_may_be_a_string(tmp_path: Path) -> None:
    outcome = run_scenario("smoke", out=str(tmp_path / "run"), report=False)
    assert outcome.run_dir == tmp_path / "run"
    assert (tmp_path / "run" / "summary.json").is_file()
