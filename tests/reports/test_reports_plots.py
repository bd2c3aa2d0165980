from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from reports_testdata import RunFactory, session_row

from reports import load_run, plots
from reports.load import RunRecords

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _draw_all(rec: RunRecords, out: Path) -> list[Path]:
    return [
        plots.plot_sessions_over_time(rec.sessions, out / "sessions.png"),
        plots.plot_authorization_latency(rec.authorizations, out / "latency.png"),
        plots.plot_latency_per_partner(rec.authorizations, out / "latency_per_partner.png"),
        plots.plot_energy(rec.sessions, out / "energy.png"),
    ]


def test_plots_are_pngs_without_version_metadata(run_dir: Path, tmp_path: Path) -> None:
    for path in _draw_all(load_run(run_dir), tmp_path / "out"):
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
        assert b"matplotlib" not in data.lower()  # no "Software: matplotlib x.y" chunk


def test_plots_are_byte_identical_across_renders(run_dir: Path, tmp_path: Path) -> None:
    rec = load_run(run_dir)
    first = [p.read_bytes() for p in _draw_all(rec, tmp_path / "a")]
    second = [p.read_bytes() for p in _draw_all(rec, tmp_path / "b")]
    assert first == second


def test_empty_data_draws_no_data_figures(make_run: RunFactory, tmp_path: Path) -> None:
    rec = load_run(make_run(sessions=None, authorizations=None, trace=None))
    for path in _draw_all(rec, tmp_path / "out"):
        assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_latency_marks_from_summary_are_used(run_dir: Path, tmp_path: Path) -> None:
    rec = load_run(run_dir)
    with_marks = plots.plot_authorization_latency(
        rec.authorizations, tmp_path / "m.png", marks={"p50": 1.0, "p95": 2.0, "p99": 3.0}
    )
    computed = plots.plot_authorization_latency(rec.authorizations, tmp_path / "c.png")
    assert with_marks.read_bytes() != computed.read_bytes()


@pytest.mark.parametrize("rows", [1, 3])
def test_sessions_without_any_end(make_run: RunFactory, tmp_path: Path, rows: int) -> None:
    sessions = [
        session_row(
            session_key=f"k{i}", cpo="C", started_at=f"2024-06-01T08:0{i}:00Z", **{"class": "matched"}
        )
        for i in range(rows)
    ]
    rec = load_run(make_run(sessions=sessions))
    assert plots.plot_sessions_over_time(rec.sessions, tmp_path / "s.png").stat().st_size > 0
    assert plots.plot_energy(rec.sessions, tmp_path / "e.png").stat().st_size > 0


def test_active_steps_ends_before_starts_at_same_instant() -> None:
    starts = pd.Series(pd.to_datetime(["2024-01-01T00:00", "2024-01-01T01:00"]))
    ends = pd.Series(pd.to_datetime(["2024-01-01T01:00", "2024-01-01T02:00"]))
    _, active = plots._active_steps(starts, ends)
    assert active.max() == 1
    assert active[-1] == 0


def test_latency_per_partner_draws_each_partner(run_dir: Path, tmp_path: Path) -> None:
    rec = load_run(run_dir)
    both = plots.plot_latency_per_partner(rec.authorizations, tmp_path / "both.png").read_bytes()
    one = rec.authorizations[rec.authorizations["partner"] == "CPO-A"]
    only_a = plots.plot_latency_per_partner(one, tmp_path / "a.png").read_bytes()
    assert both.startswith(PNG_SIGNATURE) and both != only_a
