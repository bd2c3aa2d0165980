"""Run a scenario in `sim` without the HTML report (plots cost more than the run) and read its trace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import bench.runner
from bench.runner import RunOutcome, run_scenario
from reports import find_trace, iter_trace

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run_sim(monkeypatch: pytest.MonkeyPatch, scenario: str | Path, seed: int, out: Path) -> RunOutcome:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    return run_scenario(str(scenario), seed=seed, out=out)


def trace(run_dir: Path) -> list[dict[str, Any]]:
    """The run's trace, plain or gzip (a run that wrote none fails the test, never passes it empty)."""
    path = find_trace(run_dir)
    assert path is not None, f"{run_dir} holds no trace"
    return list(iter_trace(path))


def variant(tmp_path: Path, base: str, mutate: Any) -> Path:
    """A copy of a built-in beside copies of its tariffs, changed by `mutate(data)`."""
    data = yaml.safe_load((SCENARIOS / f"{base}.yaml").read_text(encoding="utf-8"))
    mutate(data)
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    for tariff in (SCENARIOS / "tariffs").glob("*.json"):
        (tmp_path / "tariffs" / tariff.name).write_text(tariff.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / f"{base}-variant.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path
