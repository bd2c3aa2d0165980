"""`--trace full|ocpi|off` and `--trace-gzip` on real runs: what each writes, what it leaves behind,
that the summary does not depend on it, and that reports read every form (or its absence)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.runner
from bench.cli import app
from bench.runner import RunOutcome, run_scenario
from reports import find_trace, iter_trace, load_run, write_report
from reports.html import render_report

SEED = 5
# One worker for the module: the runs fixture is module-scoped and costs five runs per worker.
pytestmark = pytest.mark.xdist_group("trace-modes")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunOutcome]:
    """smoke, one seed, once per trace form; the full run is the reference."""
    root = tmp_path_factory.mktemp("trace-modes")
    forms = {
        "full": ("full", False),
        "gzip": ("full", True),
        "ocpi": ("ocpi", False),
        "ocpi-gzip": ("ocpi", True),
    }
    forms["off"] = ("off", False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench.runner, "write_report", lambda run_dir: None)  # plots cost more than the run
        return {
            name: run_scenario("smoke", seed=SEED, out=root / name, trace_mode=mode, trace_gzip=packed)  # type: ignore[arg-type]
            for name, (mode, packed) in forms.items()
        }


def _files(run: RunOutcome) -> set[str]:
    return {p.name for p in run.run_dir.iterdir() if p.name.startswith("trace")}


@pytest.mark.slow
def test_summary_is_byte_identical_whatever_the_trace(runs: dict[str, RunOutcome]) -> None:
    reference = (runs["full"].run_dir / "summary.json").read_bytes()
    assert json.loads(reference)["messages"]["ocpp1.6"] > 0
    for name, run in runs.items():
        assert (run.run_dir / "summary.json").read_bytes() == reference, name


@pytest.mark.slow
def test_each_form_writes_its_one_file(runs: dict[str, RunOutcome]) -> None:
    assert _files(runs["full"]) == {"trace.jsonl"}
    assert _files(runs["gzip"]) == {"trace.jsonl.gz"}
    assert _files(runs["ocpi"]) == {"trace.jsonl"}
    assert _files(runs["off"]) == set()
    full = (runs["full"].run_dir / "trace.jsonl").read_bytes()
    assert gzip.decompress((runs["gzip"].run_dir / "trace.jsonl.gz").read_bytes()) == full
    ocpi = [
        line
        for line in full.decode().splitlines(keepends=True)
        if json.loads(line)["proto"].startswith("ocpi")
    ]
    assert 0 < len(ocpi) < len(full.splitlines())
    assert (runs["ocpi"].run_dir / "trace.jsonl").read_text(encoding="utf-8") == "".join(ocpi)
    assert gzip.decompress((runs["ocpi-gzip"].run_dir / "trace.jsonl.gz").read_bytes()).decode() == "".join(
        ocpi
    )


@pytest.mark.slow
def test_gzip_trace_is_byte_identical_per_seed(
    runs: dict[str, RunOutcome], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    again = run_scenario("smoke", seed=SEED, out=tmp_path, trace_gzip=True)
    assert (again.run_dir / "trace.jsonl.gz").read_bytes() == (
        runs["gzip"].run_dir / "trace.jsonl.gz"
    ).read_bytes()


@pytest.mark.slow
def test_reports_read_gzip_and_cope_without_a_trace(runs: dict[str, RunOutcome]) -> None:
    plain, packed = load_run(runs["full"].run_dir), load_run(runs["gzip"].run_dir)
    assert (plain.trace_file, packed.trace_file) == ("trace.jsonl", "trace.jsonl.gz")
    assert packed.trace_counts.equals(plain.trace_counts) and not plain.trace_counts.empty
    path = find_trace(runs["gzip"].run_dir)
    assert path is not None and sum(1 for _ in iter_trace(path)) == sum(
        runs["full"].summary["messages"].values()
    )
    none = load_run(runs["off"].run_dir)
    assert none.trace_file is None and none.trace_counts.empty
    assert "no wire trace" in render_report(none)
    assert "no wire trace" in write_report(runs["off"].run_dir).read_text(encoding="utf-8")
    page = render_report(load_run(runs["ocpi"].run_dir))
    assert "OCPI messages only" in page
    assert write_report(runs["gzip"].run_dir).is_file()


@pytest.mark.slow
def test_a_run_clears_the_trace_another_form_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.runner, "write_report", lambda run_dir: None)
    out = tmp_path / "run"
    out.mkdir()
    (out / "trace.jsonl").write_text("stale\n")
    (out / "trace.jsonl.gz").write_bytes(gzip.compress(b"stale\n"))
    run_scenario("smoke", seed=SEED, out=out, trace_mode="off")
    assert not (out / "trace.jsonl").exists() and not (out / "trace.jsonl.gz").exists()
    run_scenario("smoke", seed=SEED, out=out, trace_gzip=True)
    assert not (out / "trace.jsonl").exists() and (out / "trace.jsonl.gz").is_file()


cli = CliRunner()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--trace", "ocpp"], "--trace: must be one of full, ocpi, off"),
        (["--trace", "off", "--trace-gzip"], "--trace-gzip: there is no trace to compress"),
    ],
)
def test_bad_trace_options_are_invalid_input_and_touch_nothing(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    (tmp_path / "trace.jsonl").write_text("an earlier run's trace\n")
    result = cli.invoke(app, ["run", "smoke", "--out", str(tmp_path), "--no-progress", *args])
    assert result.exit_code == 2
    assert reason in result.stderr
    assert (tmp_path / "trace.jsonl").read_text() == "an earlier run's trace\n"
