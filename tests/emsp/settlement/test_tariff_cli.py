"""`emsp-bench tariff` sub-app: exit codes 0 / 1 / 2 and outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
