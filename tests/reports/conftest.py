"""Synthetic run directories for the reports tests (no runner involved: records are written by hand)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from reports_testdata import (
    AUTHORIZATION_FIELDS,
    AUTHORIZATIONS,
    SESSION_FIELDS,
    SESSIONS,
    TRACE,
    RunFactory,
    make_summary,
    write_csv,
)


@pytest.fixture
def make_run(tmp_path: Path) -> RunFactory:
    """Factory: write a run directory; pass None to leave a file out."""

    def _make(
        name: str = "run",
        *,
        summary: dict[str, Any] | None = None,
        sessions: Sequence[dict[str, str]] | None = SESSIONS,
        authorizations: Sequence[dict[str, str]] | None = AUTHORIZATIONS,
        trace: Sequence[dict[str, Any]] | None = TRACE,
    ) -> Path:
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "summary.json").write_text(
            json.dumps(summary or make_summary(), indent=2), encoding="utf-8"
        )
        if sessions is not None:
            write_csv(run_dir / "reconciliation.csv", SESSION_FIELDS, sessions)
        if authorizations is not None:
            write_csv(run_dir / "authorizations.csv", AUTHORIZATION_FIELDS, authorizations)
        if trace is not None:
            lines = [json.dumps(msg) for msg in trace]
            (run_dir / "trace.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return run_dir

    return _make


@pytest.fixture
def run_dir(make_run: RunFactory) -> Path:
    return make_run()
