"""`emsp-bench tariff` sub-app: exit codes 0 / 1 / 2 and outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tariff_cases import FIXTURES, cdr
from typer.testing import CliRunner

from bench.cli_tariff import tariff_app
from emsp.wire import dumps

RUNNER = CliRunner()
TARIFF10 = str(FIXTURES / "t10_energy_parking_start.json")


def _cdr_file(tmp_path: Path, **totals: Any) -> str:
    # tariff_10 case: 20 kWh + 40 min parking -> 7.00 / 7.90
    data = cdr(
        "2024-01-08T08:00:00Z", [(0, {"ENERGY": 20, "TIME": 1}), (60, {"PARKING_TIME": "0.6667"})], 100
    )
    data.update(totals)
    path = tmp_path / "cdr.json"
    path.write_text(dumps(data))
    return str(path)


def test_price_agrees_exit_0(tmp_path: Path) -> None:
    path = _cdr_file(tmp_path, total_cost={"excl_vat": 7.00, "incl_vat": 7.90}, total_energy=20)
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path])
    assert result.exit_code == 0, result.output
    assert "DIFF" not in result.output


def test_price_differs_exit_1(tmp_path: Path) -> None:
    path = _cdr_file(tmp_path, total_cost={"excl_vat": 7.50, "incl_vat": 7.90})
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path])
    assert result.exit_code == 1
    assert "DIFF" in result.output


def test_price_json_output_uses_cdr_field_names(tmp_path: Path) -> None:
    path = _cdr_file(tmp_path)
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path, "--json"])
    assert result.exit_code == 0  # a partial CDR without totals has nothing to disagree with
    out = json.loads(result.output)
    assert out["total_cost"] == {"excl_vat": 7.0, "incl_vat": 7.9}
    assert out["total_parking_cost"] == {"excl_vat": 1.5, "incl_vat": 1.8}
    assert out["total_energy"] == 20 and "total_time_cost" not in out


def test_price_tz_from_cdr_location(tmp_path: Path) -> None:
    # tariff_14 #2 in Amsterdam: 1.30 only when 17:00 is read in local time
    data = cdr(
        "2024-01-08T15:35:00Z",
        [(0, {"TIME": "0.41666666666666666667"}), (25, {"TIME": "0.16666666666666666667"})],
        35,
    )
    data["cdr_location"] = {"time_zone": "Europe/Amsterdam"}
    data["total_cost"] = {"excl_vat": 1.30}
    path = tmp_path / "c.json"
    path.write_text(dumps(data))
    tariff = str(FIXTURES / "t14_step_size_switching.json")
    assert RUNNER.invoke(tariff_app, ["price", "--tariff", tariff, "--cdr", str(path)]).exit_code == 0
    assert (
        RUNNER.invoke(tariff_app, ["price", "--tariff", tariff, "--cdr", str(path), "--tz", "UTC"]).exit_code
        == 1
    )


def test_price_invalid_input_exit_2(tmp_path: Path) -> None:
    bad_cdr = tmp_path / "bad.json"
    bad_cdr.write_text(
        '{"start_date_time": "2024-01-08T08:00:00Z", "currency": "EUR", "charging_periods": []}'
    )
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", str(bad_cdr)])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "end_date_time" in result.output
    assert "Traceback" not in result.output
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"currency": "EUR", "elements": [{"price_components": [{"type": "TIME", "price": 1}]}]}'
    )
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", str(broken), "--cdr", str(bad_cdr)])
    assert result.exit_code == 2
    assert "broken.json" in result.output and "elements[0].price_components[0].step_size" in result.output
    not_json = tmp_path / "nope.json"
    not_json.write_text("{")
    assert (
        RUNNER.invoke(tariff_app, ["price", "--tariff", str(not_json), "--cdr", str(bad_cdr)]).exit_code == 2
    )
    missing = str(tmp_path / "missing.json")
    assert RUNNER.invoke(tariff_app, ["price", "--tariff", missing, "--cdr", str(bad_cdr)]).exit_code == 2


def test_quote() -> None:
    args = [
        "quote",
        "--tariff",
        str(FIXTURES / "t13_time_3_parking_5.json"),
        "--start",
        "2024-01-08T08:00:00Z",
        "--kwh",
        "20",
        "--duration",
        "192",
        "--power",
        "8",
        "--json",
    ]
    result = RUNNER.invoke(tariff_app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_cost"] == {"excl_vat": 11.25, "incl_vat": 12.75}
    args[args.index("--power") + 1] = "1"
    result = RUNNER.invoke(tariff_app, args)
    assert result.exit_code == 2 and "--power" in result.output


def test_lint_exit_codes(tmp_path: Path) -> None:
    ok = RUNNER.invoke(tariff_app, ["lint", str(FIXTURES / "t04_complex.json")])
    assert ok.exit_code == 0 and "warning" in ok.output  # no fallback for TIME/PARKING_TIME: warn only
    broken = tmp_path / "broken.json"
    broken.write_text(
        '{"currency": "EUR", "elements": [{"price_components": '
        '[{"type": "TIME", "price": 1, "step_size": -5}]}]}'
    )
    result = RUNNER.invoke(tariff_app, ["lint", str(broken)])
    assert result.exit_code == 2 and "step_size" in result.output


def _raw_cdr_file(tmp_path: Path, extra: str) -> str:
    """The tariff_10 CDR (valid charging_periods) with `extra` JSON members spliced in verbatim,
    so numbers such as 1e400 reach the CLI exactly as written."""
    text = dumps(
        cdr("2024-01-08T08:00:00Z", [(0, {"ENERGY": 20, "TIME": 1}), (60, {"PARKING_TIME": "0.6667"})], 100)
    )
    path = tmp_path / "malformed_cdr.json"
    path.write_text("{" + extra + "," + text[1:])
    return str(path)


def _one_error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('"total_energy":"abc"', "total_energy"),
        ('"total_energy":[1]', "total_energy"),
        ('"total_energy":1e400', "total_energy"),
        ('"total_energy":"NaN"', "total_energy"),
        ('"total_time":{"a":1}', "total_time"),
        ('"total_time":"-Infinity"', "total_time"),
        ('"total_parking_time":true', "total_parking_time"),
        ('"total_cost":{"excl_vat":1e400}', "total_cost.excl_vat"),
        ('"total_cost":{"excl_vat":7,"incl_vat":"x"}', "total_cost.incl_vat"),
        ('"total_cost":"1e999999999"', "total_cost"),
        ('"total_cost":[7]', "total_cost"),
        ('"total_energy_cost":{"excl_vat":1e15}', "total_energy_cost.excl_vat"),
        ('"total_fixed_cost":-1e999999999', "total_fixed_cost"),
        ('"cdr_location":{"time_zone":5}', "cdr_location.time_zone"),
        ('"cdr_location":{"time_zone":"Mars/Olympus"}', "cdr_location.time_zone"),
        ('"cdr_location":{"time_zone":""}', "cdr_location.time_zone"),
    ],
)
def test_price_malformed_cdr_exit_2_names_file_and_field(tmp_path: Path, extra: str, field: str) -> None:
    path = _raw_cdr_file(tmp_path, extra)
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert line.startswith(f"error: {path}: {field}: "), line
    assert "--tz" not in line


@pytest.mark.parametrize(
    "extra",
    [
        '"total_energy":999999999999999',  # just inside the 1e15 bound: compared, not rejected
        '"total_cost":{"excl_vat":-999999999999999.9999}',
        '"total_cost":0E+999999999',
    ],
)
def test_price_large_but_bounded_totals_just_differ(tmp_path: Path, extra: str) -> None:
    path = _raw_cdr_file(tmp_path, extra)
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path, "--decimals", "10"])
    assert result.exit_code == 1, result.output  # compared (and different), not rejected


def test_price_explicit_bad_tz_names_the_option(tmp_path: Path) -> None:
    path = _raw_cdr_file(tmp_path, '"cdr_location":{"time_zone":5}')  # --tz wins over the CDR
    for tz in ("Mars/Olympus", ""):
        result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path, "--tz", tz])
        assert result.exit_code == 2
        assert _one_error_line(result.output).startswith("error: --tz: unknown time zone"), result.output
    ok = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", path, "--tz", "Europe/Paris"])
    assert ok.exit_code == 0, ok.output


def test_price_huge_charging_period_volume_exit_2(tmp_path: Path) -> None:
    data = cdr("2024-01-08T08:00:00Z", [(0, {"ENERGY": "1e30", "TIME": 1})], 60)
    path = tmp_path / "huge.json"
    path.write_text(dumps(data))
    result = RUNNER.invoke(tariff_app, ["price", "--tariff", TARIFF10, "--cdr", str(path)])
    assert result.exit_code == 2
    assert _one_error_line(result.output).startswith(f"error: {path}: charging_periods: ")


_QUOTE_BASE = {"--start": "2024-01-08T08:00:00Z", "--kwh": "20", "--duration": "60"}


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        ({"--duration": "1e30"}, "--duration"),
        ({"--duration": "1e12"}, "--duration"),
        ({"--duration": "527041"}, "--duration"),
        ({"--duration": "1e999999999"}, "--duration"),
        ({"--duration": "Infinity"}, "--duration"),
        ({"--duration": "0"}, "--duration"),
        ({"--duration": "soon"}, "--duration"),
        ({"--start": "9999-12-31T23:59:00Z"}, "--start/--duration"),
        ({"--start": "9999-12-30T08:00:00Z"}, "--start/--duration"),  # past the last local day scanned
        ({"--start": "0001-01-01T00:00:00Z"}, "--start"),
        ({"--start": "2026-03-02T07:00:00"}, "--start"),  # no zone: ambiguous, not read as UTC
        ({"--start": "2026-03-02"}, "--start"),
        ({"--kwh": "1e30"}, "--kwh"),
        ({"--kwh": "1e999999999"}, "--kwh"),
        ({"--kwh": "NaN"}, "--kwh"),
        ({"--kwh": "-1"}, "--kwh"),
        ({"--kwh": "lots"}, "--kwh"),
        ({"--power": "fast"}, "--power"),
        ({"--power": "0"}, "--power"),
        ({"--power": "1e30"}, "--kwh/--power/--duration"),
    ],
)
def test_quote_out_of_range_exit_2_names_option(overrides: dict[str, str], option: str) -> None:
    opts = {**_QUOTE_BASE, **overrides}
    args = ["quote", "--tariff", str(FIXTURES / "t14_step_size_switching.json"), "--json"]
    for name, value in opts.items():
        args += [name, value]
    result = RUNNER.invoke(tariff_app, args)
    assert result.exit_code == 2, result.output
    assert _one_error_line(result.output).startswith(f"error: {option}: "), result.output


@pytest.mark.parametrize(
    "overrides",
    [{"--duration": "527040"}, {"--start": "9999-12-27T08:00:00Z"}, {"--start": "0001-01-03T00:00:00Z"}],
)
def test_quote_at_the_bounds_still_prices(overrides: dict[str, str]) -> None:
    opts = {**_QUOTE_BASE, **overrides}
    args = ["quote", "--tariff", str(FIXTURES / "t14_step_size_switching.json"), "--json"]
    for name, value in opts.items():
        args += [name, value]
    result = RUNNER.invoke(tariff_app, args)
    assert result.exit_code == 0, result.output
