"""An output file that passes the up-front check but cannot be written (a read-only mount, a full
disk, /proc: root passes every os.access) is invalid input too: exit 2 naming the option, never a
traceback and exit 1 (which CI reads as a regression)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from conftest import RunFactory
from typer.testing import CliRunner

from bench.cli import app

runner = CliRunner()
TRACE_LINE = {
    "t": "2026-03-02T08:00:00Z",
    "proto": "ocpi2.2.1",
    "src": "cpo-a",
    "dst": "emsp",
    "kind": "request",
    "method": "PUT",
    "url": "http://emsp.local/ocpi/2.2.1/sessions/DE/CPA/S1",
    "headers": {"Authorization": "Token dG9rQy0x"},
    "body": {"id": "S1", "country_code": "DE", "status": "ACTIVE", "last_updated": "2026-03-02T08:00:00Z"},
}


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Writing the file named `target` fails as on a full disk; everything else writes."""
    target = Path("out") / "target"
    original = Path.write_text

    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        if self.name == target.name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", write_text)
    return target


def test_diff_html_that_cannot_be_written_exits_2_naming_it(
    make_run: RunFactory, tmp_path: Path, disk_full: Path
) -> None:
    run_a = make_run("a")
    result = runner.invoke(app, ["diff", str(run_a), str(run_a), "--html", str(tmp_path / disk_full)])
    assert result.exit_code == 2, result.output
    assert "--html: cannot be written: No space left on device" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_infer_dialect_out_that_cannot_be_written_exits_2_naming_it(tmp_path: Path, disk_full: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    with trace.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(TRACE_LINE) + "\n")
    result = runner.invoke(app, ["infer-dialect", str(trace), "--out", str(tmp_path / disk_full)])
    assert result.exit_code == 2, result.output
    assert "--out: cannot be written: No space left on device" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
