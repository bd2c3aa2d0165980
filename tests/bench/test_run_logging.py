"""A run logs to its own directory and then gives the caller its logging back: the pytest plugin,
a suite worker or any library caller runs scenarios in its own process, and a later log line of
theirs must not be filtered away by the configuration a finished run left behind."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import structlog
import structlog.testing

from bench.runner import run_scenario
from bench.scenario import ScenarioError


def test_a_run_restores_the_callers_structlog_configuration(tmp_path: Path) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    before = structlog.get_config()
    outcome = run_scenario("smoke", seed=1, out=tmp_path / "run", trace_mode="off", report=False)
    assert (outcome.run_dir / "log.jsonl").stat().st_size > 0  # the run's own lines went there
    assert structlog.get_config() == before
    with structlog.testing.capture_logs() as logs:
        structlog.get_logger("caller").info("after the run")
    assert [entry["event"] for entry in logs] == ["after the run"]
    structlog.reset_defaults()


def test_a_run_that_fails_validation_leaves_the_callers_logging_alone(tmp_path: Path) -> None:
    before = structlog.get_config()
    with pytest.raises(ScenarioError):
        run_scenario(str(tmp_path / "missing.yaml"), out=tmp_path / "run")
    assert structlog.get_config() == before


class _Odd:
    def __repr__(self) -> str:
        return "<odd>"


class _Own:
    def __structlog__(self) -> str:
        return "own form"


@pytest.mark.parametrize(
    "event",
    [
        {
            "event": "ocpi_request",
            "level": "info",
            "partner": "cpo-a",
            "status_code": 1000,
            "at": "2026-03-02T07:00:00Z",
        },
        {"z": [1, 2.5, None, True], "a": {"nested": 'é " \n'}, "event": "x"},
        {"event": "odd", "value": _Odd(), "own": _Own(), "nan": float("nan")},
    ],
)
def test_run_log_lines_are_the_text_structlog_json_renderer_writes(event: dict[str, object]) -> None:
    from bench.logs import render_json

    expected = structlog.processors.JSONRenderer(sort_keys=True)(None, "info", dict(event))
    assert render_json(None, "info", dict(event)) == expected


def test_run_log_lines_reach_the_file_once_it_is_flushed(tmp_path: Path) -> None:
    from bench.logs import configure_run_logging

    before = structlog.get_config()
    handle = configure_run_logging(tmp_path / "log.jsonl")
    assert handle is not None
    try:
        structlog.get_logger("t").info("one", n=1)
        structlog.get_logger("t").warning("two")
        handle.flush()
        lines = (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()
    finally:
        handle.close()
        structlog.configure(**before)
    assert lines == ['{"event": "one", "level": "info", "n": 1}', '{"event": "two", "level": "warning"}']
