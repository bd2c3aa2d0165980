from __future__ import annotations

import base64
import re
from pathlib import Path

from reports_testdata import HOSTILE_UID, SESSIONS, RunFactory, make_summary, session_row

from reports import write_report
from reports.html import PLOT_TIMELINE, PLOTS


def _report(run_dir: Path, **kwargs: int) -> str:
    path = write_report(run_dir, **kwargs)
    assert path == run_dir / "report.html"
    return path.read_text(encoding="utf-8")


def test_report_content_and_plots(run_dir: Path) -> None:
    page = _report(run_dir)
    assert "<title>emsp-bench report: smoke (seed 7, sim)</title>" in page
    assert "FAIL: 1 of 2 expectations failed" in page
    assert '<td>missing_cdr</td><td class="num">1</td>' in page
    assert '<td>matched</td><td class="num">2</td>' in page
    assert "7.7750" in page  # revenue, Decimal scale kept
    for plot in PLOTS:
        png = run_dir / plot.file
        assert png.is_file() and png.stat().st_size > 0
        if plot is not PLOT_TIMELINE:  # shown only for a run directory with scenario.json
            # Embedded: the page opens on its own, from a CI artifact, with no sibling files.
            assert f'<img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"' in page


def test_report_is_self_contained(run_dir: Path) -> None:
    page = _report(run_dir)
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_hostile_values_are_escaped(run_dir: Path) -> None:
    page = _report(run_dir)
    assert HOSTILE_UID not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;refused&lt;/b&gt; &amp; logged" in page


def test_hostile_summary_fields_are_escaped(make_run: RunFactory) -> None:
    page = _report(make_run(summary=make_summary(scenario="<img src=x onerror=alert(1)>")))
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_pass_banner_and_no_expectations(make_run: RunFactory) -> None:
    held = [{"name": "x", "metric": "m", "op": "==", "expected": "1", "actual": "1", "passed": True}]
    assert "PASS: all 1 expectations held" in _report(make_run("ok", summary=make_summary(expectations=held)))
    assert "NO EXPECTATIONS" in _report(make_run("none", summary=make_summary(expectations=[])))


def test_a_live_run_whose_only_misses_are_the_machines_stall_reads_inconclusive(make_run: RunFactory) -> None:
    def exp(name: str, passed: bool, **more: str) -> dict[str, object]:
        figures = {"metric": "m", "op": "<=", "expected": "1", "actual": "2"}
        return {"name": name, **figures, "passed": passed} | more

    stalled = exp("p99 steady", False, inconclusive="bench timing: missed by 35.5 ms")
    page = _report(make_run("unsure", summary=make_summary(expectations=[exp("ok", True), stalled])))
    assert "INCONCLUSIVE: 1 of 2 expectations" in page and "FAIL:" not in page
    assert "<td>INCONCLUSIVE</td>" in page
    both = make_summary(expectations=[stalled, exp("count", False)])
    page = _report(make_run("both", summary=both))  # another failed on its own: a failure
    assert "FAIL: 2 of 2 expectations failed" in page and "<td>INCONCLUSIVE</td>" in page


def test_empty_run_renders(make_run: RunFactory) -> None:
    summary = {"scenario": "empty", "seed": 1, "runtime": "sim"}
    run_dir = make_run(summary=summary, sessions=None, authorizations=None, trace=None)
    page = _report(run_dir)
    assert "empty" in page and "No data." in page
    assert all((run_dir / p.file).stat().st_size > 0 for p in PLOTS)


def test_session_table_is_capped(make_run: RunFactory) -> None:
    many = [session_row(session_key=f"k{i}", cpo="C", **{"class": "matched"}) for i in range(30)]
    page = _report(make_run(sessions=[*SESSIONS, *many]), max_session_rows=10)
    assert "Showing the first 10 of 35 sessions" in page
    assert "<td>k30</td>" not in page  # beyond the cap (mismatches k2/k3/k5 come first)


def test_report_is_deterministic(run_dir: Path) -> None:
    first = _report(run_dir)
    pngs = [(run_dir / p.file).read_bytes() for p in PLOTS]
    assert _report(run_dir) == first
    assert [(run_dir / p.file).read_bytes() for p in PLOTS] == pngs
