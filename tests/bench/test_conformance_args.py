"""`emsp-bench conformance ocpp`: an argument the bench cannot use is exit 2 naming it, before any
connection; not every case an error and exit 3 ("the cases could not run")."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench.cli import app

CSMS = ["--role", "csms", "--target", "ws://127.0.0.1:9/ocpp"]  # never reached: refused before
STATION = ["--role", "station", "--version", "1.6", "--target", "ws://127.0.0.1:0/ocpp"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([*CSMS, "--version", "1.6", "--station-id", "a/b?c"], "--station-id"),  # not URL-safe
        ([*CSMS, "--version", "1.6", "--station-id", "x" * 49], "--station-id"),
        ([*CSMS, "--version", "1.6", "--station-id", ""], "--station-id"),
        ([*CSMS, "--version", "1.6", "--token", "T" * 21], "--token"),  # 1.6 IdToken: CiString20
        ([*CSMS, "--version", "2.0.1", "--invalid-token", "T" * 37], "--invalid-token"),  # string(36)
        ([*CSMS, "--version", "2.0.1", "--token", ""], "--token"),
        ([*STATION, "--wait", "-1"], "--wait"),
        ([*STATION, "--wait", "0"], "--wait"),
        ([*STATION, "--wait", "nan"], "--wait"),
    ],
)
def test_an_argument_the_bench_cannot_use_is_exit_2_naming_it(args: list[str], named: str) -> None:
    result = CliRunner().invoke(app, ["conformance", "ocpp", *args])
    assert result.exit_code == 2, result.output
    assert f"invalid input: {named}:" in result.stderr


@pytest.mark.parametrize("station_id", ["CS-1", "a*b=c:d+e|f@g.h_i", "x" * 48])
def test_an_identifier_string_is_a_station_id(station_id: str) -> None:
    from bench.cli_conformance import STATION_ID

    assert STATION_ID.fullmatch(station_id)
